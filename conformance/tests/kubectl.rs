//! Stock kubectl against a real `corten server`: the API server issue's acceptance session.
//!
//! Each test starts its own server (a child process on a free port, in a fresh data directory)
//! and drives the `kubectl` on PATH exactly as a user would, asserting on what kubectl prints.
//! The server binary is `$CORTEN_BIN`, or `target/debug/corten` of this workspace (the test
//! command builds it first). The etcd variant needs Debian's `etcd` binary; CI installs it.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A running `corten server` and the kubeconfig to reach it.
struct Server {
    child: Child,
    data_dir: PathBuf,
    kubeconfig: PathBuf,
    extra: Vec<String>,
}

fn corten_bin() -> PathBuf {
    std::env::var_os("CORTEN_BIN").map(PathBuf::from).unwrap_or_else(|| {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/debug/corten")
    })
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("free port")
}

fn fresh_dir(tag: &str) -> PathBuf {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    let dir = std::env::temp_dir().join(format!("corten-e2e-{tag}-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

impl Server {
    fn start(tag: &str, extra: &[&str]) -> Server {
        let data_dir = fresh_dir(tag);
        Self::start_in(data_dir, extra.iter().map(|s| s.to_string()).collect())
    }

    fn start_in(data_dir: PathBuf, extra: Vec<String>) -> Server {
        let bin = corten_bin();
        assert!(bin.exists(), "corten binary not found at {} (build it, or set CORTEN_BIN)", bin.display());
        let port = free_port().to_string();
        let mut child = Command::new(&bin)
            .args(["server", "--data-dir"])
            .arg(&data_dir)
            .args(["--https-port", &port, "--bind-address", "127.0.0.1", "--disable-agent"])
            .args(&extra)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn corten server");
        let stderr = child.stderr.take().expect("stderr");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some((_, path)) = line.split_once("admin kubeconfig: ") {
                    let _ = tx.send(PathBuf::from(path.trim()));
                }
            }
        });
        let kubeconfig = rx.recv_timeout(Duration::from_secs(30)).expect("server did not report ready within 30 s");
        Server { child, data_dir, kubeconfig, extra }
    }

    /// Kills the server with SIGKILL and starts it again on the same data directory.
    fn kill9_and_restart(mut self) -> Server {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let data_dir = self.data_dir.clone();
        let extra = std::mem::take(&mut self.extra);
        std::mem::forget(self);
        Self::start_in(data_dir, extra)
    }

    fn kubectl(&self, args: &[&str], stdin: Option<&str>) -> Output {
        let mut cmd = Command::new("kubectl");
        cmd.env("KUBECONFIG", &self.kubeconfig).env("KUBECACHEDIR", self.data_dir.join("kubectl-cache")).args(args);
        cmd.stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() }).stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("kubectl on PATH");
        if let Some(input) = stdin {
            use std::io::Write;
            child.stdin.take().expect("stdin").write_all(input.as_bytes()).expect("write stdin");
        }
        child.wait_with_output().expect("kubectl output")
    }

    /// Runs kubectl, asserts success, returns stdout.
    fn ok(&self, args: &[&str]) -> String {
        self.ok_in(args, None)
    }

    fn ok_in(&self, args: &[&str], stdin: Option<&str>) -> String {
        let out = self.kubectl(args, stdin);
        let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(out.status.success(), "kubectl {args:?} failed:\nstdout: {stdout}\nstderr: {stderr}");
        stdout.into_owned()
    }

    /// Runs kubectl, asserts failure, returns stderr.
    fn fails(&self, args: &[&str]) -> String {
        self.fails_in(args, None)
    }

    fn fails_in(&self, args: &[&str], stdin: Option<&str>) -> String {
        let out = self.kubectl(args, stdin);
        let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(!out.status.success(), "kubectl {args:?} unexpectedly succeeded:\nstdout: {stdout}");
        stderr.into_owned()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.data_dir);
    }
}

fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if check() {
            return;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!("timed out waiting for: {what}");
}

const DEPLOYMENT_V1: &str = r#"
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: main
        image: busybox:1.36
        env: [{name: MODE, value: one}]
      - name: sidecar
        image: busybox:1.36
"#;

#[test]
fn discovery_and_system_namespaces() {
    let s = Server::start("discovery", &[]);
    let version = s.ok(&["version", "-o", "json"]);
    assert!(version.contains("\"serverVersion\"") && version.contains("v1.33"), "{version}");
    let resources = s.ok(&["api-resources"]);
    for line in [
        "deployments", "deploy", "apps/v1", "Deployment",
    ] {
        assert!(resources.contains(line), "api-resources lacks {line}:\n{resources}");
    }
    let deploy_line = resources.lines().find(|l| l.starts_with("deployments ")).expect("deployments row");
    assert!(deploy_line.split_whitespace().collect::<Vec<_>>() == ["deployments", "deploy", "apps/v1", "true", "Deployment"], "{deploy_line}");
    let all = s.ok(&["api-resources", "--categories=all", "-o", "name"]);
    assert!(all.contains("pods") && all.contains("deployments.apps") && !all.contains("configmaps"), "{all}");
    let versions = s.ok(&["api-versions"]);
    for gv in ["v1", "apps/v1", "batch/v1", "rbac.authorization.k8s.io/v1", "apiextensions.k8s.io/v1", "autoscaling/v2"] {
        assert!(versions.lines().any(|l| l == gv), "api-versions lacks {gv}:\n{versions}");
    }
    let ns = s.ok(&["get", "ns", "-o", "name"]);
    for n in ["default", "kube-system", "kube-public", "kube-node-lease"] {
        assert!(ns.contains(&format!("namespace/{n}")), "{ns}");
    }
    let err = s.fails(&["get", "flurbs"]);
    assert!(err.contains("the server doesn't have a resource type \"flurbs\""), "{err}");
}

#[test]
fn explain_uses_the_openapi_documents() {
    let s = Server::start("explain", &[]);
    let out = s.ok(&["explain", "pod.spec.containers"]);
    assert!(out.contains("KIND:") && out.contains("Pod"), "{out}");
    assert!(out.contains("image") && out.contains("FIELDS:"), "{out}");
}

