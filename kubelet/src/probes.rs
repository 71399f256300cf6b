//! Liveness, readiness and startup probes: `exec` (CRI ExecSync), `httpGet` (HTTP/1.1 GET to the
//! pod IP, success on 200–399) and `tcpSocket` (a connect), with upstream's timing fields
//! (`initialDelaySeconds`, `periodSeconds`, `timeoutSeconds`, `successThreshold`,
//! `failureThreshold`). `grpc` probes are not implemented yet and count as failures, with a warning.

use std::time::Duration;

use k8s_openapi::api::core::v1::{Container, Probe};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::Instant;

use crate::cri::{v1 as cri_v1, CriClient};

/// The running tally of one probe of one container instance.
#[derive(Debug, Clone, Default)]
pub struct ProbeState {
    /// When it last ran.
    pub last_run: Option<Instant>,
    /// Consecutive successes and failures.
    pub successes: i32,
    /// Consecutive failures.
    pub failures: i32,
    /// The current verdict (readiness: ready; liveness: alive; startup: started).
    pub passing: bool,
}

/// What the next probe step concluded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Nothing new (not due, or thresholds not crossed).
    Unchanged,
    /// The probe crossed its success threshold.
    Passed,
    /// The probe crossed its failure threshold.
    Failed,
}

fn seconds(v: Option<i32>, default: i32) -> Duration {
    Duration::from_secs(u64::try_from(v.unwrap_or(default).max(0)).unwrap_or(0))
}

/// Whether the probe is due, given when the container started.
pub fn due(probe: &Probe, state: &ProbeState, started: Instant, now: Instant) -> bool {
    if now.duration_since(started) < seconds(probe.initial_delay_seconds, 0) {
        return false;
    }
    state.last_run.is_none_or(|t| now.duration_since(t) >= seconds(probe.period_seconds, 10))
}

/// Records one result and says whether the verdict flipped.
pub fn record(probe: &Probe, state: &mut ProbeState, success: bool, now: Instant) -> Verdict {
    state.last_run = Some(now);
    if success {
        state.successes += 1;
        state.failures = 0;
        if !state.passing && state.successes >= probe.success_threshold.unwrap_or(1).max(1) {
            state.passing = true;
            return Verdict::Passed;
        }
    } else {
        state.failures += 1;
        state.successes = 0;
        if state.failures >= probe.failure_threshold.unwrap_or(3).max(1) {
            state.passing = false;
            state.failures = 0;
            return Verdict::Failed;
        }
    }
    Verdict::Unchanged
}

/// Resolves a probe port (number or container port name).
fn port(container: &Container, port: &IntOrString) -> Option<u16> {
    match port {
        IntOrString::Int(p) => u16::try_from(*p).ok(),
        IntOrString::String(name) => container
            .ports
            .iter()
            .flatten()
            .find(|p| p.name.as_deref() == Some(name.as_str()))
            .and_then(|p| u16::try_from(p.container_port).ok())
            .or_else(|| name.parse().ok()),
    }
}

