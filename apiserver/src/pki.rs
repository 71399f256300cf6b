//! The cluster's certificates, created on first start and reused afterwards.
//!
//! Like k3s, `corten server` owns a private CA in its data dir (`tls/`), signs a serving
//! certificate for the API (localhost, the host's addresses, `kubernetes.default.svc...` and the
//! `kubernetes` Service IP) and an admin client certificate (CN=admin, O=system:masters), and
//! writes `admin.kubeconfig` so stock kubectl works from the first second. Client certificates
//! carry identity exactly as upstream reads it: CN is the user name, each O is a group.

use std::fs;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use base64::Engine;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};

/// The PEM material the server needs.
pub struct Pki {
    /// CA certificate (PEM), trusted for client certificates and given to clients.
    pub ca_cert_pem: String,
    /// Serving certificate chain (PEM).
    pub serving_cert_pem: String,
    /// Serving key (PEM).
    pub serving_key_pem: String,
    /// Where `admin.kubeconfig` was written.
    pub admin_kubeconfig: PathBuf,
}

/// What the serving certificate must be valid for, besides the fixed names.
pub struct ServingNames {
    /// Extra IP addresses (the host's addresses, the `kubernetes` Service IP).
    pub ips: Vec<IpAddr>,
    /// The cluster domain (`cluster.local`).
    pub cluster_domain: String,
}

/// Loads the PKI from `data_dir/tls`, creating whatever is missing, and writes the admin
/// kubeconfig pointing at `server_url`.
pub fn ensure(data_dir: &Path, names: &ServingNames, server_url: &str) -> Result<Pki> {
    let tls = data_dir.join("tls");
    fs::create_dir_all(&tls).with_context(|| format!("creating {}", tls.display()))?;

    let (ca_cert_pem, ca_key) = load_or_create_ca(&tls)?;
    let issuer = Issuer::from_ca_cert_pem(&ca_cert_pem, &ca_key).context("parsing the cluster CA")?;

    let (serving_cert_pem, serving_key_pem) = load_or_create(&tls, "serving", || {
        let mut dns = vec![
            "localhost".to_string(),
            "kubernetes".to_string(),
            "kubernetes.default".to_string(),
            "kubernetes.default.svc".to_string(),
            format!("kubernetes.default.svc.{}", names.cluster_domain),
        ];
        if let Ok(host) = fs::read_to_string("/etc/hostname") {
            let host = host.trim();
            if !host.is_empty() {
                dns.push(host.to_string());
            }
        }
        let mut params = CertificateParams::new(dns)?;
        params.subject_alt_names.push(SanType::IpAddress(IpAddr::from([127, 0, 0, 1])));
        params.subject_alt_names.extend(names.ips.iter().copied().map(SanType::IpAddress));
        params.distinguished_name = dn("kube-apiserver", &[]);
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
        let key = KeyPair::generate()?;
        let cert = params.signed_by(&key, &issuer)?;
        Ok((cert.pem(), key.serialize_pem()))
    })?;

    let (admin_cert_pem, admin_key_pem) = load_or_create(&tls, "client-admin", || {
        let (cert, key) = client_cert(&issuer, "admin", &["system:masters"])?;
        Ok((cert, key))
    })?;

    let admin_kubeconfig = data_dir.join("admin.kubeconfig");
    write_private(&admin_kubeconfig, &kubeconfig(server_url, &ca_cert_pem, "admin", &admin_cert_pem, &admin_key_pem))?;

    Ok(Pki { ca_cert_pem, serving_cert_pem, serving_key_pem, admin_kubeconfig })
}

/// Signs a client certificate for `user` in `groups` with the CA; returns (cert PEM, key PEM).
pub fn client_cert(issuer: &Issuer<'_, &KeyPair>, user: &str, groups: &[&str]) -> Result<(String, String), rcgen::Error> {
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    params.distinguished_name = dn(user, groups);
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
    let key = KeyPair::generate()?;
    let cert = params.signed_by(&key, issuer)?;
    Ok((cert.pem(), key.serialize_pem()))
}

/// A kubeconfig with embedded certificates for one user.
pub fn kubeconfig(server_url: &str, ca_pem: &str, user: &str, cert_pem: &str, key_pem: &str) -> String {
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s.as_bytes());
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: corten\n  cluster:\n    server: {server_url}\n    certificate-authority-data: {ca}\nusers:\n- name: {user}\n  user:\n    client-certificate-data: {cert}\n    client-key-data: {key}\ncontexts:\n- name: corten\n  context:\n    cluster: corten\n    user: {user}\ncurrent-context: corten\npreferences: {{}}\n",
        ca = b64(ca_pem),
        cert = b64(cert_pem),
        key = b64(key_pem),
    )
}

fn dn(common_name: &str, organizations: &[&str]) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    for o in organizations {
        dn.push(DnType::OrganizationName, *o);
    }
    dn.push(DnType::CommonName, common_name);
    dn
}

fn load_or_create_ca(tls: &Path) -> Result<(String, KeyPair)> {
    let (cert, key) = load_or_create(tls, "ca", || {
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params.distinguished_name = dn("corten-ca", &[]);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
        let key = KeyPair::generate()?;
        let cert = params.self_signed(&key)?;
        Ok((cert.pem(), key.serialize_pem()))
    })?;
    let key = KeyPair::from_pem(&key).context("parsing the CA key")?;
    Ok((cert, key))
}

/// Returns `<name>.crt`/`<name>.key` from `dir`, creating both with `make` when either is missing.
fn load_or_create(
    dir: &Path,
    name: &str,
    make: impl FnOnce() -> Result<(String, String), rcgen::Error>,
) -> Result<(String, String)> {
    let cert_path = dir.join(format!("{name}.crt"));
    let key_path = dir.join(format!("{name}.key"));
    if cert_path.exists() && key_path.exists() {
        let cert = fs::read_to_string(&cert_path).with_context(|| format!("reading {}", cert_path.display()))?;
        let key = fs::read_to_string(&key_path).with_context(|| format!("reading {}", key_path.display()))?;
        return Ok((cert, key));
    }
    let (cert, key) = make().with_context(|| format!("creating the {name} certificate"))?;
    write_private(&key_path, &key)?;
    fs::write(&cert_path, &cert).with_context(|| format!("writing {}", cert_path.display()))?;
    Ok((cert, key))
}

/// Writes a file readable only by its owner (keys, kubeconfigs).
fn write_private(path: &Path, contents: &str) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = path.with_extension("tmp");
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .with_context(|| format!("writing {}", tmp.display()))?;
    f.write_all(contents.as_bytes())?;
    f.sync_all()?;
    fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creates_once_then_reuses() {
        let dir = tempfile::tempdir().expect("tempdir");
        let names = ServingNames { ips: vec![IpAddr::from([10, 43, 0, 1])], cluster_domain: "cluster.local".into() };
        let first = ensure(dir.path(), &names, "https://127.0.0.1:6443").expect("first start");
        let second = ensure(dir.path(), &names, "https://127.0.0.1:6443").expect("second start");
        assert_eq!(first.ca_cert_pem, second.ca_cert_pem);
        assert_eq!(first.serving_cert_pem, second.serving_cert_pem);
        let kc = fs::read_to_string(&first.admin_kubeconfig).expect("kubeconfig written");
        assert!(kc.contains("server: https://127.0.0.1:6443"));
        assert!(kc.contains("client-certificate-data: "));
    }
}
