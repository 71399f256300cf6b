//! `corten-bench`: API server throughput and latency, measured from the outside.
//!
//! It talks to any cluster through a kubeconfig (Corten or upstream kube-apiserver), so the same
//! numbers can be taken for both. ConfigMaps are the payload: small, with no controllers reacting
//! to them. Phases, in order, in a fresh namespace that is deleted at the end:
//!
//! 1. create N objects with C concurrent clients;
//! 2. get each object (C concurrent);
//! 3. list all N objects (a few rounds; full list and `limit=500` pages);
//! 4. update each object (C concurrent; unconditional PUT);
//! 5. watch-event delivery: a watch is open while one client updates objects; latency is the time
//!    from sending the update to seeing its event.
//!
//! For each phase it prints throughput and p50/p99 latency. With `--server-pid` (or when a local
//! process named `corten` exists) it also prints the server's resident memory before and after.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::Parser;
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::api::{DeleteParams, ListParams, PostParams, WatchEvent, WatchParams};
use kube::{Api, Client};

#[derive(Parser, Debug)]
#[command(about = "Measure create/get/list/update/watch latency and throughput of a Kubernetes API server")]
struct Args {
    /// Kubeconfig of the cluster to measure (default: KUBECONFIG or ~/.kube/config).
    #[arg(long)]
    kubeconfig: Option<std::path::PathBuf>,
    /// Number of objects to create.
    #[arg(long, default_value_t = 1000)]
    objects: usize,
    /// Concurrent clients.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Watch events to time.
    #[arg(long, default_value_t = 200)]
    watch_events: usize,
    /// PID of the server, for RSS figures (default: a process named `corten`, if any).
    #[arg(long)]
    server_pid: Option<u32>,
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    let client = client(&args).await?;
    let pid = args.server_pid.or_else(find_corten_pid);
    if let Some(rss) = pid.and_then(rss_kib) {
        println!("server RSS before: {:.1} MiB", rss as f64 / 1024.0);
    }
    let namespace = format!("bench-{}", std::process::id());
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let ns: Namespace = serde_json::from_value(serde_json::json!({ "metadata": { "name": namespace } }))?;
    namespaces.create(&PostParams::default(), &ns).await.context("creating the benchmark namespace")?;
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), &namespace);
    let result = run_phases(&api, &args).await;
    let _ = namespaces.delete(&namespace, &DeleteParams::default()).await;
    result?;
    if let Some(rss) = pid.and_then(rss_kib) {
        println!("server RSS after: {:.1} MiB", rss as f64 / 1024.0);
    }
    Ok(())
}

async fn client(args: &Args) -> Result<Client> {
    let config = match &args.kubeconfig {
        Some(path) => {
            let kubeconfig = kube::config::Kubeconfig::read_from(path)?;
            kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default()).await?
        }
        None => kube::Config::infer().await?,
    };
    Ok(Client::try_from(config)?)
}

fn config_map(i: usize, generation: usize) -> ConfigMap {
    let mut data = BTreeMap::new();
    data.insert("index".to_string(), i.to_string());
    data.insert("generation".to_string(), generation.to_string());
    data.insert("payload".to_string(), "x".repeat(256));
    ConfigMap {
        metadata: kube::api::ObjectMeta { name: Some(format!("cm-{i:06}")), ..Default::default() },
        data: Some(data),
        ..Default::default()
    }
}

async fn run_phases(api: &Api<ConfigMap>, args: &Args) -> Result<()> {
    let n = args.objects;
    let c = args.concurrency.max(1);

    let stats = timed(n, c, |i| {
        let api = api.clone();
        async move { api.create(&PostParams::default(), &config_map(i, 0)).await.map(|_| ()) }
    })
    .await?;
    stats.print(&format!("create ({n} objects, concurrency {c})"));

    let stats = timed(n, c, |i| {
        let api = api.clone();
        async move { api.get(&format!("cm-{i:06}")).await.map(|_| ()) }
    })
    .await?;
    stats.print(&format!("get (concurrency {c})"));

    let rounds = 10;
    let stats = timed(rounds, 1, |_| {
        let api = api.clone();
        async move {
            let list = api.list(&ListParams::default()).await?;
            assert_len(list.items.len(), n)
        }
    })
    .await?;
    stats.print(&format!("list all {n} (one request)"));

    let stats = timed(rounds, 1, |_| {
        let api = api.clone();
        async move {
            let mut seen = 0;
            let mut params = ListParams::default().limit(500);
            loop {
                let page = api.list(&params).await?;
                seen += page.items.len();
                match page.metadata.continue_.filter(|c| !c.is_empty()) {
                    Some(token) => params = params.continue_token(&token),
                    None => break,
                }
            }
            assert_len(seen, n)
        }
    })
    .await?;
    stats.print(&format!("list all {n} (pages of 500)"));

    let stats = timed(n, c, |i| {
        let api = api.clone();
        // No resourceVersion: an unconditional update, as upstream allows for ConfigMaps.
        async move { api.replace(&format!("cm-{i:06}"), &PostParams::default(), &config_map(i, 1)).await.map(|_| ()) }
    })
    .await?;
    stats.print(&format!("update (concurrency {c})"));

    watch_latency(api, args.watch_events.min(n)).await?.print("watch event delivery (update sent → event seen)");
    Ok(())
}

