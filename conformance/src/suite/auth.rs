//! `[sig-auth]` tests that need only the API server: ServiceAccount objects.

use k8s_openapi::api::certificates::v1::{CertificateSigningRequest, CertificateSigningRequestCondition, CertificateSigningRequestSpec};
use k8s_openapi::api::core::v1::ServiceAccount;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::APIResourceList;
use k8s_openapi::ByteString;
use http::{Method, StatusCode};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::ResourceExt;
use serde_json::json;

use crate::context::{random_suffix, TestContext};
use crate::suite::common::{delete_by_selector, exercise_api_operations};
use crate::runner::TestCase;
use crate::suite::{check, test_case};

pub(super) fn tests() -> Vec<TestCase> {
    vec![
        test_case!("[sig-auth] ServiceAccounts should run through the lifecycle of a ServiceAccount [Conformance]", serviceaccount_lifecycle),
        test_case!("[sig-auth] ServiceAccounts should update a ServiceAccount [Conformance]", serviceaccount_update),
        test_case!("[sig-auth] Certificates API [Privileged:ClusterAdmin] should support CSR API operations [Conformance]", csr_api),
    ]
}

/// Create, patch (automount off), find across namespaces by label, delete by collection.
async fn serviceaccount_lifecycle(ctx: TestContext) -> anyhow::Result<()> {
    let api: Api<ServiceAccount> = ctx.api();
    let name = "testserviceaccount";
    let marker = random_suffix(8);
    api.create(&PostParams::default(), &ServiceAccount { metadata: ctx.meta(name, &[("test-serviceaccount-static", "true"), ("e2e-run", &marker)]), ..ServiceAccount::default() }).await?;
    let patch = json!({"metadata": {"labels": {"test-serviceaccount": "patched"}}, "automountServiceAccountToken": false});
    api.patch(name, &PatchParams::default(), &Patch::Merge(patch)).await?;
    let fetched = api.get(name).await?;
    check!(fetched.automount_service_account_token == Some(false), "automount not patched: {:?}", fetched.automount_service_account_token);
    check!(fetched.labels().get("test-serviceaccount").map(String::as_str) == Some("patched"), "label not patched");

    let everywhere: Api<ServiceAccount> = ctx.all_namespaces_api();
    let found = everywhere.list(&ListParams::default().labels(&format!("e2e-run={marker}"))).await?;
    check!(found.items.iter().any(|s| s.name_any() == name), "service account not found across namespaces");

    api.delete_collection(&DeleteParams::default(), &ListParams::default().labels("test-serviceaccount-static=true")).await?;
    let remaining = everywhere.list(&ListParams::default().labels(&format!("e2e-run={marker}"))).await?;
    check!(remaining.items.is_empty(), "service account still listed after delete collection");
    Ok(())
}

/// A PUT and then a patch of a service account's labels are each persisted.
async fn serviceaccount_update(ctx: TestContext) -> anyhow::Result<()> {
    let api: Api<ServiceAccount> = ctx.api();
    let name = "e2e-sa";
    api.create(&PostParams::default(), &ServiceAccount { metadata: ctx.meta(name, &[]), ..ServiceAccount::default() }).await?;
    let mut current = api.get(name).await?;
    current.annotations_mut().insert("update".into(), "true".into());
    api.replace(name, &PostParams::default(), &current).await?;
    let fetched = api.get(name).await?;
    check!(fetched.annotations().get("update").map(String::as_str) == Some("true"), "update not persisted: {:?}", fetched.annotations());
    api.patch(name, &PatchParams::default(), &Patch::Merge(json!({"metadata": {"annotations": {"patched": "true"}}}))).await?;
    let fetched = api.get(name).await?;
    check!(
        fetched.annotations().get("patched").map(String::as_str) == Some("true") && fetched.annotations().contains_key("update"),
        "patch not persisted or update lost: {:?}",
        fetched.annotations()
    );
    Ok(())
}