/// Runs the probe once. `Err` carries why it failed (for the `Unhealthy` event).
pub async fn run(cri: &CriClient, container_id: &str, container: &Container, pod_ip: Option<&str>, probe: &Probe) -> Result<(), String> {
    let timeout = seconds(probe.timeout_seconds, 1).max(Duration::from_secs(1));
    if let Some(exec) = &probe.exec {
        let mut client = cri.runtime.clone();
        let request = cri_v1::ExecSyncRequest {
            container_id: container_id.to_owned(),
            cmd: exec.command.clone().unwrap_or_default(),
            timeout: i64::try_from(timeout.as_secs()).unwrap_or(1),
        };
        let response = client.exec_sync(request).await.map_err(|s| s.message().to_owned())?.into_inner();
        return if response.exit_code == 0 {
            Ok(())
        } else {
            Err(format!("command {:?} exited with {}: {}", exec.command.clone().unwrap_or_default(), response.exit_code, String::from_utf8_lossy(&response.stdout).trim()))
        };
    }
    let ip = probe
        .http_get
        .as_ref()
        .and_then(|h| h.host.clone())
        .or_else(|| pod_ip.map(str::to_owned))
        .ok_or_else(|| "the pod has no IP yet".to_owned())?;
    if let Some(http) = &probe.http_get {
        let port = port(container, &http.port).ok_or_else(|| "unknown probe port".to_owned())?;
        let path = http.path.clone().unwrap_or_else(|| "/".to_owned());
        return tokio::time::timeout(timeout, http_get(&ip, port, &path))
            .await
            .map_err(|_| format!("Get \"http://{ip}:{port}{path}\": context deadline exceeded"))?;
    }
    if let Some(tcp) = &probe.tcp_socket {
        let port = port(container, &tcp.port).ok_or_else(|| "unknown probe port".to_owned())?;
        return match tokio::time::timeout(timeout, tokio::net::TcpStream::connect((ip.as_str(), port))).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(format!("dial tcp {ip}:{port}: {e}")),
            Err(_) => Err(format!("dial tcp {ip}:{port}: i/o timeout")),
        };
    }
    Err("this probe type (grpc) is not supported by Corten's kubelet yet".to_owned())
}

async fn http_get(ip: &str, port: u16, path: &str) -> Result<(), String> {
    let mut stream = tokio::net::TcpStream::connect((ip, port)).await.map_err(|e| format!("Get \"http://{ip}:{port}{path}\": {e}"))?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: {ip}:{port}\r\nUser-Agent: kube-probe/1.33\r\nAccept: */*\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.map_err(|e| e.to_string())?;
    let mut head = [0u8; 64];
    let n = stream.read(&mut head).await.map_err(|e| e.to_string())?;
    let line = String::from_utf8_lossy(&head[..n]);
    let code: u16 = line.split_whitespace().nth(1).and_then(|c| c.parse().ok()).ok_or_else(|| "malformed HTTP response".to_owned())?;
    if (200..400).contains(&code) {
        Ok(())
    } else {
        Err(format!("HTTP probe failed with statuscode: {code}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn probe(success: i32, failure: i32) -> Probe {
        Probe { success_threshold: Some(success), failure_threshold: Some(failure), period_seconds: Some(5), initial_delay_seconds: Some(2), ..Probe::default() }
    }

    #[test]
    fn thresholds_flip_the_verdict() {
        let p = probe(2, 3);
        let mut s = ProbeState::default();
        let now = Instant::now();
        assert_eq!(record(&p, &mut s, true, now), Verdict::Unchanged);
        assert_eq!(record(&p, &mut s, true, now), Verdict::Passed);
        assert!(s.passing);
        assert_eq!(record(&p, &mut s, false, now), Verdict::Unchanged);
        assert_eq!(record(&p, &mut s, false, now), Verdict::Unchanged);
        assert_eq!(record(&p, &mut s, false, now), Verdict::Failed);
        assert!(!s.passing);
    }

    #[test]
    fn probes_wait_for_the_initial_delay_and_the_period() {
        let p = probe(1, 1);
        let started = Instant::now();
        let s = ProbeState::default();
        assert!(!due(&p, &s, started, started + Duration::from_secs(1)));
        assert!(due(&p, &s, started, started + Duration::from_secs(2)));
        let ran = ProbeState { last_run: Some(started + Duration::from_secs(2)), ..ProbeState::default() };
        assert!(!due(&p, &ran, started, started + Duration::from_secs(4)));
        assert!(due(&p, &ran, started, started + Duration::from_secs(7)));
    }

    #[test]
    fn named_ports_resolve_against_the_container() {
        let c: Container = serde_json::from_value(serde_json::json!({ "name": "c", "ports": [{ "name": "http", "containerPort": 8080 }] })).expect("container");
        assert_eq!(port(&c, &IntOrString::String("http".into())), Some(8080));
        assert_eq!(port(&c, &IntOrString::Int(9376)), Some(9376));
        assert_eq!(port(&c, &IntOrString::String("nope".into())), None);
    }
}
