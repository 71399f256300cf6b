//! The pod sandbox process ("pause"): holds the pod's namespaces open while doing nothing.
//!
//! It exits cleanly on SIGTERM/SIGINT and, as PID 1 of a shared PID namespace, reaps any child that
//! gets re-parented to it (SIGCHLD). Built statically into the offline pause image by
//! `scripts/build-test-images.sh`.

use rustix::process::{waitpid, WaitOptions};
use tokio::signal::unix::{signal, SignalKind};

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let mut terminate = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut child_exited = signal(SignalKind::child())?;
    loop {
        tokio::select! {
            _ = terminate.recv() => return Ok(()),
            _ = interrupt.recv() => return Ok(()),
            _ = child_exited.recv() => reap_children(),
        }
    }
}

/// Collects every exited child without blocking (several may exit per SIGCHLD).
fn reap_children() {
    while let Ok(Some(_)) = waitpid(None, WaitOptions::NOHANG) {}
}
