//! Development entry point: runs the kubelet against the API server of a kubeconfig, until Ctrl-C.
use clap::Parser;
use corten_kubelet::KubeletConfig;
use tokio_util::sync::CancellationToken;

/// Runs Corten's node agent against an API server.
#[derive(Parser)]
struct Args {
    /// Kubeconfig of the API server (admin credentials).
    #[arg(long)]
    kubeconfig: std::path::PathBuf,
    /// Node name (the hostname by default).
    #[arg(long)]
    node_name: Option<String>,
    /// InternalIP to report (detected from the default route by default).
    #[arg(long)]
    node_ip: Option<std::net::IpAddr>,
    /// CRI endpoint.
    #[arg(long, default_value = "unix:///run/containerd/containerd.sock")]
    container_runtime_endpoint: String,
    /// Pod CIDR to claim when the control plane assigned none.
    #[arg(long, default_value = "10.42.0.0/24")]
    pod_cidr: String,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .init();
    let args = Args::parse();
    let kubeconfig = kube::config::Kubeconfig::read_from(&args.kubeconfig)?;
    let client_config = kube::Config::from_custom_kubeconfig(kubeconfig, &kube::config::KubeConfigOptions::default()).await?;
    let client = kube::Client::try_from(client_config)?;
    let mut config = KubeletConfig::new(args.node_name.unwrap_or_else(KubeletConfig::default_node_name));
    config.node_ip = args.node_ip;
    config.container_runtime_endpoint = args.container_runtime_endpoint;
    config.pod_cidr = args.pod_cidr;
    let shutdown = CancellationToken::new();
    let on_signal = shutdown.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            on_signal.cancel();
        }
    });
    corten_kubelet::run(client, config, shutdown).await?;
    Ok(())
}
