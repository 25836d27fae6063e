//! The `loadtest` command: `run` a load against a gateway (a worker of a distributed
//! run is a `run` on its own user range), `merge` workers' results, measure a `cache`
//! phase, run the `staleness` check, or serve the bare axum `baseline`. Exit code 1
//! when a threshold (or the staleness check) fails, 2 on any other error.

use std::{path::PathBuf, process::ExitCode, time::Duration};

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};
use loadtest::{
    cache_experiment::{self, Probes},
    dataset::{Dataset, parse_range},
    journeys::Weights,
    results::Results,
    run::{RunConfig, run},
    staleness::{self, StalenessConfig},
    thresholds::Thresholds,
};
use seeder::{Plan, generate::LOAD_TEST_PASSWORD};

#[derive(Debug, Parser)]
#[command(about = "Ironvessel load tests on goose, with SLO thresholds on exact latencies")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Runs the journeys against a gateway and judges the thresholds.
    Run(RunArgs),
    /// Merges several workers' results JSON and judges the thresholds on the whole.
    Merge {
        /// Results JSON files written by `loadtest run`.
        #[arg(required_unless_present = "dir")]
        results: Vec<PathBuf>,
        /// Also every `worker-*.json` in this directory (as written by `--worker`).
        #[arg(long)]
        dir: Option<PathBuf>,
        /// Thresholds TOML.
        #[arg(long, env = "LOADTEST_THRESHOLDS")]
        thresholds: Option<PathBuf>,
        /// Output directory.
        #[arg(long, env = "LOADTEST_OUT", default_value = "target/loadtest")]
        out: PathBuf,
        /// Report stem.
        #[arg(long, default_value = "merged")]
        label: String,
    },
    /// One phase of the caching experiment: a run (use `--catalog 1` and zero for the
    /// others) with the Redis hit ratio and database queries per read around it;
    /// writes `<label>.phase.json`.
    Cache {
        #[command(flatten)]
        run: RunArgs,
        /// The Redis inventory caches in.
        #[arg(long, default_value = "redis://127.0.0.1:6379")]
        redis_url: String,
        /// The product cache's keys (flushed with `--cold`).
        #[arg(long, default_value = "inventory:product::*")]
        product_keys: String,
        /// The cache's invalidation channel (`<cache prefix>:invalidations`), where
        /// `--cold` also empties the replicas' local tiers.
        #[arg(long, default_value = "inventory:invalidations")]
        invalidations: String,
        /// The inventory database, for queries per read.
        #[arg(long)]
        database_url: Option<String>,
        /// Empty the product cache first.
        #[arg(long)]
        cold: bool,
    },
    /// The staleness check: a manager raises prices while readers read; fails (exit 1)
    /// if a read returns a price older than an acknowledged write.
    Staleness {
        #[command(flatten)]
        run: RunArgs,
        /// Products whose prices change.
        #[arg(long, default_value_t = 5)]
        products: usize,
        /// Concurrent readers.
        #[arg(long, default_value_t = 4)]
        readers: usize,
    },
    /// Serves the bare axum baseline (a fixed product JSON) until killed, or with
    /// `--proxy-to` a bare proxy forwarding every request to a running baseline.
    Baseline {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:0")]
        listen: std::net::SocketAddr,
        /// Forward to this baseline (`http://host:port`) instead of answering.
        #[arg(long)]
        proxy_to: Option<String>,
    },
}

