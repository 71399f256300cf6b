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
    println!("{}", runner::summary(&results));
    let failed = results.iter().any(|r| matches!(r.outcome, runner::Outcome::Failed(_)));
    Ok(if failed { ExitCode::FAILURE } else { ExitCode::SUCCESS })
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
