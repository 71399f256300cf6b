//! Pod volumes on the node: `emptyDir`, `hostPath`, `configMap` and `secret`, materialised under
//! upstream's layout (`/var/lib/kubelet/pods/<uid>/volumes/<plugin>/<name>`) and bind-mounted into
//! containers through the CRI. ConfigMap and Secret contents are (re)written every time a
//! container starts, honouring `items`, `defaultMode`/`mode` and `optional`.
//!
//! Not yet: `downwardAPI`, `projected`, persistent volumes, `emptyDir.medium: Memory` as a real
//! tmpfs (it is a directory for now), and refreshing files in running containers.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use k8s_openapi::api::core::v1::{ConfigMap, Container, KeyToPath, Pod, Secret};
use kube::Api;

use crate::cri::v1 as cri_v1;

/// Root of the per-pod directories.
pub const PODS_ROOT: &str = "/var/lib/kubelet/pods";

/// The pod's directory.
pub fn pod_dir(uid: &str) -> PathBuf {
    Path::new(PODS_ROOT).join(uid)
}

/// Prepares every volume of the pod; returns volume name → host path. `Err` is the message for
/// `CreateContainerConfigError`.
pub async fn prepare(client: &kube::Client, pod: &Pod) -> Result<HashMap<String, PathBuf>, String> {
    let uid = pod.metadata.uid.clone().unwrap_or_default();
    let ns = pod.metadata.namespace.clone().unwrap_or_default();
    let mut paths = HashMap::new();
    for volume in pod.spec.as_ref().and_then(|s| s.volumes.as_deref()).unwrap_or_default() {
        let dir = |plugin: &str| pod_dir(&uid).join("volumes").join(plugin).join(&volume.name);
        if volume.empty_dir.is_some() {
            let path = dir("kubernetes.io~empty-dir");
            create_dir(&path, 0o777)?;
            paths.insert(volume.name.clone(), path);
        } else if let Some(host) = &volume.host_path {
            let path = PathBuf::from(&host.path);
            if matches!(host.type_.as_deref(), Some("DirectoryOrCreate")) {
                create_dir(&path, 0o755)?;
            }
            paths.insert(volume.name.clone(), path);
        } else if let Some(source) = &volume.config_map {
            let name = source.name.clone();
            let api: Api<ConfigMap> = Api::namespaced(client.clone(), &ns);
            let path = dir("kubernetes.io~configmap");
            match api.get_opt(&name).await.map_err(|e| e.to_string())? {
                Some(cm) => {
                    let mut data: Vec<(String, Vec<u8>)> = cm.data.unwrap_or_default().into_iter().map(|(k, v)| (k, v.into_bytes())).collect();
                    data.extend(cm.binary_data.unwrap_or_default().into_iter().map(|(k, v)| (k, v.0)));
                    write_files(&path, &data, source.items.as_deref(), source.default_mode.unwrap_or(0o644))?;
                }
                None if source.optional == Some(true) => create_dir(&path, 0o755)?,
                None => return Err(format!("configmap \"{name}\" not found")),
            }
            paths.insert(volume.name.clone(), path);
        } else if let Some(source) = &volume.secret {
            let name = source.secret_name.clone().unwrap_or_default();
            let api: Api<Secret> = Api::namespaced(client.clone(), &ns);
            let path = dir("kubernetes.io~secret");
            match api.get_opt(&name).await.map_err(|e| e.to_string())? {
                Some(secret) => {
                    let data: Vec<(String, Vec<u8>)> = secret.data.unwrap_or_default().into_iter().map(|(k, v)| (k, v.0)).collect();
                    write_files(&path, &data, source.items.as_deref(), source.default_mode.unwrap_or(0o644))?;
                }
                None if source.optional == Some(true) => create_dir(&path, 0o755)?,
                None => return Err(format!("secret \"{name}\" not found")),
            }
            paths.insert(volume.name.clone(), path);
        } else {
            tracing::warn!(volume = %volume.name, "volume type not supported yet; not mounted");
        }
    }
    Ok(paths)
}