#[derive(Debug, Args)]
struct RunArgs {
    /// The gateway.
    #[arg(long, env = "LOADTEST_HOST", default_value = "http://127.0.0.1:9080")]
    host: String,
    /// Seed of the seeded data (the seeder's `--seed`).
    #[arg(long, env = "LOADTEST_SEED", default_value_t = 42)]
    seed: u64,
    /// Seeded users (the seeder's `--users`).
    #[arg(long, env = "LOADTEST_SEEDED_USERS", default_value_t = 1000)]
    seeded_users: u64,
    /// Seeded products (the seeder's `--products`).
    #[arg(long, env = "LOADTEST_SEEDED_PRODUCTS", default_value_t = 100)]
    seeded_products: u64,
    /// Seeded payments (the seeder's `--payments`).
    #[arg(long, env = "LOADTEST_SEEDED_PAYMENTS", default_value_t = 3000)]
    seeded_payments: u64,
    /// Seeded users this worker logs in as, `START..END`; workers take disjoint ranges.
    #[arg(long, env = "LOADTEST_USER_RANGE", value_parser = parse_range, conflicts_with = "worker")]
    user_range: Option<std::ops::Range<u64>>,
    /// Worker `I` of `N` (`I/N`, 0-based): the I-th of N equal ranges of the seeded
    /// users, results labelled `worker-I` unless `--label` says otherwise.
    #[arg(long, env = "LOADTEST_WORKER", value_parser = parse_worker)]
    worker: Option<(u64, u64)>,
    /// Password of the seeded users (the seeder's `SEEDER_USER_PASSWORD`).
    #[arg(long, env = "LOADTEST_PASSWORD", default_value = LOAD_TEST_PASSWORD, hide_default_value = true)]
    password: String,
    /// Virtual users.
    #[arg(long, short, env = "LOADTEST_USERS", default_value_t = 20)]
    users: usize,
    /// Virtual users started per second.
    #[arg(long, env = "LOADTEST_HATCH_RATE", default_value_t = 10.0)]
    hatch_rate: f64,
    /// Seconds of load once every user started.
    #[arg(long, short = 't', env = "LOADTEST_RUN_TIME", default_value_t = 30)]
    run_time: u64,
    /// Weight of the shopper journey.
    #[arg(long, default_value_t = 6)]
    shopper: usize,
    /// Weight of the returning customer journey.
    #[arg(long, default_value_t = 3)]
    returning: usize,
    /// Weight of the manager journey.
    #[arg(long, default_value_t = 1)]
    manager: usize,
    /// Weight of the catalogue-only journey.
    #[arg(long, default_value_t = 0)]
    catalog: usize,
    /// Think time between steps in milliseconds, `MIN..MAX` (none by default).
    #[arg(long, value_parser = parse_range)]
    wait_ms: Option<std::ops::Range<u64>>,
    /// Seconds a shopper polls for the cart, the payment and the order.
    #[arg(long, default_value_t = 30)]
    poll_deadline: u64,
    /// Thresholds TOML.
    #[arg(long, env = "LOADTEST_THRESHOLDS")]
    thresholds: Option<PathBuf>,
    /// Output directory.
    #[arg(long, env = "LOADTEST_OUT", default_value = "target/loadtest")]
    out: PathBuf,
    /// Report stem.
    #[arg(long, env = "LOADTEST_LABEL", default_value = "run")]
    label: String,
    /// Print goose's console tables.
    #[arg(long)]
    verbose: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: could not start the runtime: {err}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(execute(cli.command)) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(2)
        }
    }
}

