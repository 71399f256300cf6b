//! `agnhost`: an offline stand-in for upstream's `registry.k8s.io/e2e-test-images/agnhost`, the
//! workhorse image of the Kubernetes e2e suite, written from its documented command-line
//! behaviour. Subcommands (same names, flags and default ports as upstream):
//!
//! * `pause` — sleeps until SIGTERM/SIGINT;
//! * `serve-hostname [--port 9376]` — HTTP: answers every request with the hostname;
//! * `netexec [--http-port 8080]` — HTTP: `/` (time), `/hostname`, `/echo?msg=`, `/clientip`,
//!   `/healthz`, `/exit?code=`, `/shell?shellCommand=` (JSON `{"output": ...}`);
//! * `liveness` — HTTP on 8080: `/healthz` is 200 for the first 10 s, then 500;
//! * `porter` — for each `SERVE_PORT_<n>=<text>` variable, answers on port n with the text;
//! * `entrypoint-tester [args...]` — prints its arguments, as the entrypoint tests expect.
//!
//! Not covered yet: `dns-*`, `webhook`, `crd-conversion-webhook`, `mounttest`, `logs-generator`,
//! `test-webserver`, UDP/SCTP modes.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Instant;

use axum::extract::{ConnectInfo, Query};
use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let command = args.get(1).map(String::as_str).unwrap_or("pause");
    let rest = &args[args.len().min(2)..];
    let result = match command {
        "pause" => {
            wait_for_signal().await;
            Ok(())
        }
        "serve-hostname" => serve(flag(rest, "port").unwrap_or(9376), Router::new().fallback(|| async { hostname() })).await,
        "netexec" => serve(flag(rest, "http-port").unwrap_or(8080), netexec()).await,
        "liveness" => {
            let started = Instant::now();
            let router = Router::new().route(
                "/healthz",
                get(move || async move {
                    let secs = started.elapsed().as_secs();
                    if secs < 10 { (StatusCode::OK, "ok".to_string()) } else { (StatusCode::INTERNAL_SERVER_ERROR, format!("error: {secs}")) }
                }),
            );
            serve(8080, router).await
        }
        "porter" => porter().await,
        "entrypoint-tester" => {
            println!("{rest:?}");
            Ok(())
        }
        other => {
            eprintln!("agnhost: unknown subcommand {other:?}");
            std::process::exit(2);
        }
    };
    if let Err(e) = result {
        eprintln!("agnhost {command}: {e}");
        std::process::exit(1);
    }
}

/// `--name=value` or `--name value`.
fn flag(args: &[String], name: &str) -> Option<u16> {
    let long = format!("--{name}");
    args.iter().enumerate().find_map(|(i, a)| {
        if let Some(v) = a.strip_prefix(&format!("{long}=")) {
            v.parse().ok()
        } else if *a == long {
            args.get(i + 1).and_then(|v| v.parse().ok())
        } else {
            None
        }
    })
}

fn hostname() -> String {
    std::fs::read_to_string("/etc/hostname").map(|h| h.trim().to_string()).unwrap_or_default()
}

async fn wait_for_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

async fn serve(port: u16, router: Router) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(("0.0.0.0", port)).await?;
    eprintln!("agnhost: serving on port {port}");
    axum::serve(listener, router.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(wait_for_signal())
        .await
}

fn netexec() -> Router {
    Router::new()
        .route("/", get(|| async { format!("NOW: {:?}", std::time::SystemTime::now()) }))
        .route("/hostname", get(|| async { hostname() }))
        .route("/healthz", get(|| async { "ok" }))
        .route("/echo", get(|Query(q): Query<HashMap<String, String>>| async move { q.get("msg").cloned().unwrap_or_default() }))
        .route("/clientip", get(|ConnectInfo(peer): ConnectInfo<SocketAddr>| async move { peer.to_string() }))
        .route(
            "/exit",
            get(|Query(q): Query<HashMap<String, String>>| async move {
                let code: i32 = q.get("code").and_then(|c| c.parse().ok()).unwrap_or(0);
                // Answer first, then exit: the client sees the request succeed.
                tokio::spawn(async move {
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    std::process::exit(code);
                });
                "exiting"
            }),
        )
        .route(
            "/shell",
            get(|Query(q): Query<HashMap<String, String>>| async move {
                let command = q.get("shellCommand").cloned().unwrap_or_default();
                match tokio::process::Command::new("/bin/sh").arg("-c").arg(&command).output().await {
                    Ok(out) => {
                        let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
                        (StatusCode::OK, serde_json::json!({ "output": text }).to_string())
                    }
                    Err(e) => (StatusCode::EXPECTATION_FAILED, serde_json::json!({ "error": e.to_string() }).to_string()),
                }
            }),
        )
}

async fn porter() -> std::io::Result<()> {
    let mut servers = Vec::new();
    for (key, value) in std::env::vars() {
        let Some(port) = key.strip_prefix("SERVE_PORT_").and_then(|p| p.parse::<u16>().ok()) else { continue };
        let router = Router::new().fallback(move || {
            let value = value.clone();
            async move { value }
        });
        servers.push(tokio::spawn(serve(port, router)));
    }
    if servers.is_empty() {
        eprintln!("agnhost porter: no SERVE_PORT_<n> variables");
    }
    for s in servers {
        if let Ok(Err(e)) = s.await {
            return Err(e);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_take_both_forms() {
        let args: Vec<String> = ["--port=9000", "--http-port", "8081"].iter().map(|s| s.to_string()).collect();
        assert_eq!(flag(&args, "port"), Some(9000));
        assert_eq!(flag(&args, "http-port"), Some(8081));
        assert_eq!(flag(&args, "udp-port"), None);
    }
}