/// The CRI mounts of a container, from its volumeMounts.
pub fn mounts(container: &Container, volumes: &HashMap<String, PathBuf>) -> Result<Vec<cri_v1::Mount>, String> {
    let mut out = Vec::new();
    for m in container.volume_mounts.iter().flatten() {
        let Some(host) = volumes.get(&m.name) else {
            return Err(format!("volume \"{}\" is not available on this node", m.name));
        };
        let mut host_path = host.clone();
        if let Some(sub) = m.sub_path.as_deref().filter(|s| !s.is_empty()) {
            if Path::new(sub).components().any(|c| matches!(c, std::path::Component::ParentDir)) || Path::new(sub).is_absolute() {
                return Err(format!("invalid subPath {sub:?}"));
            }
            host_path = host_path.join(sub);
            if !host_path.exists() {
                create_dir(&host_path, 0o755)?;
            }
        }
        out.push(cri_v1::Mount {
            container_path: m.mount_path.clone(),
            host_path: host_path.to_string_lossy().into_owned(),
            readonly: m.read_only.unwrap_or(false),
            ..cri_v1::Mount::default()
        });
    }
    Ok(out)
}

fn create_dir(path: &Path, mode: u32) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(path).map_err(|e| format!("creating {}: {e}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).map_err(|e| format!("chmod {}: {e}", path.display()))
}

/// Writes `data` as files (all keys, or only `items` under their paths), replacing what was there.
fn write_files(dir: &Path, data: &[(String, Vec<u8>)], items: Option<&[KeyToPath]>, default_mode: i32) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::remove_dir_all(dir);
    create_dir(dir, 0o755)?;
    let files: Vec<(String, &Vec<u8>, i32)> = match items {
        Some(items) => items
            .iter()
            .filter_map(|i| data.iter().find(|(k, _)| *k == i.key).map(|(_, v)| (i.path.clone(), v, i.mode.unwrap_or(default_mode))))
            .collect(),
        None => data.iter().map(|(k, v)| (k.clone(), v, default_mode)).collect(),
    };
    for (relative, bytes, mode) in files {
        if Path::new(&relative).components().any(|c| matches!(c, std::path::Component::ParentDir)) || Path::new(&relative).is_absolute() {
            return Err(format!("invalid volume file path {relative:?}"));
        }
        let path = dir.join(&relative);
        if let Some(parent) = path.parent() {
            create_dir(parent, 0o755)?;
        }
        std::fs::write(&path, bytes).map_err(|e| format!("writing {}: {e}", path.display()))?;
        let mode = u32::try_from(mode).unwrap_or(0o644) & 0o777;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).map_err(|e| format!("chmod {}: {e}", path.display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_follow_items_and_modes() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("corten-vol-{}", std::process::id()));
        let data = vec![("a".to_string(), b"1".to_vec()), ("b".to_string(), b"2".to_vec())];
        write_files(&dir, &data, None, 0o600).expect("all keys");
        assert_eq!(std::fs::read(dir.join("a")).expect("a"), b"1");
        assert_eq!(std::fs::metadata(dir.join("b")).expect("b").permissions().mode() & 0o777, 0o600);
        let items = [KeyToPath { key: "b".into(), path: "sub/renamed".into(), mode: Some(0o400) }];
        write_files(&dir, &data, Some(&items), 0o644).expect("items");
        assert!(!dir.join("a").exists(), "only the listed items are written");
        assert_eq!(std::fs::read(dir.join("sub/renamed")).expect("renamed"), b"2");
        let escape = [KeyToPath { key: "a".into(), path: "../x".into(), mode: None }];
        assert!(write_files(&dir, &data, Some(&escape), 0o644).is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn mounts_resolve_volumes_and_sub_paths() {
        let c: Container = serde_json::from_value(serde_json::json!({ "name": "c", "volumeMounts": [
            { "name": "data", "mountPath": "/data", "readOnly": true },
        ] }))
        .expect("container");
        let volumes = HashMap::from([("data".to_string(), PathBuf::from("/tmp"))]);
        let m = mounts(&c, &volumes).expect("mounts");
        assert_eq!((m[0].container_path.as_str(), m[0].host_path.as_str(), m[0].readonly), ("/data", "/tmp", true));
        assert!(mounts(&c, &HashMap::new()).is_err());
    }
}