/// Runs the command; `Ok(false)` when a threshold failed.
async fn execute(command: Command) -> Result<bool> {
    let (results, json) = match command {
        Command::Baseline { listen, proxy_to } => {
            loadtest::baseline::serve(listen, proxy_to.as_deref()).await?;
            return Ok(true);
        }
        Command::Staleness {
            run,
            products,
            readers,
        } => {
            let config = run_config(run)?;
            let data =
                Dataset::from_plan(&config.plan, config.user_range.clone(), &config.password)?;
            let report = staleness::check(&StalenessConfig {
                gateway: config.host.clone(),
                manager: data
                    .next_manager()
                    .cloned()
                    .context("the seeded plan has no manager")?,
                customer: data.next_customer().clone(),
                products: data.products.iter().copied().take(products).collect(),
                readers,
                duration: config.run_time,
            })
            .await?;
            std::fs::create_dir_all(&config.out_dir)?;
            let path = config
                .out_dir
                .join(format!("{}.staleness.json", config.label));
            std::fs::write(&path, serde_json::to_string_pretty(&report)?)?;
            println!(
                "staleness: {} reads, {} writes, {} errors, {} stale: {}",
                report.reads,
                report.writes,
                report.errors,
                report.stale_count,
                if report.passed() { "PASS" } else { "FAIL" }
            );
            return Ok(report.passed());
        }
        Command::Cache {
            run,
            redis_url,
            product_keys,
            invalidations,
            database_url,
            cold,
        } => {
            let config = run_config(run)?;
            let probes = Probes {
                redis_url,
                product_keys,
                invalidations,
                database_url,
            };
            let phase = cache_experiment::phase(&config.label, &probes, &config, cold).await?;
            let path = config.out_dir.join(format!("{}.phase.json", config.label));
            std::fs::write(&path, serde_json::to_string_pretty(&phase)?)?;
            println!(
                "{}",
                cache_experiment::markdown(std::slice::from_ref(&phase))
            );
            println!("phase: {}", path.display());
            return Ok(true);
        }
        Command::Run(args) => {
            let config = run_config(args)?;
            let outcome = run(&config).await?;
            (outcome.results, outcome.json)
        }
        Command::Merge {
            mut results,
            dir,
            thresholds,
            out,
            label,
        } => {
            if let Some(dir) = dir {
                let mut found: Vec<PathBuf> = std::fs::read_dir(&dir)
                    .with_context(|| format!("could not read {}", dir.display()))?
                    .filter_map(|entry| Some(entry.ok()?.path()))
                    .filter(|path| {
                        path.file_name()
                            .and_then(|n| n.to_str())
                            .is_some_and(|n| n.starts_with("worker-") && n.ends_with(".json"))
                    })
                    .collect();
                found.sort();
                results.extend(found);
            }
            let parts = results
                .iter()
                .map(|path| Results::read(path))
                .collect::<Result<Vec<_>>>()?;
            let mut merged = Results::merge(&label, &parts)?;
            if let Some(path) = thresholds {
                merged.verdict = Some(Thresholds::read(&path)?.evaluate(&merged));
            }
            merged.write(&out, &label)?;
            let json = out.join(format!("{label}.json"));
            (merged, json)
        }
    };
    println!("{}", results.markdown());
    println!("results: {}", json.display());
    let passed = results.verdict.as_ref().is_none_or(|v| v.passed());
    if !passed {
        eprintln!("thresholds FAILED:");
        for check in results.verdict.iter().flat_map(|v| v.failures()) {
            eprintln!("  {}: observed {}", check.rule, check.observed);
        }
    }
    Ok(passed)
}

/// Parses `I/N` with `I < N`.
fn parse_worker(raw: &str) -> Result<(u64, u64), String> {
    let (index, count) = raw
        .split_once('/')
        .ok_or_else(|| format!("{raw:?}: expected I/N, e.g. 0/4"))?;
    let index: u64 = index
        .trim()
        .parse()
        .map_err(|_| format!("{raw:?}: I is not a number"))?;
    let count: u64 = count
        .trim()
        .parse()
        .map_err(|_| format!("{raw:?}: N is not a number"))?;
    if index >= count {
        return Err(format!("{raw:?}: I must be below N"));
    }
    Ok((index, count))
}

fn run_config(args: RunArgs) -> Result<RunConfig> {
    let plan = Plan::with_counts(
        args.seed,
        args.seeded_users,
        args.seeded_products,
        args.seeded_payments,
    );
    let thresholds = args
        .thresholds
        .as_deref()
        .map(Thresholds::read)
        .transpose()
        .context("thresholds")?;
    let (user_range, label) = match args.worker {
        Some((index, workers)) => {
            let per = plan.users / workers;
            let range = index * per..if index + 1 == workers {
                plan.users
            } else {
                (index + 1) * per
            };
            let label = if args.label == "run" {
                format!("worker-{index}")
            } else {
                args.label
            };
            (range, label)
        }
        None => (args.user_range.unwrap_or(0..plan.users), args.label),
    };
    Ok(RunConfig {
        host: args.host,
        user_range,
        plan,
        password: args.password,
        users: args.users,
        hatch_rate: args.hatch_rate,
        run_time: Duration::from_secs(args.run_time),
        weights: Weights {
            shopper: args.shopper,
            returning: args.returning,
            manager: args.manager,
            catalog: args.catalog,
        },
        wait: args
            .wait_ms
            .map(|r| (Duration::from_millis(r.start), Duration::from_millis(r.end))),
        poll_deadline: Duration::from_secs(args.poll_deadline),
        out_dir: args.out,
        label,
        thresholds,
        verbose: args.verbose,
    })
}
