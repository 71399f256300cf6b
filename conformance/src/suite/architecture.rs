//! `[sig-architecture]` checks on the shape of the cluster itself.

use k8s_openapi::api::core::v1::Node;
use kube::api::{Api, ListParams};
use kube::ResourceExt;

use crate::context::TestContext;
use crate::runner::TestCase;
use crate::suite::{check, test_case};

pub(super) fn tests() -> Vec<TestCase> {
    vec![test_case!(
        "[sig-architecture] Conformance Tests should have at least two untainted nodes [Conformance]",
        two_untainted_nodes
    )]
}

/// A conformant cluster has at least two schedulable nodes without NoSchedule/NoExecute taints.
async fn two_untainted_nodes(ctx: TestContext) -> anyhow::Result<()> {
    let api: Api<Node> = ctx.cluster_api();
    let nodes = api.list(&ListParams::default()).await?;
    let usable: Vec<String> = nodes
        .items
        .iter()
        .filter(|node| {
            let spec = node.spec.as_ref();
            let unschedulable = spec.and_then(|s| s.unschedulable).unwrap_or(false);
            let blocking_taint = spec
                .and_then(|s| s.taints.as_ref())
                .is_some_and(|taints| taints.iter().any(|t| t.effect == "NoSchedule" || t.effect == "NoExecute"));
            !unschedulable && !blocking_taint
        })
        .map(ResourceExt::name_any)
        .collect();
    check!(usable.len() >= 2, "expected at least 2 untainted schedulable nodes, found {usable:?} among {} nodes", nodes.items.len());
    Ok(())
}
