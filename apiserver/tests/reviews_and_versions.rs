//! Review APIs, a kind served in two versions (autoscaling/v1 and v2 HorizontalPodAutoscalers)
//! and duplicate-field reporting, through a real client against an in-process server.

use serde_json::{json, Value};

mod common;

use common::{start, TestServer};

/// Sends a request and returns the status code, the JSON body and the `Warning` headers.
async fn send(s: &TestServer, method: http::Method, path: &str, body: Vec<u8>) -> (u16, Value, Vec<String>) {
    let req = http::Request::builder()
        .method(method)
        .uri(path)
        .header("Content-Type", "application/json")
        .body(body)
        .expect("request");
    let resp = s.client.send(req.map(kube::client::Body::from)).await.expect("response");
    let code = resp.status().as_u16();
    let warnings = resp.headers().get_all("warning").iter().filter_map(|v| v.to_str().ok().map(str::to_string)).collect();
    let bytes = http_body_util::BodyExt::collect(resp.into_body()).await.expect("body").to_bytes();
    (code, serde_json::from_slice(&bytes).unwrap_or(Value::Null), warnings)
}

#[tokio::test]
async fn access_and_identity_reviews_answer_for_the_caller() {
    let s = start().await;
    let ssar = json!({"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
        "spec": {"resourceAttributes": {"verb": "create", "resource": "pods", "namespace": "default"}}});
    let (code, body, _) = send(&s, http::Method::POST, "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", ssar.to_string().into_bytes()).await;
    assert_eq!(code, 201, "{body}");
    assert_eq!(body["status"]["allowed"], true);

    let ssr = json!({"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"});
    let (code, body, _) = send(&s, http::Method::POST, "/apis/authentication.k8s.io/v1/selfsubjectreviews", ssr.to_string().into_bytes()).await;
    assert_eq!(code, 201, "{body}");
    let groups = body["status"]["userInfo"]["groups"].as_array().expect("groups");
    assert!(groups.contains(&json!("system:authenticated")), "{body}");

    // Reviews are create-only.
    let (code, _, _) = send(&s, http::Method::GET, "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", Vec::new()).await;
    assert_eq!(code, 405);
}

#[tokio::test]
async fn horizontal_pod_autoscalers_are_one_object_in_two_versions() {
    let s = start().await;
    let v1 = json!({"apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "web"},
        "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"}, "maxReplicas": 4, "targetCPUUtilizationPercentage": 65}});
    let (code, created, _) = send(&s, http::Method::POST, "/apis/autoscaling/v1/namespaces/default/horizontalpodautoscalers", v1.to_string().into_bytes()).await;
    assert_eq!(code, 201, "{created}");
    assert_eq!(created["spec"]["targetCPUUtilizationPercentage"], 65);
    assert!(created["spec"].get("metrics").is_none(), "{created}");

    let (code, v2, _) = send(&s, http::Method::GET, "/apis/autoscaling/v2/namespaces/default/horizontalpodautoscalers/web", Vec::new()).await;
    assert_eq!(code, 200);
    assert_eq!(v2["apiVersion"], "autoscaling/v2");
    assert_eq!(v2["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"], 65);
    assert_eq!(v2["spec"]["minReplicas"], 1);

    let (code, back, _) = send(&s, http::Method::GET, "/apis/autoscaling/v1/namespaces/default/horizontalpodautoscalers/web", Vec::new()).await;
    assert_eq!(code, 200);
    assert_eq!(back["apiVersion"], "autoscaling/v1");
    assert_eq!(back["spec"]["targetCPUUtilizationPercentage"], 65);
}

#[tokio::test]
async fn duplicate_fields_are_reported_like_unknown_ones() {
    let s = start().await;
    let body = |name: &str| format!(r#"{{"apiVersion":"v1","kind":"ConfigMap","metadata":{{"name":"{name}"}},"bogus":1,"data":{{"a":"1","a":"2"}}}}"#).into_bytes();
    let (code, err, _) = send(&s, http::Method::POST, "/api/v1/namespaces/default/configmaps?fieldValidation=Strict", body("strict")).await;
    assert_eq!(code, 400);
    let message = err["message"].as_str().expect("message");
    assert!(message.ends_with(r#"strict decoding error: unknown field "bogus", duplicate field "data.a""#), "{message}");

    let (code, _, warnings) = send(&s, http::Method::POST, "/api/v1/namespaces/default/configmaps?fieldValidation=Warn", body("warn")).await;
    assert_eq!(code, 201);
    let expected = r#"299 - "duplicate field \"data.a\"""#;
    assert!(warnings.iter().any(|w| w == expected), "{warnings:?}");

    let (code, _, warnings) = send(&s, http::Method::POST, "/api/v1/namespaces/default/configmaps?fieldValidation=Ignore", body("ignore")).await;
    assert_eq!(code, 201);
    assert!(warnings.is_empty(), "{warnings:?}");
}
