//! Settings of one kubelet instance (what upstream reads from flags and the KubeletConfiguration file).

use std::net::IpAddr;
use std::path::PathBuf;

/// The kubelet's settings; [`KubeletConfig::new`] fills the defaults for a node name.
#[derive(Debug, Clone)]
pub struct KubeletConfig {
    /// Name of the Node object (hostname by default).
    pub node_name: String,
    /// Address reported as InternalIP; detected from the default route when `None`.
    pub node_ip: Option<IpAddr>,
    /// CRI endpoint, `unix:///run/containerd/containerd.sock` by default.
    pub container_runtime_endpoint: String,
    /// Pod CIDR used when the control plane has not set `spec.podCIDR` on the Node.
    pub pod_cidr: String,
    /// Directory where the CNI network configuration is written.
    pub cni_conf_dir: PathBuf,
    /// Root of the per-pod log directories (`<ns>_<name>_<uid>/<container>/<attempt>.log`).
    pub pod_log_dir: PathBuf,
    /// Filesystem whose size is reported as `ephemeral-storage`.
    pub root_dir: PathBuf,
}

impl KubeletConfig {
    /// Defaults for a node called `node_name`.
    pub fn new(node_name: impl Into<String>) -> Self {
        Self {
            node_name: node_name.into(),
            node_ip: None,
            container_runtime_endpoint: "unix:///run/containerd/containerd.sock".to_owned(),
            pod_cidr: "10.42.0.0/24".to_owned(),
            cni_conf_dir: PathBuf::from("/etc/cni/net.d"),
            pod_log_dir: PathBuf::from("/var/log/pods"),
            root_dir: PathBuf::from("/var/lib"),
        }
    }

    /// The machine's hostname, lower-cased as a Node name must be; `localhost` if it cannot be read.
    pub fn default_node_name() -> String {
        hostname::get()
            .ok()
            .and_then(|name| name.into_string().ok())
            .map(|name| name.to_lowercase())
            .unwrap_or_else(|| "localhost".to_owned())
    }
}
