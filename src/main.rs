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
    /// Run the control plane (API server with the embedded store or etcd, controllers, scheduler)
    /// and, unless `--disable-agent`, the node agent for this machine.
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
    /// Do not run the node agent (kubelet) in this process: a control-plane-only server.
    #[arg(long)]
    disable_agent: bool,
    /// Name of this machine's Node (default: the hostname).
    #[arg(long)]
    node_name: Option<String>,
    /// Address this node reports as InternalIP (default: the address of the default route).
    #[arg(long)]
    node_ip: Option<IpAddr>,
    /// The CRI endpoint of the container runtime.
    #[arg(long, default_value = "unix:///run/containerd/containerd.sock")]
    container_runtime_endpoint: String,
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
                let agent = (!args.disable_agent).then(|| {
                    let mut kubelet = corten_kubelet::KubeletConfig::new(args.node_name.clone().unwrap_or_else(corten_kubelet::KubeletConfig::default_node_name));
                    kubelet.node_ip = args.node_ip;
                    kubelet.container_runtime_endpoint = args.container_runtime_endpoint.clone();
                    kubelet
                });
                let config = corten_apiserver::Config {
                    data_dir: args.data_dir,
                    bind_address: args.bind_address,
                    https_port: args.https_port,
                    etcd_endpoints: args.etcd_endpoints,
                    advertise_address: args.advertise_address,
                };
                run_server(config, agent, shutdown).await
            }
        }
    })
}

/// Starts the API server, then the controllers, the scheduler and (optionally) the kubelet as its
/// clients, and waits for shutdown.
async fn run_server(config: corten_apiserver::Config, agent: Option<corten_kubelet::KubeletConfig>, shutdown: CancellationToken) -> Result<()> {
    let running = corten_apiserver::start(config, shutdown.clone()).await?;
    // TODO(issue 6): controllers get their own identity instead of the admin certificate.
    let kubeconfig = kube::config::Kubeconfig::read_from(&running.admin_kubeconfig)?;
    let client_config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default()).await?;
    let client = kube::Client::try_from(client_config)?;
    // Controllers and scheduler run only while this server holds their Leases (upstream's lease
    // names), so several servers sharing etcd never act twice.
    let identity = format!("{}_{}", corten_kubelet::KubeletConfig::default_node_name(), std::process::id());
    let controllers = tokio::spawn({
        let (client, identity, shutdown) = (client.clone(), identity.clone(), shutdown.clone());
        async move {
            let work = |term| corten_controllers::run(client.clone(), term);
            corten_controllers::leader::run_as_leader(client.clone(), "kube-controller-manager", &identity, shutdown, work).await;
        }
    });
    let scheduler = tokio::spawn({
        let (client, shutdown) = (client.clone(), shutdown.clone());
        async move {
            let work = |term| corten_scheduler::run(client.clone(), term);
            corten_controllers::leader::run_as_leader(client.clone(), "kube-scheduler", &identity, shutdown, work).await;
        }
    });
    let kubelet = agent.map(|kubelet_config| {
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            if let Err(e) = corten_kubelet::run(client, kubelet_config, shutdown).await {
                tracing::error!(error = %e, "the node agent stopped");
            }
        })
    });
    eprintln!(
        "API server ready at https://{}; admin kubeconfig: {}",
        running.addr,
        running.admin_kubeconfig.display()
    );
    running.done.await.context("server task failed")?;
    controllers.abort();
    scheduler.abort();
    if let Some(k) = kubelet {
        k.abort();
    }
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
