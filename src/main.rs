//! `corten`: one binary for a lightweight Kubernetes. Subcommands only parse flags and wire
//! components together; each component lives in its own crate.

use std::net::IpAddr;
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use tokio_util::sync::CancellationToken;

#[derive(Parser)]
#[command(name = "corten", version, about = "A lightweight Kubernetes-compatible orchestrator")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the control plane: the API server (with the embedded store or etcd).
    Server(ServerArgs),
}

#[derive(clap::Args)]
struct ServerArgs {
    /// Directory for state, certificates and the admin kubeconfig.
    #[arg(long, default_value = "/var/lib/corten")]
    data_dir: PathBuf,
    /// HTTPS port of the API server.
    #[arg(long, default_value_t = 6443)]
    https_port: u16,
    /// Address to listen on.
    #[arg(long, default_value = "0.0.0.0")]
    bind_address: IpAddr,
    /// Address other nodes and pods use to reach this server (default: the host's first address).
    #[arg(long)]
    advertise_address: Option<IpAddr>,
    /// Use etcd at these endpoints (comma-separated URLs) instead of the embedded store.
    #[arg(long, value_delimiter = ',')]
    etcd_endpoints: Vec<String>,
    /// Do not run the node agent in this process. (The node agent is not part of Corten yet, so this
    /// is currently always the case.)
    #[arg(long)]
    disable_agent: bool,
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .with_writer(std::io::stderr)
        .init();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async {
        let shutdown = CancellationToken::new();
        tokio::spawn(stop_on_signal(shutdown.clone()));
        match cli.command {
            Command::Server(args) => {
                let _ = args.disable_agent;
                let config = corten_apiserver::Config {
                    data_dir: args.data_dir,
                    bind_address: args.bind_address,
                    https_port: args.https_port,
                    etcd_endpoints: args.etcd_endpoints,
                    advertise_address: args.advertise_address,
                };
                run_server(config, shutdown).await
            }
        }
    })
}

/// Starts the API server, then the controllers as its clients, and waits for shutdown.
async fn run_server(config: corten_apiserver::Config, shutdown: CancellationToken) -> Result<()> {
    let running = corten_apiserver::start(config, shutdown.clone()).await?;
    // TODO(issue 6): controllers get their own identity instead of the admin certificate.
    let kubeconfig = kube::config::Kubeconfig::read_from(&running.admin_kubeconfig)?;
    let client_config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default()).await?;
    let client = kube::Client::try_from(client_config)?;
    let controllers = tokio::spawn(corten_controllers::run(client.clone(), shutdown.clone()));
    let scheduler = tokio::spawn(corten_scheduler::run(client, shutdown.clone()));
    eprintln!(
        "API server ready at https://{}; admin kubeconfig: {}",
        running.addr,
        running.admin_kubeconfig.display()
    );
    running.done.await.context("server task failed")?;
    controllers.abort();
    scheduler.abort();
    Ok(())
}

async fn stop_on_signal(shutdown: CancellationToken) {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(%e, "cannot listen for SIGTERM");
            return;
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    tracing::info!("shutting down");
    shutdown.cancel();
}