#[test]
fn configmap_crud_and_error_messages() {
    let s = Server::start("cm", &[]);
    s.ok(&["create", "configmap", "c1", "--from-literal=a=b"]);
    let err = s.fails(&["create", "configmap", "c1", "--from-literal=a=b"]);
    assert!(err.contains("configmaps \"c1\" already exists"), "{err}");
    assert_eq!(s.ok(&["get", "cm", "c1", "-o", "jsonpath={.data.a}"]), "b");
    s.ok(&["label", "cm", "c1", "tier=front"]);
    s.ok(&["annotate", "cm", "c1", "note=hello"]);
    assert_eq!(s.ok(&["get", "cm", "-l", "tier=front", "-o", "name"]).trim(), "configmap/c1");
    assert_eq!(s.ok(&["get", "cm", "c1", "-o", "jsonpath={.metadata.annotations.note}"]), "hello");
    s.ok(&["patch", "cm", "c1", "--type=merge", "-p", r#"{"data":{"m":"1"}}"#]);
    s.ok(&["patch", "cm", "c1", "--type=json", "-p", r#"[{"op":"add","path":"/data/j","value":"2"}]"#]);
    s.ok(&["patch", "cm", "c1", "--type=strategic", "-p", r#"{"data":{"s":"3"}}"#]);
    assert_eq!(s.ok(&["get", "cm", "c1", "-o", "jsonpath={.data}"]), r#"{"a":"b","j":"2","m":"1","s":"3"}"#);
    let err = s.fails(&["patch", "cm", "c1", "--type=json", "-p", r#"[{"op":"test","path":"/data/a","value":"zzz"}]"#]);
    assert!(err.contains("test failed"), "{err}");

    // replace with a stale resourceVersion → 409 Conflict.
    let stale = s.ok(&["get", "cm", "c1", "-o", "json"]);
    s.ok(&["patch", "cm", "c1", "--type=merge", "-p", r#"{"data":{"bump":"1"}}"#]);
    let err = s.fails_in(&["replace", "-f", "-"], Some(&stale));
    assert!(err.contains("the object has been modified; please apply your changes to the latest version and try again"), "{err}");

    // edit through $EDITOR.
    let out = Command::new("kubectl")
        .env("KUBECONFIG", &s.kubeconfig)
        .env("KUBECACHEDIR", s.data_dir.join("kubectl-cache"))
        .env("KUBE_EDITOR", "sed -i -e s/bump:.*/bump:\\ edited/")
        .args(["edit", "cm", "c1"])
        .output()
        .expect("kubectl edit");
    assert!(out.status.success(), "edit failed: {}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(s.ok(&["get", "cm", "c1", "-o", "jsonpath={.data.bump}"]), "edited");

    let table = s.ok(&["get", "cm", "c1"]);
    assert!(table.starts_with("NAME") && table.contains("DATA") && table.contains("AGE"), "{table}");
    let described = s.ok(&["describe", "cm", "c1"]);
    assert!(described.contains("Name:") && described.contains("c1") && described.contains("tier=front"), "{described}");

    s.ok(&["delete", "cm", "c1"]);
    let err = s.fails(&["get", "cm", "c1"]);
    assert!(err.contains("configmaps \"c1\" not found"), "{err}");
    let err = s.fails(&["get", "cm", "c1", "-n", "no-such-ns"]);
    assert!(err.contains("not found"), "{err}");
}

#[test]
fn secrets_and_services() {
    let s = Server::start("svc", &[]);
    s.ok(&["create", "secret", "generic", "s1", "--from-literal=password=hunter2"]);
    assert_eq!(s.ok(&["get", "secret", "s1", "-o", "jsonpath={.data.password}"]), "aHVudGVyMg==");
    assert_eq!(s.ok(&["get", "secret", "s1", "-o", "jsonpath={.type}"]), "Opaque");
    s.ok(&["create", "service", "clusterip", "api", "--tcp=80:8080"]);
    let ip = s.ok(&["get", "svc", "api", "-o", "jsonpath={.spec.clusterIP}"]);
    assert!(ip.starts_with("10.43."), "{ip}");
    s.ok(&["create", "service", "nodeport", "np", "--tcp=80:8080"]);
    let port: u16 = s.ok(&["get", "svc", "np", "-o", "jsonpath={.spec.ports[0].nodePort}"]).parse().expect("nodePort");
    assert!((30000..=32767).contains(&port), "{port}");
    let wide = s.ok(&["get", "svc", "-o", "wide"]);
    assert!(wide.contains("CLUSTER-IP") && wide.contains("SELECTOR"), "{wide}");
    let err = s.fails_in(&["create", "-f", "-"], Some("apiVersion: v1\nkind: Service\nmetadata: {name: Bad_Name}\nspec: {ports: [{port: 80}]}\n"));
    assert!(err.contains("is invalid") && err.contains("metadata.name"), "{err}");
}

#[test]
fn apply_merges_lists_by_key_and_server_side_apply_tracks_owners() {
    let s = Server::start("apply", &[]);
    s.ok_in(&["apply", "-f", "-"], Some(DEPLOYMENT_V1));
    let changed = DEPLOYMENT_V1.replace("value: one", "value: two");
    s.ok_in(&["apply", "-f", "-"], Some(&changed));
    assert_eq!(s.ok(&["get", "deploy", "web", "-o", "jsonpath={.spec.template.spec.containers[*].name}"]), "main sidecar");
    assert_eq!(s.ok(&["get", "deploy", "web", "-o", "jsonpath={.spec.template.spec.containers[0].env[0].value}"]), "two");
    assert_eq!(s.ok(&["get", "deploy", "web", "-o", "jsonpath={.metadata.generation}"]), "2");

    let ssa = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ssa}\ndata: {a: \"1\"}\n";
    s.ok_in(&["apply", "--server-side", "-f", "-"], Some(ssa));
    let managers = s.ok(&["get", "cm", "ssa", "-o", "jsonpath={.metadata.managedFields[*].manager}", "--show-managed-fields"]);
    assert!(managers.contains("kubectl"), "{managers}");
    s.ok(&["patch", "cm", "ssa", "--type=merge", "-p", r#"{"data":{"a":"2"}}"#]);
    let err = s.fails_in(&["apply", "--server-side", "-f", "-"], Some(ssa));
    assert!(err.contains("conflict"), "{err}");
    s.ok_in(&["apply", "--server-side", "--force-conflicts", "-f", "-"], Some(ssa));
    assert_eq!(s.ok(&["get", "cm", "ssa", "-o", "jsonpath={.data.a}"]), "1");
}

#[test]
fn dry_run_and_strict_validation() {
    let s = Server::start("dryrun", &[]);
    let out = s.ok(&["create", "configmap", "dry", "--from-literal=a=b", "--dry-run=server", "-o", "name"]);
    assert_eq!(out.trim(), "configmap/dry");
    let err = s.fails(&["get", "cm", "dry"]);
    assert!(err.contains("not found"), "{err}");
    let unknown = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: strict}\ndata: {a: b}\nbogus: 1\n";
    let err = s.fails_in(&["create", "--validate=strict", "-f", "-"], Some(unknown));
    assert!(err.contains("bogus"), "{err}");
    s.fails(&["get", "cm", "strict"]);
}

#[test]
fn chunked_lists_watch_and_deletion() {
    let s = Server::start("chunks", &[]);
    let mut items = Vec::new();
    for i in 0..200 {
        items.push(format!("{{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{{\"name\":\"c{i:03}\",\"labels\":{{\"batch\":\"x\"}}}}}}"));
    }
    let list = format!("{{\"apiVersion\":\"v1\",\"kind\":\"List\",\"items\":[{}]}}", items.join(","));
    s.ok_in(&["create", "-f", "-"], Some(&list));
    let names = s.ok(&["get", "cm", "-l", "batch=x", "--chunk-size=7", "-o", "name"]);
    assert_eq!(names.lines().count(), 200, "{names}");

    // get -w sees a later change.
    let mut watch = Command::new("kubectl")
        .env("KUBECONFIG", &s.kubeconfig)
        .env("KUBECACHEDIR", s.data_dir.join("kubectl-cache"))
        .args(["get", "cm", "c001", "-w", "-o", "jsonpath={.data.v}{\"\\n\"}"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("kubectl get -w");
    let stdout = watch.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    std::thread::sleep(Duration::from_millis(500));
    s.ok(&["patch", "cm", "c001", "--type=merge", "-p", r#"{"data":{"v":"changed"}}"#]);
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut seen = false;
    while Instant::now() < deadline && !seen {
        if let Ok(line) = rx.recv_timeout(Duration::from_millis(200)) {
            seen = line.trim() == "changed";
        }
    }
    let _ = watch.kill();
    let _ = watch.wait();
    assert!(seen, "kubectl get -w did not show the change");

    s.ok(&["delete", "cm", "-l", "batch=x"]);
    assert_eq!(s.ok(&["get", "cm", "-l", "batch=x", "-o", "name"]).trim(), "");
    s.ok(&["create", "configmap", "w", "--from-literal=a=b"]);
    let waiter = std::thread::spawn({
        let (kubeconfig, cache) = (s.kubeconfig.clone(), s.data_dir.join("kubectl-cache"));
        move || Command::new("kubectl").env("KUBECONFIG", kubeconfig).env("KUBECACHEDIR", cache).args(["wait", "--for=delete", "cm/w", "--timeout=30s"]).output()
    });
    std::thread::sleep(Duration::from_millis(500));
    s.ok(&["delete", "cm", "w"]);
    let out = waiter.join().expect("join").expect("kubectl wait");
    assert!(out.status.success(), "wait --for=delete: {}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn namespace_deletion_removes_its_content() {
    let s = Server::start("nsdel", &[]);
    s.ok(&["create", "namespace", "doomed"]);
    s.ok(&["create", "configmap", "inside", "-n", "doomed", "--from-literal=a=b"]);
    s.ok(&["delete", "namespace", "doomed", "--wait=false"]);
    eventually("namespace doomed to disappear", || !s.kubectl(&["get", "ns", "doomed"], None).status.success());
    let err = s.fails(&["get", "cm", "inside", "-n", "doomed"]);
    assert!(err.contains("not found"), "{err}");
}

#[test]
fn data_survives_kill_9_on_the_embedded_store() {
    let s = Server::start("durable", &[]);
    s.ok(&["create", "configmap", "keep", "--from-literal=a=b"]);
    let rv = s.ok(&["get", "cm", "keep", "-o", "jsonpath={.metadata.resourceVersion}"]);
    let s = s.kill9_and_restart();
    assert_eq!(s.ok(&["get", "cm", "keep", "-o", "jsonpath={.data.a}"]), "b");
    assert_eq!(s.ok(&["get", "cm", "keep", "-o", "jsonpath={.metadata.resourceVersion}"]), rv);
    s.ok(&["create", "configmap", "after", "--from-literal=a=b"]);
    let rv2: u64 = s.ok(&["get", "cm", "after", "-o", "jsonpath={.metadata.resourceVersion}"]).parse().expect("rv");
    assert!(rv2 > rv.parse::<u64>().expect("rv"), "revisions must keep increasing after a restart");
}

/// A throwaway etcd on loopback.
struct Etcd {
    child: Child,
    dir: PathBuf,
    url: String,
}

impl Etcd {
    fn start() -> Etcd {
        let dir = fresh_dir("etcd");
        let (client, peer) = (free_port(), free_port());
        let url = format!("http://127.0.0.1:{client}");
        let child = Command::new("etcd")
            .arg("--data-dir")
            .arg(dir.join("data"))
            .args(["--listen-client-urls", &url, "--advertise-client-urls", &url])
            .args(["--listen-peer-urls", &format!("http://127.0.0.1:{peer}")])
            .args(["--initial-advertise-peer-urls", &format!("http://127.0.0.1:{peer}")])
            .args(["--initial-cluster", &format!("default=http://127.0.0.1:{peer}")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("etcd on PATH (Debian etcd-server)");
        Etcd { child, dir, url }
    }
}

impl Drop for Etcd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[test]
fn the_same_session_on_etcd() {
    let etcd = Etcd::start();
    let s = Server::start("etcd", &["--etcd-endpoints", &etcd.url]);
    s.ok(&["create", "configmap", "e1", "--from-literal=a=b"]);
    let err = s.fails(&["create", "configmap", "e1", "--from-literal=a=b"]);
    assert!(err.contains("already exists"), "{err}");
    s.ok_in(&["apply", "-f", "-"], Some(DEPLOYMENT_V1));
    s.ok(&["patch", "deploy", "web", "--type=strategic", "-p", r#"{"spec":{"template":{"spec":{"containers":[{"name":"main","image":"busybox:1.37"}]}}}}"#]);
    assert_eq!(s.ok(&["get", "deploy", "web", "-o", "jsonpath={.spec.template.spec.containers[*].image}"]), "busybox:1.37 busybox:1.36");
    let s = s.kill9_and_restart();
    assert_eq!(s.ok(&["get", "cm", "e1", "-o", "jsonpath={.data.a}"]), "b");
    assert_eq!(s.ok(&["get", "deploy", "web", "-o", "jsonpath={.spec.replicas}"]), "2");
}
