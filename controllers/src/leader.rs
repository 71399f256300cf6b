//! Leader election through a `coordination.k8s.io/v1` Lease, like upstream's control-plane
//! components, so that two `corten server`s sharing etcd never both run controllers.
//!
//! A candidate takes the Lease when it is absent or expired (`renewTime + leaseDurationSeconds` in
//! the past), writing with the Lease's resourceVersion so only one taker wins; the leader renews
//! it every [`RENEW`]. If renewing fails for a whole lease duration, leadership is lost: the work
//! is cancelled and the process becomes a candidate again.

use std::future::Future;
use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use k8s_openapi::jiff::Timestamp;
use kube::api::{ObjectMeta, PostParams};
use kube::{Api, Client};
use tokio_util::sync::CancellationToken;

/// How long a lease is valid without renewal (upstream's default for control-plane components).
pub const LEASE_DURATION: Duration = Duration::from_secs(15);
/// How often the leader renews.
pub const RENEW: Duration = Duration::from_secs(5);
const RETRY: Duration = Duration::from_secs(2);

/// Runs `work` only while holding the Lease `kube-system/<lease>`, until `shutdown`.
/// `work` gets a token that is cancelled when leadership is lost.
pub async fn run_as_leader<F, Fut>(client: Client, lease: &str, identity: &str, shutdown: CancellationToken, work: F)
where
    F: Fn(CancellationToken) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let api: Api<Lease> = Api::namespaced(client, "kube-system");
    loop {
        // Candidate: try until we hold the lease.
        loop {
            match try_acquire_or_renew(&api, lease, identity).await {
                Ok(true) => break,
                Ok(false) => {}
                Err(e) => tracing::debug!(lease, error = %e, "leader election attempt failed"),
            }
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(RETRY) => {}
            }
        }
        tracing::info!(lease, identity, "became leader");
        let term = shutdown.child_token();
        let task = tokio::spawn(work(term.clone()));
        let mut last_renewed = tokio::time::Instant::now();
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => {
                    term.cancel();
                    let _ = task.await;
                    return;
                }
                _ = tokio::time::sleep(RENEW) => {}
            }
            match try_acquire_or_renew(&api, lease, identity).await {
                Ok(true) => last_renewed = tokio::time::Instant::now(),
                Ok(false) => break,
                Err(e) => {
                    tracing::warn!(lease, error = %e, "renewing the leader lease failed");
                    if last_renewed.elapsed() >= LEASE_DURATION {
                        break;
                    }
                }
            }
        }
        tracing::warn!(lease, identity, "lost leadership; stopping its work");
        term.cancel();
        let _ = task.await;
    }
}

/// Takes or renews the lease. `Ok(false)` when someone else holds a valid lease (or won a race).
async fn try_acquire_or_renew(api: &Api<Lease>, name: &str, identity: &str) -> Result<bool, kube::Error> {
    let now = Timestamp::now();
    let current = api.get_opt(name).await?;
    let Some(mut lease) = current else {
        let lease = Lease {
            metadata: ObjectMeta { name: Some(name.to_string()), namespace: Some("kube-system".into()), ..Default::default() },
            spec: Some(spec(identity, now, now, 0)),
        };
        return match api.create(&PostParams::default(), &lease).await {
            Ok(_) => Ok(true),
            Err(kube::Error::Api(e)) if e.code == 409 => Ok(false),
            Err(e) => Err(e),
        };
    };
    let held = lease.spec.clone().unwrap_or_default();
    let ours = held.holder_identity.as_deref() == Some(identity);
    if !ours && !expired(&held, now) {
        return Ok(false);
    }
    let acquired = if ours { held.acquire_time.map(|t| t.0).unwrap_or(now) } else { now };
    let transitions = held.lease_transitions.unwrap_or(0) + i32::from(!ours);
    lease.spec = Some(spec(identity, acquired, now, transitions));
    match api.replace(name, &PostParams::default(), &lease).await {
        Ok(_) => Ok(true),
        Err(kube::Error::Api(e)) if e.code == 409 => Ok(false),
        Err(e) => Err(e),
    }
}

fn spec(identity: &str, acquired: Timestamp, renewed: Timestamp, transitions: i32) -> LeaseSpec {
    LeaseSpec {
        holder_identity: Some(identity.to_string()),
        lease_duration_seconds: Some(LEASE_DURATION.as_secs() as i32),
        acquire_time: Some(MicroTime(acquired)),
        renew_time: Some(MicroTime(renewed)),
        lease_transitions: Some(transitions),
        ..Default::default()
    }
}

/// Whether a held lease has run out.
fn expired(held: &LeaseSpec, now: Timestamp) -> bool {
    let Some(renewed) = held.renew_time.as_ref().map(|t| t.0) else { return true };
    let duration = i64::from(held.lease_duration_seconds.unwrap_or(LEASE_DURATION.as_secs() as i32));
    now.duration_since(renewed).as_secs() >= duration
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lease_expires_after_its_duration() {
        let now: Timestamp = "2026-01-01T00:01:00Z".parse().expect("time");
        let renewed_at = |s: &str| LeaseSpec { renew_time: Some(MicroTime(s.parse().expect("time"))), lease_duration_seconds: Some(15), ..Default::default() };
        assert!(!expired(&renewed_at("2026-01-01T00:00:50Z"), now));
        assert!(expired(&renewed_at("2026-01-01T00:00:44Z"), now));
        assert!(expired(&LeaseSpec::default(), now), "never renewed");
    }
}