/// A fresh PEM-encoded PKCS#10 request for `common_name`, signed by a new key.
fn certificate_request_pem(common_name: &str) -> anyhow::Result<String> {
    let key = rcgen::KeyPair::generate()?;
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new())?;
    params.distinguished_name.push(rcgen::DnType::CommonName, common_name);
    Ok(params.serialize_request(&key)?.pem()?)
}

fn has_condition(csr: &CertificateSigningRequest, kind: &str) -> bool {
    csr.status.as_ref().and_then(|s| s.conditions.as_ref()).is_some_and(|c| c.iter().any(|c| c.type_ == kind))
}

/// CSRs: discovery of the resource and its approval/status subresources, approval through
/// `/approval`, a status update through `/status`, and the API-operations sequence.
async fn csr_api(ctx: TestContext) -> anyhow::Result<()> {
    let list: APIResourceList = ctx.get_json("/apis/certificates.k8s.io/v1").await?;
    let undiscovered: Vec<&str> = ["certificatesigningrequests", "certificatesigningrequests/approval", "certificatesigningrequests/status"]
        .into_iter()
        .filter(|resource| !list.resources.iter().any(|r| r.name == *resource))
        .collect();
    let api: Api<CertificateSigningRequest> = ctx.cluster_api();
    let marker = random_suffix(8);
    let selector = format!("e2e-run={marker}");
    let csr = |name: String| -> anyhow::Result<CertificateSigningRequest> {
        Ok(CertificateSigningRequest {
            metadata: ctx.meta(&name, &[("e2e-run", &marker)]),
            spec: CertificateSigningRequestSpec {
                request: ByteString(certificate_request_pem(&format!("e2e-{marker}"))?.into_bytes()),
                signer_name: "example.com/e2e-signer".into(),
                usages: Some(vec!["digital signature".into(), "key encipherment".into(), "client auth".into()]),
                ..CertificateSigningRequestSpec::default()
            },
            status: None,
        })
    };
    let result = async {
        let name = format!("e2e-csr-{marker}-approval");
        let created = api.create(&PostParams::default(), &csr(name.clone())?).await?;
        let username = created.spec.username.clone().unwrap_or_default();

        let mut approval = api.get(&name).await?;
        approval.status.get_or_insert_with(Default::default).conditions = Some(vec![CertificateSigningRequestCondition {
            type_: "Approved".into(),
            status: "True".into(),
            reason: Some("E2E".into()),
            message: Some("Set from an e2e test".into()),
            ..CertificateSigningRequestCondition::default()
        }]);
        let response = ctx
            .raw(
                Method::PUT,
                &format!("/apis/certificates.k8s.io/v1/certificatesigningrequests/{name}/approval"),
                &[("Content-Type", "application/json"), ("Accept", "application/json")],
                Some(serde_json::to_vec(&approval)?),
            )
            .await?;
        check!(response.status == StatusCode::OK, "PUT approval: status {}: {}", response.status, response.body);
        let approved = api.get(&name).await?;
        check!(has_condition(&approved, "Approved"), "approval not persisted: {:?}", approved.status);

        let patch = json!({"status": {"conditions": [
            {"type": "Approved", "status": "True", "reason": "E2E", "message": "Set from an e2e test"},
            {"type": "Failed", "status": "True", "reason": "E2E", "message": "Set from an e2e test"}
        ]}});
        let patched = api.patch_status(&name, &PatchParams::default(), &Patch::Merge(patch)).await?;
        check!(has_condition(&patched, "Failed") && has_condition(&patched, "Approved"), "status patch not applied: {:?}", patched.status);
        api.delete(&name, &DeleteParams::default()).await?;

        let objects = (1..=3).map(|i| csr(format!("e2e-csr-{marker}-{i}"))).collect::<anyhow::Result<Vec<_>>>()?;
        exercise_api_operations(&api, objects, &selector).await?;
        anyhow::Ok(username)
    }
    .await;
    delete_by_selector(&api, &selector).await;
    // Checked last, so these gaps do not hide how the endpoints themselves behave.
    let username = result?;
    check!(!username.is_empty(), "the server did not record the requesting user in spec.username");
    check!(undiscovered.is_empty(), "certificates.k8s.io/v1 does not list {undiscovered:?}");
    Ok(())
}