fn assert_len(got: usize, want: usize) -> Result<(), kube::Error> {
    if got != want {
        eprintln!("warning: listed {got} objects, expected {want}");
    }
    Ok(())
}

async fn watch_latency(api: &Api<ConfigMap>, events: usize) -> Result<Stats> {
    let rv = api.list_metadata(&ListParams::default().limit(1)).await?.metadata.resource_version.unwrap_or_default();
    let mut stream = api.watch(&WatchParams::default(), &rv).await?.boxed();
    let sent: Arc<std::sync::Mutex<BTreeMap<String, Instant>>> = Arc::default();
    let writer = {
        let (api, sent) = (api.clone(), sent.clone());
        tokio::spawn(async move {
            for i in 0..events {
                let name = format!("cm-{i:06}");
                let mut cm = config_map(i, 2);
                cm.metadata.name = Some(name.clone());
                if let Ok(mut sent) = sent.lock() {
                    sent.insert(name.clone(), Instant::now());
                }
                let patch = serde_json::json!({ "data": { "generation": "2" } });
                let _ = api.patch(&name, &kube::api::PatchParams::default(), &kube::api::Patch::Merge(&patch)).await;
            }
        })
    };
    let started = Instant::now();
    let mut latencies = Vec::with_capacity(events);
    while latencies.len() < events {
        let next = tokio::time::timeout(Duration::from_secs(30), stream.try_next()).await.context("watch stalled")??;
        let Some(event) = next else { break };
        if let WatchEvent::Modified(cm) = event {
            let name = cm.metadata.name.unwrap_or_default();
            if let Some(at) = sent.lock().ok().and_then(|mut s| s.remove(&name)) {
                latencies.push(at.elapsed());
            }
        }
    }
    writer.await?;
    Ok(Stats::new(latencies, started.elapsed()))
}

/// Latencies of one phase and its wall-clock time.
struct Stats {
    latencies: Vec<Duration>,
    elapsed: Duration,
}

impl Stats {
    fn new(mut latencies: Vec<Duration>, elapsed: Duration) -> Self {
        latencies.sort_unstable();
        Self { latencies, elapsed }
    }

    fn percentile(&self, p: f64) -> Duration {
        if self.latencies.is_empty() {
            return Duration::ZERO;
        }
        let idx = ((self.latencies.len() as f64 - 1.0) * p).round() as usize;
        self.latencies[idx.min(self.latencies.len() - 1)]
    }

    fn print(&self, what: &str) {
        let ops = self.latencies.len() as f64 / self.elapsed.as_secs_f64().max(1e-9);
        println!(
            "{what:<52} {:>9.0} ops/s  p50 {:>8.2} ms  p99 {:>8.2} ms  ({} ops)",
            ops,
            self.percentile(0.50).as_secs_f64() * 1e3,
            self.percentile(0.99).as_secs_f64() * 1e3,
            self.latencies.len()
        );
    }
}

/// Runs `op(0..n)` with `concurrency` in flight and records each latency.
async fn timed<F, Fut>(n: usize, concurrency: usize, op: F) -> Result<Stats>
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = Result<(), kube::Error>>,
{
    let started = Instant::now();
    let latencies: Vec<Duration> = futures::stream::iter(0..n)
        .map(|i| {
            let fut = op(i);
            async move {
                let t = Instant::now();
                fut.await.map(|()| t.elapsed())
            }
        })
        .buffer_unordered(concurrency)
        .try_collect()
        .await?;
    Ok(Stats::new(latencies, started.elapsed()))
}

fn find_corten_pid() -> Option<u32> {
    std::fs::read_dir("/proc").ok()?.filter_map(|e| e.ok()).find_map(|e| {
        let pid: u32 = e.file_name().to_str()?.parse().ok()?;
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
        (comm.trim() == "corten").then_some(pid)
    })
}

fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find_map(|l| l.strip_prefix("VmRSS:")).and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}
