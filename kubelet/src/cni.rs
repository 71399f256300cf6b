//! The node's CNI network: a `cni0` bridge with host-local IPAM over the node's pod CIDR.
//!
//! containerd's CRI plugin reads the first config in its `conf_dir`; the kubelet writes one when none
//! of its own exists so pods get addresses from this node's range and reach each other over the bridge.

use std::io;
use std::path::{Path, PathBuf};

/// File name of the config written by the kubelet (sorted first by the `10-` prefix).
pub const CONFLIST_FILE: &str = "10-corten.conflist";

/// The conflist for `pod_cidr`: bridge (gateway, masquerade, host-local IPAM, default route),
/// portmap for hostPorts, loopback.
pub fn conflist(pod_cidr: &str) -> String {
    let config = serde_json::json!({
        "cniVersion": "1.0.0",
        "name": "corten",
        "plugins": [
            {
                "type": "bridge",
                "bridge": "cni0",
                "isGateway": true,
                "ipMasq": true,
                "hairpinMode": true,
                "ipam": {
                    "type": "host-local",
                    "ranges": [[{ "subnet": pod_cidr }]],
                    "routes": [{ "dst": "0.0.0.0/0" }]
                }
            },
            { "type": "portmap", "capabilities": { "portMappings": true } },
            { "type": "loopback" }
        ]
    });
    // Serialising a `Value` cannot fail; fall back to the compact form to stay panic-free.
    serde_json::to_string_pretty(&config).unwrap_or_else(|_| config.to_string())
}

/// Writes the conflist into `conf_dir` unless it already exists; returns the path and whether it was written.
pub fn write_if_absent(conf_dir: &Path, pod_cidr: &str) -> io::Result<(PathBuf, bool)> {
    let path = conf_dir.join(CONFLIST_FILE);
    if path.exists() {
        return Ok((path, false));
    }
    std::fs::create_dir_all(conf_dir)?;
    std::fs::write(&path, conflist(pod_cidr))?;
    Ok((path, true))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conflist_uses_the_pod_cidr_and_the_three_plugins() {
        let text = conflist("10.42.3.0/24");
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        let plugins = value["plugins"].as_array().unwrap();
        let types: Vec<&str> = plugins.iter().map(|p| p["type"].as_str().unwrap()).collect();
        assert_eq!(types, ["bridge", "portmap", "loopback"]);
        assert_eq!(plugins[0]["bridge"], "cni0");
        assert_eq!(plugins[0]["isGateway"], true);
        assert_eq!(plugins[0]["ipMasq"], true);
        assert_eq!(plugins[0]["ipam"]["type"], "host-local");
        assert_eq!(plugins[0]["ipam"]["ranges"][0][0]["subnet"], "10.42.3.0/24");
    }

    #[test]
    fn existing_config_is_left_alone() {
        let dir = std::env::temp_dir().join(format!("corten-cni-test-{}", std::process::id()));
        let (path, written) = write_if_absent(&dir, "10.42.0.0/24").unwrap();
        assert!(written);
        std::fs::write(&path, "custom").unwrap();
        let (_, written_again) = write_if_absent(&dir, "10.42.9.0/24").unwrap();
        assert!(!written_again);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "custom");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
