//! `corten-conformance`: runs the conformance tests against the cluster of a kubeconfig and
//! prints `PASS|FAIL|SKIP` lines, a summary, and optionally a JUnit XML report.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use clap::Parser;
use corten_conformance::{coverage, junit, runner, suite};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};
use regex::Regex;

/// Run Corten's conformance tests (named after upstream [Conformance] tests) against a cluster.
#[derive(Debug, Parser)]
#[command(name = "corten-conformance", version)]
struct Cli {
    /// Kubeconfig of the cluster under test (default: $KUBECONFIG, ~/.kube/config, or in-cluster).
    #[arg(long)]
    kubeconfig: Option<PathBuf>,
    /// Run only tests whose name matches this regular expression.
    #[arg(long)]
    focus: Option<Regex>,
    /// Do not run tests whose name matches this regular expression.
    #[arg(long)]
    skip: Option<Regex>,
    /// How many tests run at once; `[Serial]` tests always run alone, after the others.
    #[arg(long, default_value_t = 4)]
    parallel: usize,
    /// Time limit per test, in seconds.
    #[arg(long, default_value_t = 300)]
    timeout_seconds: u64,
    /// Write a JUnit XML report here.
    #[arg(long)]
    junit: Option<PathBuf>,
    /// Print the names of the selected tests and exit.
    #[arg(long)]
    list: bool,
    /// Print how many upstream tests are ported, not yet ported, or not applicable, and exit.
    #[arg(long)]
    coverage: bool,
    /// A file of known failures (`name<TAB>reason` per line, `#` comments): they still run and are
    /// reported, but do not make the exit status fail.
    #[arg(long)]
    known_failures: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt().with_writer(std::io::stderr).with_env_filter(
        tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
    ).init();
    match run(Cli::parse()).await {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(2)
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    if cli.coverage {
        let entries = coverage::parse(coverage::COVERAGE_TSV)?;
        println!("{}", coverage::report(&entries));
        return Ok(ExitCode::SUCCESS);
    }
    let tests = suite::all();
    let selected = runner::select(&tests, cli.focus.as_ref(), cli.skip.as_ref());
    if cli.list {
        for test in &selected {
            println!("{}", test.name);
        }
        return Ok(ExitCode::SUCCESS);
    }
    let client = client(cli.kubeconfig.as_ref()).await?;
    let options = runner::RunOptions {
        parallel: cli.parallel,
        timeout: Duration::from_secs(cli.timeout_seconds),
        kubeconfig: cli.kubeconfig.clone(),
    };
    println!("Running {} of {} tests", selected.len(), tests.len());
    let results = runner::run(&client, &selected, &options, |result| {
        println!("{}", result.report_line());
        match &result.outcome {
            runner::Outcome::Failed(message) => println!("    {}", message.replace('\n', "\n    ")),
            runner::Outcome::Skipped(reason) => println!("    {reason}"),
            runner::Outcome::Passed => {}
        }
    })
    .await;
    if let Some(path) = &cli.junit {
        std::fs::write(path, junit::render("corten-conformance", &results))
            .with_context(|| format!("writing JUnit report {}", path.display()))?;
    }
    let known_text = match &cli.known_failures {
        Some(path) => std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?,
        None => String::new(),
    };
    let known = parse_known_failures(&known_text);
    let mut unexpected = false;
    let mut known_lines = Vec::new();
    for result in &results {
        let reason = known.iter().find(|(name, _)| *name == result.name).map(|(_, reason)| reason);
        match (&result.outcome, reason) {
            (runner::Outcome::Failed(_), Some(reason)) => known_lines.push(format!("  KNOWN FAILURE {} ({reason})", result.name)),
            (runner::Outcome::Failed(_), None) => unexpected = true,
            (runner::Outcome::Passed, Some(_)) => known_lines.push(format!("  NOW PASSES (remove from the known failures) {}", result.name)),
            _ => {}
        }
    }
    if !known_lines.is_empty() {
        println!("Known failures (they do not fail the run):\n{}", known_lines.join("\n"));
    }
    println!("{}", runner::summary(&results));
    Ok(if unexpected { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}

/// `name<TAB>reason` lines; blank lines and `#` comments are ignored.
fn parse_known_failures(text: &str) -> Vec<(&str, &str)> {
    text.lines()
        .map(str::trim_end)
        .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        .map(|l| l.split_once('\t').unwrap_or((l, "no reason given")))
        .collect()
}

/// A client from an explicit kubeconfig file, or from the usual inference chain.
async fn client(kubeconfig: Option<&PathBuf>) -> anyhow::Result<Client> {
    let config = match kubeconfig {
        Some(path) => {
            let file = Kubeconfig::read_from(path).with_context(|| format!("reading kubeconfig {}", path.display()))?;
            Config::from_custom_kubeconfig(file, &KubeConfigOptions::default()).await?
        }
        None => Config::infer().await.context("finding a kubeconfig")?,
    };
    Ok(Client::try_from(config)?)
}
