//! `[sig-cli]` tests that run the `kubectl` binary against the cluster but need no pods.

use crate::context::TestContext;
use crate::runner::TestCase;
use crate::suite::{check, test_case};

pub(super) fn tests() -> Vec<TestCase> {
    vec![
        test_case!("[sig-cli] Kubectl client Kubectl version should check is all data is printed [Conformance]", kubectl_version),
        test_case!("[sig-cli] Kubectl client Kubectl api-versions should check if v1 is in available api versions [Conformance]", kubectl_api_versions),
    ]
}

/// `kubectl version` prints both the client and the server version, the latter matching `/version`.
async fn kubectl_version(ctx: TestContext) -> anyhow::Result<()> {
    let output = ctx.kubectl(&["version"]).await?;
    check!(output.contains("Client Version: "), "no client version in:\n{output}");
    let server_line = output.lines().find(|l| l.starts_with("Server Version: "));
    let Some(server_line) = server_line else {
        anyhow::bail!("no server version in:\n{output}");
    };
    let info = ctx.client.apiserver_version().await?;
    check!(
        server_line.trim_start_matches("Server Version: ").trim() == info.git_version,
        "kubectl printed {server_line:?} but /version says {}",
        info.git_version
    );
    Ok(())
}

/// `kubectl api-versions` lists the core group version `v1`.
async fn kubectl_api_versions(ctx: TestContext) -> anyhow::Result<()> {
    let output = ctx.kubectl(&["api-versions"]).await?;
    check!(output.lines().any(|l| l.trim() == "v1"), "v1 not listed by kubectl api-versions:\n{output}");
    Ok(())
}
