//! `cargo xtask perf`: the short versions of every load-test experiment on this machine,
//! written to `target/perf/report.md` with tables and PNG plots.
//!
//! It builds the shop, the seeder and the load client in release mode, seeds fresh
//! `perf_*` databases, and runs the shop as processes on the dev ports (so `cargo xtask
//! up` must not be running). Then, each step a `loadtest` child process whose results
//! JSON it reads:
//!
//! 1. the baseline: the catalogue journey against a bare axum handler;
//! 2. the mixed journeys with the SLO thresholds, sampling every service's RSS;
//! 3. two workers on disjoint user ranges and `loadtest merge`;
//! 4. caching: cold and warm with the cache on; the baseline again and once behind a
//!    bare proxy (what one hop costs); warm again (the ratio is the faster of the two
//!    warm runs over the faster of the baseline's two); the staleness check; the cache
//!    off;
//! 5. scaling: 1, 2 and 4 replicas of the scaled service, each in a cgroup with a CPU
//!    quota (as a Kubernetes CPU limit is enforced), in rounds whose medians give the
//!    efficiencies, then a replica added and one killed mid-run.
//!
//! Nothing here asserts a speed: the numbers are measured and reported.

use std::{
    collections::BTreeMap,
    fmt::Write as _,
    fs,
    io::{BufRead, BufReader},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::{Context, Result, bail};
use serde_json::Value;
use url::Url;

use crate::up::services::{self, Instance, SERVICES, Stage};

/// Options of `cargo xtask perf`.
#[derive(Debug, clap::Args)]
pub(crate) struct PerfArgs {
    /// The service to scale (behind the gateway).
    #[arg(long, default_value = "inventory")]
    service: String,
    /// CPUs each replica of the scaled service may use (its cgroup quota). Small
    /// enough that the replicas, not the machine, are the bottleneck at 4 replicas.
    /// At 0.1 CPU the 4-replica step was no longer limited by the replicas on a 2-CPU
    /// machine (efficiency 0.71 there, 0.94 at 2 replicas, with 128 users).
    #[arg(long, default_value_t = 0.05)]
    cpu_per_replica: f64,
    /// The CFS period of the quota, in ms (the kubelet's `--cpu-cfs-quota-period`,
    /// 100 ms by default there). With 100 ms a replica at 0.05 CPU runs 5 ms and then
    /// stalls 95 ms, so a closed-loop test measures the stalls: enough users to keep four
    /// replicas busy through them leave one replica so far behind that the gateway
    /// ejects it. A shorter period spreads the same share evenly. The kernel's smallest
    /// quota is 1 ms, so the period must be at least 1 ms / `cpu-per-replica`.
    #[arg(long, default_value_t = 20)]
    cfs_period_ms: u64,
    /// Virtual users of each run (except the scaling steps).
    #[arg(long, default_value_t = 32)]
    users: usize,
    /// Virtual users of each scaling step: enough that the replicas, not the users, are
    /// the limit. A closed-loop user whose request waits in a throttled replica sends
    /// nothing until it is answered, so too few users cap the throughput of many
    /// replicas below what they can serve. 32 keep every replica at its whole quota
    /// (the report's "replica CPU of quota"); with 64 the single replica held ~64
    /// requests (p50 60 ms) and most runs showed efficiencies above 1 (the measured runs
    /// are in loadtest/README.md).
    #[arg(long, default_value_t = 32)]
    scaling_users: usize,
    /// Rounds of the scaling steps (1, 2 and 4 replicas, in that order, each round).
    /// The efficiencies are taken from each step's median throughput across rounds,
    /// and every round is in the report: on a 2-CPU machine one round's efficiency at
    /// 2 replicas ranged from 0.72 to 1.26 between runs (loadtest/README.md).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..))]
    scaling_rounds: u32,
    /// Seconds of each measured run.
    #[arg(long, default_value_t = 15)]
    seconds: u64,
    /// Seeded users, products and payments.
    #[arg(long, default_value_t = 2000)]
    seeded_users: u64,
    #[arg(long, default_value_t = 200)]
    seeded_products: u64,
    #[arg(long, default_value_t = 4000)]
    seeded_payments: u64,
}

const SEED: u64 = 42;
const PREFIX: &str = "perf";

/// Runs `cargo xtask perf`.
pub(crate) fn run(root: &Path, args: &PerfArgs) -> Result<()> {
    let runtime = tokio::runtime::Runtime::new().context("could not start the tokio runtime")?;
    runtime.block_on(perf(root, args))
}

async fn perf(root: &Path, args: &PerfArgs) -> Result<()> {
    let scaled = services::service(&args.service)
        .filter(|s| s.gateway_pool.is_some())
        .with_context(|| format!("{}: not a service behind the gateway", args.service))?;
    let mut build = vec!["build", "--release", "-p", "loadtest", "-p", "seeder"];
    for service in SERVICES {
        build.extend(["-p", service.package]);
    }
    crate::cargo(root, &build)?;
    // The build is not part of the report's time.
    let started = Instant::now();
    let bin = crate::up::target_directory(root)?.join("release");
    let out = root.join("target/perf");
    let runs = out.join("runs");
    let logs = out.join("logs");
    fs::create_dir_all(&runs)?;
    // This run's logs only (they are appended to while it runs).
    if logs.exists() {
        fs::remove_dir_all(&logs)?;
    }
    fs::create_dir_all(&logs)?;

    let database = Url::parse(
        &std::env::var("IRONVESSEL_DATABASE_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned()),
    )?;
    let redis_url =
        std::env::var("IRONVESSEL_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    println!("==> fresh perf databases, seeded");
    fresh_databases(&database).await?;
    forget_cached(&redis_url).await?;
    seed(&bin, &database, args)?;

    let mut report = Report::default();
    let load = Load {
        bin: bin.join("loadtest"),
        runs: runs.clone(),
        args: vec![
            "--seed".into(),
            SEED.to_string(),
            "--seeded-users".into(),
            args.seeded_users.to_string(),
            "--seeded-products".into(),
            args.seeded_products.to_string(),
            "--seeded-payments".into(),
            args.seeded_payments.to_string(),
        ],
        users: args.users,
    };
    let catalog = [
        "--catalog",
        "1",
        "--shopper",
        "0",
        "--returning",
        "0",
        "--manager",
        "0",
    ];
    let seconds = args.seconds.to_string();

    println!("==> baseline: bare axum handler");
    report
        .baselines
        .push(BaselineRun::measure(&load, &catalog, &seconds, "baseline").await?);

    let mut ports: Vec<Instance> = SERVICES.iter().map(|s| services::instance(s, 1)).collect();
    ports.extend((2..=4).map(|replica| services::instance(scaled, replica)));
    for instance in &ports {
        if std::net::TcpListener::bind(("127.0.0.1", instance.port)).is_err() {
            bail!(
                "port {} ({instance}) is in use: stop `cargo xtask up` (or whatever holds it) first",
                instance.port
            );
        }
    }
    let cgroups = Cgroups::detect();
    let mut shop = Shop::new(&bin, &logs, &database, &redis_url, cgroups);
    shop.cpu_per_replica = args.cpu_per_replica;
    shop.cfs_period_us = args.cfs_period_ms * 1000;
    let result = experiments(
        &mut shop,
        &mut report,
        &load,
        args,
        scaled,
        &catalog,
        &seconds,
        &redis_url,
    )
    .await;
    shop.stop_all();
    shop.cleanup();
    result?;

    report.constraint = shop_constraint(&shop, args);
    report.elapsed_secs = started.elapsed().as_secs_f64();
    let text = report.markdown(&out, args, scaled.name);
    fs::write(out.join("report.md"), &text)?;
    println!("{text}");
    println!("report: {}", out.join("report.md").display());
    Ok(())
}

fn shop_constraint(shop: &Shop, args: &PerfArgs) -> String {
    match &shop.cgroups {
        Some(cgroups) => format!(
            "each replica of the scaled service in its own cgroup ({}) limited to {} CPU ({} µs per {} µs period), as the kubelet enforces a CPU limit, and started with TOKIO_WORKER_THREADS={} (the CPUs a container with that limit reports to the runtime)",
            cgroups.describe(),
            args.cpu_per_replica,
            quota_us(args.cpu_per_replica, args.cfs_period_ms * 1000),
            args.cfs_period_ms * 1000,
            worker_threads(args.cpu_per_replica),
        ),
        None => "no writable cgroup CPU controller: replicas were NOT CPU-limited, scaling figures only show load spreading".to_owned(),
    }
}

/// Runtime worker threads for a replica limited to `cpus`: what
/// `std::thread::available_parallelism` returns inside a container with that CPU limit
/// (the quota rounded up). Our replicas are put into their cgroup after they start, so
/// they would otherwise size their runtime by the whole machine and spend the quota on
/// threads waking each other.
fn worker_threads(cpus: f64) -> u64 {
    (cpus.ceil() as u64).max(1)
}

#[allow(clippy::too_many_arguments)] // One call site; a struct would only rename them.
async fn experiments(
    shop: &mut Shop,
    report: &mut Report,
    load: &Load,
    args: &PerfArgs,
    scaled: &'static services::Service,
    catalog: &[&str],
    seconds: &str,
    redis_url: &str,
) -> Result<()> {
    println!("==> the shop, one replica each");
    shop.start_plan(&[], true).await?;

    println!("==> mixed journeys with thresholds, RSS sampled");
    let thresholds = shop.root_thresholds();
    let sampler = RssSampler::start(shop.pids());
    let slo = load.run_allow_fail(
        "slo",
        &services::gateway_url(),
        &["--run-time", seconds, "--thresholds", &thresholds],
    )?;
    report.rss = sampler.stop();
    report.slo = Some(slo);

    println!("==> distributed: two workers, merge");
    let half = args.seeded_users / 2;
    let workers = [
        (format!("0..{half}"), "worker-1"),
        (format!("{half}..{}", args.seeded_users), "worker-2"),
    ];
    // Each worker ramps its users up over about two seconds, as a cluster's workers
    // would: started all at once, both workers' logins queue together for identity's
    // password hashing and the login p95 measures that burst, not the merge.
    let users = args.users.to_string();
    let ramp = (args.users / 2).max(1).to_string();
    let mut children = Vec::new();
    for (range, label) in &workers {
        children.push(load.spawn(
            label,
            &services::gateway_url(),
            &[
                "--run-time",
                "8",
                "--user-range",
                range,
                "--users",
                &users,
                "--hatch-rate",
                &ramp,
            ],
        )?);
    }
    for mut child in children {
        child.wait()?;
    }
    let merged = Command::new(&load.bin)
        .arg("merge")
        .arg(load.runs.join("worker-1.json"))
        .arg(load.runs.join("worker-2.json"))
        .args(["--thresholds", &thresholds, "--label", "merged"])
        .arg("--out")
        .arg(&load.runs)
        .stdout(Stdio::null())
        .status()?;
    report.merge_exit = merged.code();
    report.merged = Some(read_json(&load.runs.join("merged.json"))?);

    println!("==> caching: on cold, on warm, staleness");
    let inventory_db = services::database_url(&shop.database, &format!("{PREFIX}_inventory"));
    let keys = format!("{PREFIX}:inventory:product::*");
    let cache_args = |label: &str, cold: bool| {
        let mut v: Vec<String> = vec![
            "--redis-url".into(),
            redis_url.to_owned(),
            "--product-keys".into(),
            keys.clone(),
            "--invalidations".into(),
            format!("{PREFIX}:inventory:invalidations"),
            "--database-url".into(),
            inventory_db.clone(),
            "--run-time".into(),
            seconds.to_owned(),
            "--label".into(),
            label.to_owned(),
        ];
        v.extend(catalog.iter().map(|s| (*s).to_owned()));
        if cold {
            v.push("--cold".into());
        }
        v
    };
    report
        .cache
        .push(load.cache(&cache_args("cache on, cold", true))?);
    let warm = async |label: &str, report: &mut Report| -> Result<()> {
        let before = CpuSample::take(&shop.pids(), Some(redis_url)).await;
        report.cache.push(load.cache(&cache_args(label, false))?);
        let cpu = CpuSample::take(&shop.pids(), Some(redis_url))
            .await
            .since(&before);
        report.cpu_warm.push(cpu);
        Ok(())
    };
    warm(WARM_RUNS[0], report).await?;
    println!("==> baseline again");
    report
        .baselines
        .push(BaselineRun::measure(load, catalog, seconds, "baseline-2").await?);
    println!("==> baseline behind a bare proxy");
    report.proxied =
        Some(BaselineRun::measure_proxied(load, catalog, seconds, "baseline-proxied").await?);
    println!("==> caching: on warm, again");
    warm(WARM_RUNS[1], report).await?;
    report.staleness = Some(load.staleness(&services::gateway_url())?);

    println!("==> caching: off");
    let inventory = services::service("inventory").context("inventory")?;
    shop.restart_service(inventory, 1, &[("CACHE_ENABLED", "false")])
        .await?;
    report
        .cache
        .push(load.cache(&cache_args("cache off", false))?);
    shop.restart_service(inventory, 1, &[]).await?;

    println!("==> scaling {} under a CPU quota", scaled.name);
    let scaling_users = users_args(args.scaling_users);
    let scaling_users: Vec<&str> = scaling_users.iter().map(String::as_str).collect();
    for round in 1..=args.scaling_rounds {
        for n in SCALING_STEPS {
            shop.scale(scaled, n, n).await?;
            let label = format!("scale-{n}-round-{round}");
            let replicas = shop.replica_pids(scaled.name);
            let before = CpuSample::take(&replicas, None).await;
            let opened = tcp_active_opens();
            let started = Instant::now();
            let results = load.run(
                &label,
                &services::gateway_url(),
                &[catalog, &["--run-time", seconds], &scaling_users].concat(),
            )?;
            let cpu = CpuSample::take(&replicas, None)
                .await
                .since(&before)
                .total_of(&replicas);
            report.scaling.push(ScalingStep {
                round,
                replicas: n,
                results,
                cpu_secs: cpu,
                wall_secs: started.elapsed().as_secs_f64(),
                quota: shop.cgroups.is_some().then_some(args.cpu_per_replica),
                connections: tcp_active_opens()
                    .zip(opened)
                    .map(|(now, then)| now.saturating_sub(then)),
            });
        }
    }

    println!("==> a replica added and one killed mid-run");
    // The gateway knows three replicas; the third starts mid-run.
    shop.scale(scaled, 3, 2).await?;
    let mut child = load.spawn(
        "events",
        &services::gateway_url(),
        &[catalog, &["--run-time", "20"]].concat(),
    )?;
    let t0 = Instant::now();
    tokio::time::sleep(Duration::from_secs(7)).await;
    let added_at = t0.elapsed().as_secs_f64();
    shop.start_replica(scaled, 3).await?;
    tokio::time::sleep(Duration::from_secs(6)).await;
    let killed_at = t0.elapsed().as_secs_f64();
    shop.kill(&format!("{}-1", scaled.name));
    let status = tokio::task::spawn_blocking(move || child.wait()).await??;
    if !status.success() {
        println!("note: the events run exited with {status}");
    }
    report.events = Some((
        read_json(&load.runs.join("events.json"))?,
        added_at,
        killed_at,
    ));
    Ok(())
}

fn read_json(path: &Path) -> Result<Value> {
    let text = fs::read_to_string(path).with_context(|| format!("no {}", path.display()))?;
    Ok(serde_json::from_str(&text)?)
}

async fn fresh_databases(base: &Url) -> Result<()> {
    use sqlx::{AssertSqlSafe, Connection as _};
    let mut conn = sqlx::PgConnection::connect(base.as_str()).await?;
    for service in SERVICES.iter().filter_map(|s| s.database) {
        // The names come from the SERVICES table, never from input.
        let name = format!("{PREFIX}_{service}");
        sqlx::raw_sql(AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
        )))
        .execute(&mut conn)
        .await
        .with_context(|| format!("could not drop database {name}"))?;
        sqlx::raw_sql(AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
            .execute(&mut conn)
            .await
            .with_context(|| format!("could not create database {name}"))?;
    }
    Ok(())
}

/// Deletes every Redis key under the perf prefix. The databases are new, but the same
/// seed gives the same customers, so a list cached by an earlier run (with payment ids
/// the new databases hand out again) would otherwise be served as if it were current.
async fn forget_cached(redis_url: &str) -> Result<()> {
    let client = redis::Client::open(redis_url)?;
    let mut conn = client
        .get_multiplexed_async_connection()
        .await
        .with_context(|| format!("could not reach Redis at {redis_url}"))?;
    let mut cursor: u64 = 0;
    let mut forgotten = 0;
    loop {
        let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(format!("{PREFIX}:*"))
            .arg("COUNT")
            .arg(1000)
            .query_async(&mut conn)
            .await?;
        if !keys.is_empty() {
            forgotten += keys.len();
            redis::cmd("UNLINK")
                .arg(&keys)
                .query_async::<()>(&mut conn)
                .await?;
        }
        if next == 0 {
            break;
        }
        cursor = next;
    }
    println!("    {forgotten} cached entries of earlier runs removed");
    Ok(())
}

fn seed(bin: &Path, base: &Url, args: &PerfArgs) -> Result<()> {
    let mut command = Command::new(bin.join("seeder"));
    command.args([
        "run",
        "--no-progress",
        "--seed",
        &SEED.to_string(),
        "--users",
        &args.seeded_users.to_string(),
        "--products",
        &args.seeded_products.to_string(),
        "--payments",
        &args.seeded_payments.to_string(),
    ]);
    for (service, database) in [
        ("IDENTITY", "identity"),
        ("ACCOUNT", "account"),
        ("INVENTORY", "inventory"),
        ("ORDER", "orders"),
        ("PAYMENT", "payment"),
    ] {
        command.env(
            format!("SEEDER_{service}_DATABASE_URL"),
            services::database_url(base, &format!("{PREFIX}_{database}")),
        );
    }
    let status = command.status().context("could not run the seeder")?;
    if !status.success() {
        bail!("the seeder failed with {status}");
    }
    Ok(())
}

/// Runs the `loadtest` binary.
struct Load {
    bin: PathBuf,
    runs: PathBuf,
    args: Vec<String>,
    /// Virtual users unless a run says otherwise.
    users: usize,
}

/// `--users N --hatch-rate R`: every user started within about a second.
fn users_args(users: usize) -> [String; 4] {
    [
        "--users".into(),
        users.to_string(),
        "--hatch-rate".into(),
        users.max(50).to_string(),
    ]
}

impl Load {
    fn command(&self, subcommand: &str, label: &str, host: &str, extra: &[&str]) -> Command {
        let mut command = Command::new(&self.bin);
        command
            .arg(subcommand)
            .args(&self.args)
            .args(["--host", host, "--label", label])
            .arg("--out")
            .arg(&self.runs)
            .args(extra)
            .stdout(Stdio::null());
        if !extra.contains(&"--users") {
            command.args(users_args(self.users));
        }
        command
    }

    fn spawn(&self, label: &str, host: &str, extra: &[&str]) -> Result<Child> {
        Ok(self.command("run", label, host, extra).spawn()?)
    }

    /// A run; its results JSON. Fails unless it exits 0.
    fn run(&self, label: &str, host: &str, extra: &[&str]) -> Result<Value> {
        let status = self.command("run", label, host, extra).status()?;
        if !status.success() {
            bail!("loadtest run {label} failed with {status}");
        }
        read_json(&self.runs.join(format!("{label}.json")))
    }

    /// A run whose thresholds may fail (exit 1); still its results JSON.
    fn run_allow_fail(&self, label: &str, host: &str, extra: &[&str]) -> Result<Value> {
        let status = self.command("run", label, host, extra).status()?;
        if !matches!(status.code(), Some(0 | 1)) {
            bail!("loadtest run {label} failed with {status}");
        }
        read_json(&self.runs.join(format!("{label}.json")))
    }

    fn cache(&self, args: &[String]) -> Result<Value> {
        let label = args
            .iter()
            .skip_while(|a| *a != "--label")
            .nth(1)
            .cloned()
            .unwrap_or_default();
        let mut command = Command::new(&self.bin);
        command
            .arg("cache")
            .args(&self.args)
            .args(users_args(self.users))
            .args(["--host", &services::gateway_url()])
            .arg("--out")
            .arg(&self.runs)
            .args(args)
            .stdout(Stdio::null());
        let status = command.status()?;
        if !status.success() {
            bail!("loadtest cache {label} failed with {status}");
        }
        read_json(&self.runs.join(format!("{label}.phase.json")))
    }

    fn staleness(&self, host: &str) -> Result<Value> {
        let status = self
            .command("staleness", "staleness", host, &["--run-time", "5"])
            .status()?;
        let mut report = read_json(&self.runs.join("staleness.staleness.json"))?;
        report["exit"] = status.code().into();
        Ok(report)
    }
}

/// The bare axum baseline process.
struct Baseline {
    child: Child,
    url: String,
}

impl Baseline {
    /// The baseline, or with `proxy_to` the bare proxy in front of that baseline URL.
    fn start(loadtest: &Path, proxy_to: Option<&str>) -> Result<Self> {
        let mut command = Command::new(loadtest);
        command.args(["baseline", "--listen", "127.0.0.1:0"]);
        if let Some(url) = proxy_to {
            command.args(["--proxy-to", url]);
        }
        let mut child = command.stdout(Stdio::piped()).spawn()?;
        let stdout = child.stdout.take().context("baseline stdout")?;
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line)?;
        let url = line
            .trim()
            .strip_prefix("baseline listening on ")
            .context("the baseline did not say where it listens")?
            .to_owned();
        Ok(Self { child, url })
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One run of the catalogue journey against the bare axum handler.
#[derive(Debug)]
struct BaselineRun {
    results: Value,
    /// CPU the handler (and the bare proxy, if any) and the load client used.
    cpu: CpuSample,
}

impl BaselineRun {
    async fn measure(load: &Load, catalog: &[&str], seconds: &str, label: &str) -> Result<Self> {
        let mut baseline = Baseline::start(&load.bin, None)?;
        let servers = vec![("bare axum".to_owned(), baseline.child.id())];
        let run = Self::load(load, catalog, seconds, label, &baseline.url, &servers).await;
        baseline.stop();
        run
    }

    /// The same read with one bare proxy hop in front of the handler.
    async fn measure_proxied(
        load: &Load,
        catalog: &[&str],
        seconds: &str,
        label: &str,
    ) -> Result<Self> {
        let mut baseline = Baseline::start(&load.bin, None)?;
        let mut proxy = match Baseline::start(&load.bin, Some(&baseline.url)) {
            Ok(proxy) => proxy,
            Err(err) => {
                baseline.stop();
                return Err(err);
            }
        };
        let servers = vec![
            ("bare axum".to_owned(), baseline.child.id()),
            ("bare proxy".to_owned(), proxy.child.id()),
        ];
        let run = Self::load(load, catalog, seconds, label, &proxy.url, &servers).await;
        proxy.stop();
        baseline.stop();
        run
    }

    async fn load(
        load: &Load,
        catalog: &[&str],
        seconds: &str,
        label: &str,
        url: &str,
        servers: &[(String, u32)],
    ) -> Result<Self> {
        let before = CpuSample::take(servers, None).await;
        let results = load.run(label, url, &[catalog, &["--run-time", seconds]].concat())?;
        let cpu = CpuSample::take(servers, None).await.since(&before);
        Ok(Self { results, cpu })
    }

    fn reads_per_s(&self) -> f64 {
        num(&tx(&self.results, "view product")["throughput_per_s"])
    }
}

/// The kernel's smallest CFS quota.
const MIN_QUOTA_US: u64 = 1000;

/// `cpus` of a `period_us` period.
fn quota_us(cpus: f64, period_us: u64) -> u64 {
    (cpus * period_us as f64).round() as u64
}

/// Where replica CPU quotas are written.
#[derive(Debug)]
struct Cgroups {
    root: PathBuf,
    v2: bool,
}

impl Cgroups {
    /// cgroup v2 (`cpu.max`) if the unified hierarchy has the cpu controller, else v1
    /// (`cpu.cfs_quota_us`), else none (not root, or no writable hierarchy).
    fn detect() -> Option<Self> {
        let unified = Path::new("/sys/fs/cgroup");
        let v2 = fs::read_to_string(unified.join("cgroup.controllers"))
            .is_ok_and(|c| c.split_whitespace().any(|c| c == "cpu"));
        let cgroups = if v2 {
            let _ = fs::write(unified.join("cgroup.subtree_control"), "+cpu");
            Self {
                root: unified.join("ironvessel-perf"),
                v2: true,
            }
        } else {
            Self {
                root: unified.join("cpu/ironvessel-perf"),
                v2: false,
            }
        };
        fs::create_dir_all(&cgroups.root).ok()?;
        let probe = cgroups.root.join("probe");
        fs::create_dir_all(&probe).ok()?;
        let writable = if cgroups.v2 {
            fs::write(probe.join("cpu.max"), "max 100000").is_ok()
        } else {
            fs::write(probe.join("cpu.cfs_quota_us"), "-1").is_ok()
        };
        let _ = fs::remove_dir(&probe);
        writable.then_some(cgroups)
    }

    fn describe(&self) -> String {
        if self.v2 {
            format!("cgroup v2 cpu.max under {}", self.root.display())
        } else {
            format!("cgroup v1 cpu.cfs_quota_us under {}", self.root.display())
        }
    }

    fn limit(&self, id: &str, pid: u32, cpus: f64, period_us: u64) -> Result<()> {
        let quota = quota_us(cpus, period_us);
        if quota < MIN_QUOTA_US {
            bail!(
                "{cpus} CPU of a {period_us} µs period is a {quota} µs quota; the kernel's smallest is {MIN_QUOTA_US} µs: raise --cfs-period-ms"
            );
        }
        let dir = self.root.join(id);
        fs::create_dir_all(&dir)?;
        if self.v2 {
            fs::write(dir.join("cpu.max"), format!("{quota} {period_us}"))?;
        } else {
            // A fresh group's quota is unlimited, so the period can change first.
            fs::write(dir.join("cpu.cfs_period_us"), period_us.to_string())?;
            fs::write(dir.join("cpu.cfs_quota_us"), quota.to_string())?;
        }
        fs::write(dir.join("cgroup.procs"), pid.to_string())?;
        Ok(())
    }

    fn cleanup(&self) {
        if let Ok(entries) = fs::read_dir(&self.root) {
            for entry in entries.flatten() {
                let _ = fs::remove_dir(entry.path());
            }
        }
        let _ = fs::remove_dir(&self.root);
    }
}

/// The shop as processes on the dev ports, on the perf databases.
struct Shop {
    bin: PathBuf,
    logs: PathBuf,
    database: Url,
    redis_url: String,
    cgroups: Option<Cgroups>,
    cpu_per_replica: f64,
    cfs_period_us: u64,
    scaled: Option<&'static str>,
    /// Replicas per service the gateway knows about.
    known: BTreeMap<&'static str, u16>,
    children: BTreeMap<String, Child>,
}

impl Shop {
    fn new(
        bin: &Path,
        logs: &Path,
        database: &Url,
        redis_url: &str,
        cgroups: Option<Cgroups>,
    ) -> Self {
        Self {
            bin: bin.to_owned(),
            logs: logs.to_owned(),
            database: database.clone(),
            redis_url: redis_url.to_owned(),
            cgroups,
            cpu_per_replica: 0.25,
            cfs_period_us: 100_000,
            scaled: None,
            known: BTreeMap::new(),
            children: BTreeMap::new(),
        }
    }

    fn root_thresholds(&self) -> String {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .ancestors()
            .nth(2)
            .map(|root| root.join("loadtest/thresholds.toml").display().to_string())
            .unwrap_or_default()
    }

    /// The running replicas of `service`.
    fn replica_pids(&self, service: &str) -> Vec<(String, u32)> {
        let prefix = format!("{service}-");
        self.pids()
            .into_iter()
            .filter(|(id, _)| id.starts_with(&prefix))
            .collect()
    }

    fn pids(&self) -> Vec<(String, u32)> {
        self.children
            .iter()
            .map(|(id, child)| (id.clone(), child.id()))
            .collect()
    }

    /// Every instance the gateway is told about.
    fn plan(&self) -> Vec<Instance> {
        SERVICES
            .iter()
            .flat_map(|service| {
                let n = self.known.get(service.name).copied().unwrap_or(1);
                (1..=n).map(move |replica| services::instance(service, replica))
            })
            .collect()
    }

    fn environment(&self, instance: &Instance, extra: &[(&str, &str)]) -> Vec<(String, String)> {
        let prefix = instance.service.env_prefix;
        // Everything `up` sets, except what the perf run sets itself.
        let ours = |name: &str| {
            (name == "LOG_FORMAT"
                || name == format!("{prefix}_DATABASE_URL")
                || name == format!("{prefix}_SEED_DEMO"))
            .then(String::new)
        };
        let mut env = services::environment(instance, &self.plan(), &self.database, ours);
        env.push(("LOG_FORMAT".into(), "json".into()));
        env.push(("RUST_LOG".into(), "warn".into()));
        if let Some(database) = instance.service.database {
            env.push((
                format!("{prefix}_DATABASE_URL"),
                services::database_url(&self.database, &format!("{PREFIX}_{database}")),
            ));
        }
        env.push((format!("{prefix}_REDIS_URL"), self.redis_url.clone()));
        env.push((
            format!("{prefix}_CACHE_PREFIX"),
            format!("{PREFIX}:{}", instance.service.name),
        ));
        env.push((format!("{prefix}_AMQP_PREFIX"), PREFIX.to_owned()));
        env.push((
            format!("{prefix}_ACCOUNT_CACHE_PREFIX"),
            format!("{PREFIX}:account"),
        ));
        if instance.service.stage == Stage::Edge {
            // Every virtual user comes from this one address.
            env.push(("GATEWAY_RATE_LIMIT_PER_SECOND".into(), "100000".into()));
            env.push(("GATEWAY_RATE_LIMIT_BURST".into(), "100000".into()));
            env.push(("GATEWAY_HEALTH_INTERVAL_MS".into(), "500".into()));
        }
        for (name, value) in extra {
            env.push((format!("{prefix}_{name}"), (*value).to_owned()));
        }
        if self.scaled == Some(instance.service.name) && self.cgroups.is_some() {
            env.push((
                "TOKIO_WORKER_THREADS".into(),
                worker_threads(self.cpu_per_replica).to_string(),
            ));
        }
        env
    }

    fn spawn(&mut self, instance: &Instance, extra: &[(&str, &str)]) -> Result<()> {
        let id = instance.id();
        // Appended to, so a replica's log keeps every phase it was started for.
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.logs.join(format!("{id}.log")))?;
        let child = Command::new(self.bin.join(instance.service.package))
            .envs(self.environment(instance, extra))
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("could not start {id}"))?;
        if self.scaled == Some(instance.service.name)
            && let Some(cgroups) = &self.cgroups
        {
            cgroups
                .limit(&id, child.id(), self.cpu_per_replica, self.cfs_period_us)
                .with_context(|| format!("could not limit {id}'s CPU"))?;
        }
        self.children.insert(id, child);
        Ok(())
    }

    async fn wait_ready(&self, instance: &Instance) -> Result<()> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(2))
            .build()?;
        let deadline = Instant::now() + Duration::from_secs(120);
        let url = instance.health_url();
        while Instant::now() < deadline {
            if client
                .get(&url)
                .send()
                .await
                .is_ok_and(|r| r.status().is_success())
            {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        bail!(
            "{instance} was not ready within 120 s (see target/perf/logs/{}.log)",
            instance.id()
        )
    }

    /// Starts every instance of the plan not yet running, stage by stage; `replicas`
    /// limits how many of a service actually start (the rest the gateway only knows).
    async fn start_plan(&mut self, running: &[(&str, u16)], wait: bool) -> Result<()> {
        for stage in [Stage::Provider, Stage::Backend, Stage::Edge] {
            let batch: Vec<Instance> = self
                .plan()
                .into_iter()
                .filter(|i| i.service.stage == stage && !self.children.contains_key(&i.id()))
                .filter(|i| {
                    running
                        .iter()
                        .find(|(name, _)| *name == i.service.name)
                        .is_none_or(|(_, n)| i.replica <= *n)
                })
                .collect();
            for instance in &batch {
                self.spawn(instance, &[])?;
            }
            if wait {
                for instance in &batch {
                    self.wait_ready(instance).await?;
                }
            }
        }
        Ok(())
    }

    fn kill(&mut self, id: &str) {
        if let Some(mut child) = self.children.remove(id) {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn kill_service(&mut self, name: &str) {
        let ids: Vec<String> = self
            .children
            .keys()
            .filter(|id| id.rsplit_once('-').is_some_and(|(s, _)| s == name))
            .cloned()
            .collect();
        for id in ids {
            self.kill(&id);
        }
    }

    /// Restarts `service` with `n` replicas and `extra` settings (the gateway too).
    async fn restart_service(
        &mut self,
        service: &'static services::Service,
        n: u16,
        extra: &[(&str, &str)],
    ) -> Result<()> {
        self.kill_service(service.name);
        self.kill_service("gateway");
        self.known.insert(service.name, n);
        for replica in 1..=n {
            let instance = services::instance(service, replica);
            self.spawn(&instance, extra)?;
            self.wait_ready(&instance).await?;
        }
        self.start_plan(&[], true).await?;
        self.wait_pool(service, n).await
    }

    /// `known` replicas of `service` behind a new gateway, `running` of them started,
    /// each under the CPU quota.
    async fn scale(
        &mut self,
        service: &'static services::Service,
        known: u16,
        running: u16,
    ) -> Result<()> {
        self.scaled = Some(service.name);
        self.kill_service(service.name);
        self.kill_service("gateway");
        self.known.insert(service.name, known);
        self.start_plan(&[(service.name, running)], true).await?;
        self.wait_pool(service, running).await
    }

    async fn start_replica(
        &mut self,
        service: &'static services::Service,
        replica: u16,
    ) -> Result<()> {
        let instance = services::instance(service, replica);
        self.spawn(&instance, &[])?;
        self.wait_ready(&instance).await
    }

    /// Waits until the gateway's readiness shows the service's pool healthy.
    async fn wait_pool(&self, service: &'static services::Service, _n: u16) -> Result<()> {
        let client = reqwest::Client::new();
        let url = format!("{}/health/ready", services::gateway_url());
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if client
                .get(&url)
                .send()
                .await
                .is_ok_and(|response| response.status().is_success())
            {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        bail!("the gateway never saw {} ready", service.name)
    }

    fn stop_all(&mut self) {
        let ids: Vec<String> = self.children.keys().cloned().collect();
        for id in ids {
            self.kill(&id);
        }
    }

    fn cleanup(&self) {
        if let Some(cgroups) = &self.cgroups {
            cgroups.cleanup();
        }
    }
}

/// Samples each process's resident set size while load runs; keeps the peak.
struct RssSampler {
    stop: Arc<AtomicBool>,
    peaks: Arc<Mutex<BTreeMap<String, u64>>>,
    thread: std::thread::JoinHandle<()>,
}

impl RssSampler {
    fn start(pids: Vec<(String, u32)>) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let peaks = Arc::new(Mutex::new(BTreeMap::new()));
        let thread = {
            let (stop, peaks) = (Arc::clone(&stop), Arc::clone(&peaks));
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    for (id, pid) in &pids {
                        if let Some(kb) = rss_kb(*pid) {
                            let mut peaks = peaks.lock().unwrap_or_else(PoisonError::into_inner);
                            let peak = peaks.entry(id.clone()).or_insert(0);
                            *peak = (*peak).max(kb);
                        }
                    }
                    std::thread::sleep(Duration::from_millis(250));
                }
            })
        };
        Self {
            stop,
            peaks,
            thread,
        }
    }

    fn stop(self) -> BTreeMap<String, u64> {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.thread.join();
        self.peaks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// `VmRSS` of `pid` in kB.
fn rss_kb(pid: u32) -> Option<u64> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// CPU seconds (user + system, every thread) used so far by each process, by the load
/// client (this process's waited-for children: the run just finished) and by Redis.
#[derive(Debug, Default, Clone)]
struct CpuSample(BTreeMap<String, f64>);

/// The load client's name in a [`CpuSample`].
const LOAD_CLIENT: &str = "load client";

/// Clock ticks per second of `/proc/*/stat` times (`USER_HZ`, 100 on Linux).
const USER_HZ: f64 = 100.0;

impl CpuSample {
    async fn take(pids: &[(String, u32)], redis_url: Option<&str>) -> Self {
        let mut cpu = BTreeMap::new();
        for (id, pid) in pids {
            if let Some(secs) = stat_cpu_secs(&format!("/proc/{pid}/stat"), 14) {
                cpu.insert(id.clone(), secs);
            }
        }
        if let Some(secs) = stat_cpu_secs("/proc/self/stat", 16) {
            cpu.insert(LOAD_CLIENT.to_owned(), secs);
        }
        if let Some(url) = redis_url
            && let Ok(secs) = redis_cpu_secs(url).await
        {
            cpu.insert("redis".to_owned(), secs);
        }
        Self(cpu)
    }

    /// The CPU seconds of the processes in `pids` together.
    fn total_of(&self, pids: &[(String, u32)]) -> f64 {
        pids.iter().filter_map(|(id, _)| self.0.get(id)).sum()
    }

    /// What each process used since `before` (processes in both samples).
    fn since(&self, before: &Self) -> Self {
        Self(
            self.0
                .iter()
                .filter_map(|(id, now)| before.0.get(id).map(|then| (id.clone(), now - then)))
                .collect(),
        )
    }
}

/// Fields `first` and `first + 1` (1-based, as in proc(5)) of a `/proc/<pid>/stat`, in
/// seconds: 14/15 are the process's user and system time, 16/17 its waited-for
/// children's.
fn stat_cpu_secs(path: &str, first: usize) -> Option<f64> {
    parse_stat_cpu_secs(&fs::read_to_string(path).ok()?, first)
}

fn parse_stat_cpu_secs(stat: &str, first: usize) -> Option<f64> {
    // The command name (field 2) may hold spaces and parentheses; field 3 follows the
    // last ')'.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let field = |n: usize| fields.get(n - 3)?.parse::<u64>().ok();
    Some((field(first)? + field(first + 1)?) as f64 / USER_HZ)
}

/// Redis's own CPU seconds (`used_cpu_user + used_cpu_sys` of `INFO cpu`).
async fn redis_cpu_secs(redis_url: &str) -> Result<f64> {
    let client = redis::Client::open(redis_url)?;
    let mut conn = client.get_multiplexed_async_connection().await?;
    let info: String = redis::cmd("INFO").arg("cpu").query_async(&mut conn).await?;
    Ok(info
        .lines()
        .filter_map(|line| {
            line.strip_prefix("used_cpu_user:")
                .or_else(|| line.strip_prefix("used_cpu_sys:"))
        })
        .filter_map(|value| value.trim().parse::<f64>().ok())
        .sum())
}

/// Everything measured.
#[derive(Debug, Default)]
struct Report {
    /// Before the shop starts and again after its warm cached phase.
    baselines: Vec<BaselineRun>,
    /// The baseline behind a bare proxy: what one hop costs.
    proxied: Option<BaselineRun>,
    /// CPU of the shop's warm cached runs, in the order of [`WARM_RUNS`].
    cpu_warm: Vec<CpuSample>,
    slo: Option<Value>,
    rss: BTreeMap<String, u64>,
    merged: Option<Value>,
    merge_exit: Option<i32>,
    cache: Vec<Value>,
    staleness: Option<Value>,
    scaling: Vec<ScalingStep>,
    events: Option<(Value, f64, f64)>,
    constraint: String,
    elapsed_secs: f64,
}

/// The shop's warm cached runs: one before the baseline's second run and one after the
/// bare proxy's, so each side of the ratio is the better of two runs spread over the
/// same stretch of time.
const WARM_RUNS: [&str; 2] = ["cache on, warm", "cache on, warm again"];

/// The replicas of each scaling step, in the order a round runs them.
const SCALING_STEPS: [u16; 3] = [1, 2, 4];

/// One step of the scaling experiment.
#[derive(Debug)]
struct ScalingStep {
    /// Which round (from 1).
    round: u32,
    replicas: u16,
    results: Value,
    /// CPU seconds the replicas used from just before the load run to its end.
    cpu_secs: f64,
    /// How long that was.
    wall_secs: f64,
    /// Each replica's CPU quota, when they had one.
    quota: Option<f64>,
    /// TCP connections opened on the machine meanwhile: the users' own, a few health
    /// checks, and any the gateway opened to replicas beyond the ones it keeps.
    connections: Option<u64>,
}

/// TCP connections this machine has opened so far (`ActiveOpens` of `/proc/net/snmp`).
fn tcp_active_opens() -> Option<u64> {
    parse_active_opens(&fs::read_to_string("/proc/net/snmp").ok()?)
}

fn parse_active_opens(snmp: &str) -> Option<u64> {
    let mut tcp = snmp.lines().filter(|line| line.starts_with("Tcp:"));
    let (names, values) = (tcp.next()?, tcp.next()?);
    let column = names
        .split_whitespace()
        .position(|name| name == "ActiveOpens")?;
    values.split_whitespace().nth(column)?.parse().ok()
}

impl ScalingStep {
    /// The replicas' CPU as a share of their quotas over the step: near 1 when the
    /// quota, not the load, limited them.
    fn quota_used(&self) -> Option<f64> {
        let quota = self.quota?;
        Some(self.cpu_secs / (f64::from(self.replicas) * quota * self.wall_secs).max(1e-9))
    }

    /// Catalogue reads per second.
    fn throughput(&self) -> f64 {
        num(&tx(&self.results, "view product")["throughput_per_s"])
    }
}

/// One replica count of the scaling experiment across its rounds.
#[derive(Debug)]
struct ScalingSummary {
    replicas: u16,
    /// Reads per second of each round, in round order.
    throughputs: Vec<f64>,
    /// Their median.
    median: f64,
    /// `median / (replicas × the 1-replica median)`.
    efficiency: f64,
    /// Each round's efficiency against that round's 1-replica step, in round order.
    round_efficiencies: Vec<f64>,
}

fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mid = sorted.len() / 2;
    match sorted.len() {
        0 => 0.0,
        len if len % 2 == 1 => sorted[mid],
        _ => (sorted[mid - 1] + sorted[mid]) / 2.0,
    }
}

/// Per replica count, in ascending order: throughputs, median and efficiencies.
fn scaling_summary(steps: &[ScalingStep]) -> Vec<ScalingSummary> {
    let ones: BTreeMap<u32, f64> = steps
        .iter()
        .filter(|step| step.replicas == 1)
        .map(|step| (step.round, step.throughput()))
        .collect();
    let one = median(&ones.values().copied().collect::<Vec<_>>());
    let mut counts: Vec<u16> = steps.iter().map(|step| step.replicas).collect();
    counts.sort_unstable();
    counts.dedup();
    counts
        .into_iter()
        .map(|n| {
            let efficiency = |throughput: f64, one: f64| {
                throughput / (f64::from(n) * one).max(f64::MIN_POSITIVE)
            };
            let of_n: Vec<&ScalingStep> = steps.iter().filter(|step| step.replicas == n).collect();
            let throughputs: Vec<f64> = of_n.iter().map(|step| step.throughput()).collect();
            let median = median(&throughputs);
            ScalingSummary {
                replicas: n,
                efficiency: efficiency(median, one),
                round_efficiencies: of_n
                    .iter()
                    .filter_map(|step| Some(efficiency(step.throughput(), *ones.get(&step.round)?)))
                    .collect(),
                throughputs,
                median,
            }
        })
        .collect()
}

/// The step of each replica count whose throughput is nearest its median: the one the
/// latency plot shows.
fn median_steps(steps: &[ScalingStep]) -> Vec<&ScalingStep> {
    scaling_summary(steps)
        .iter()
        .filter_map(|summary| {
            steps
                .iter()
                .filter(|step| step.replicas == summary.replicas)
                .min_by(|a, b| {
                    (a.throughput() - summary.median)
                        .abs()
                        .total_cmp(&(b.throughput() - summary.median).abs())
                })
        })
        .collect()
}

fn joined(values: &[f64], decimals: usize) -> String {
    values
        .iter()
        .map(|value| format!("{value:.decimals$}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// CPU per read of every process in each column (a run: its label, CPU and reads), for
/// the baselines and the warm cached run: steadier than throughput, which on a shared
/// machine moves with whatever else runs.
fn cpu_table(columns: &[(&str, &CpuSample, f64)]) -> String {
    let mut md = String::from(
        "CPU per read (µs of user + system time, every thread; the load client's too):\n\n| process |",
    );
    for (label, _, _) in columns {
        let _ = write!(md, " {label} |");
    }
    md.push_str("\n|---|");
    md.push_str(&"---:|".repeat(columns.len()));
    md.push('\n');
    // µs per read, or a dash without reads or without the process.
    let per_read = |secs: Option<f64>, reads: f64| match secs {
        Some(secs) if reads > 0.0 => format!("{:.1}", secs * 1e6 / reads),
        _ => "–".to_owned(),
    };
    let mut ids: Vec<&String> = columns
        .iter()
        .flat_map(|(_, cpu, reads)| {
            // Processes a run hardly used (the other services in the shop's warm run)
            // would only add noise.
            cpu.0
                .iter()
                .filter(move |(_, secs)| **secs * 1e6 / reads.max(1.0) >= 1.0)
                .map(|(id, _)| id)
        })
        .collect();
    ids.sort();
    ids.dedup();
    for id in ids {
        let _ = write!(md, "| {id} |");
        for (_, cpu, reads) in columns {
            let _ = write!(md, " {} |", per_read(cpu.0.get(id).copied(), *reads));
        }
        md.push('\n');
    }
    md.push_str("| **all** |");
    for (_, cpu, reads) in columns {
        let _ = write!(md, " {} |", per_read(Some(cpu.0.values().sum()), *reads));
    }
    md.push_str("\n\n");
    md
}

fn tx<'a>(results: &'a Value, name: &str) -> &'a Value {
    &results["transactions"][name]
}

fn num(value: &Value) -> f64 {
    value.as_f64().unwrap_or(0.0)
}

impl Report {
    fn markdown(&self, out: &Path, args: &PerfArgs, scaled: &str) -> String {
        let mut md = String::from("# Ironvessel performance report\n\n");
        let _ = writeln!(
            md,
            "`cargo xtask perf` on {} CPUs, release builds, {} virtual users ({} in the scaling steps), {} s per run, seeded with {} users / {} products / {} payments; took {:.0} s.\n",
            std::thread::available_parallelism().map_or(0, |n| n.get()),
            args.users,
            args.scaling_users,
            args.seconds,
            args.seeded_users,
            args.seeded_products,
            args.seeded_payments,
            self.elapsed_secs
        );
        let view = |r: &Value| tx(r, "view product").clone();
        md.push_str("## Cached product read vs the bare axum baseline\n\n| target | reads/s | p50 ms | p95 ms | p99 ms | errors |\n|---|---:|---:|---:|---:|---:|\n");
        // Each warm run with its CPU sample, in the order they ran.
        let warm: Vec<(&Value, &CpuSample)> = WARM_RUNS
            .iter()
            .filter_map(|label| self.cache.iter().find(|p| p["label"] == *label))
            .zip(&self.cpu_warm)
            .collect();
        let baseline_labels = [
            "bare axum baseline, before the shop",
            "bare axum baseline, after the warm phase",
        ];
        let mut rows: Vec<(&str, Value)> = self
            .baselines
            .iter()
            .zip(baseline_labels)
            .map(|(run, label)| (label, view(&run.results)))
            .collect();
        if let Some(proxied) = &self.proxied {
            rows.push((
                "bare axum behind a bare proxy (one hop, nothing else)",
                view(&proxied.results),
            ));
        }
        for ((phase, _), label) in warm
            .iter()
            .zip(["shop, cache warm", "shop, cache warm, again"])
        {
            rows.push((label, view(&phase["results"])));
        }
        for (label, t) in &rows {
            let _ = writeln!(
                md,
                "| {label} | {:.1} | {:.2} | {:.2} | {:.2} | {} |",
                num(&t["throughput_per_s"]),
                num(&t["p50_ms"]),
                num(&t["p95_ms"]),
                num(&t["p99_ms"]),
                t["errors"]
            );
        }
        let warm_reads = |phase: &Value| num(&view(&phase["results"])["throughput_per_s"]);
        let fastest = self
            .baselines
            .iter()
            .max_by(|a, b| a.reads_per_s().total_cmp(&b.reads_per_s()));
        let fastest_warm = warm
            .iter()
            .max_by(|a, b| warm_reads(a.0).total_cmp(&warm_reads(b.0)));
        if let (Some(base), Some((phase, cpu_warm))) = (fastest, fastest_warm) {
            let shop = view(&phase["results"]);
            let ratio = num(&shop["throughput_per_s"]) / base.reads_per_s().max(f64::MIN_POSITIVE);
            let spread = |fastest: f64, slowest: f64| {
                (1.0 - slowest / fastest.max(f64::MIN_POSITIVE)) * 100.0
            };
            let slowest = self
                .baselines
                .iter()
                .map(BaselineRun::reads_per_s)
                .fold(f64::INFINITY, f64::min);
            let slowest_warm = warm
                .iter()
                .map(|(phase, _)| warm_reads(phase))
                .fold(f64::INFINITY, f64::min);
            let _ = writeln!(
                md,
                "\nShop / baseline throughput: **{ratio:.2}×** (target ≥ 0.5×): the faster of the shop's two warm runs (they differed by {:.0} %) against the faster of the baseline's two (they differed by {:.0} %): each side's better of two runs spread over the same stretch, since one side's best against the other's single run would favour the side that ran twice.\n",
                spread(num(&shop["throughput_per_s"]), slowest_warm),
                spread(base.reads_per_s(), slowest),
            );
            let base_reads = num(&tx(&base.results, "view product")["count"]);
            let mut columns = vec![("baseline", &base.cpu, base_reads)];
            if let Some(proxied) = &self.proxied {
                let hop = proxied.reads_per_s() / base.reads_per_s().max(f64::MIN_POSITIVE);
                let _ = writeln!(
                    md,
                    "The same read behind a bare proxy (hyper's pooled client forwarding to the baseline, nothing else): **{hop:.2}×** the baseline, so one extra hop alone costs {:.0} % of the throughput on this machine, before any gateway or service logic; the shop reaches {:.0} % of that.\n",
                    (1.0 - hop) * 100.0,
                    ratio / hop.max(f64::MIN_POSITIVE) * 100.0
                );
                columns.push((
                    "baseline behind a bare proxy",
                    &proxied.cpu,
                    num(&tx(&proxied.results, "view product")["count"]),
                ));
            }
            columns.push(("shop, cache warm", cpu_warm, num(&shop["count"])));
            md.push_str(&cpu_table(&columns));
        }

        md.push_str("## Mixed journeys with the SLO thresholds\n\n");
        if let Some(slo) = &self.slo {
            md.push_str(&transactions_table(slo));
            let passed = slo["verdict"]["checks"]
                .as_array()
                .is_some_and(|c| c.iter().all(|c| c["passed"] == true));
            let _ = writeln!(
                md,
                "\nThresholds (`loadtest/thresholds.toml`): **{}**\n",
                if passed { "PASS" } else { "FAIL" }
            );
            for check in slo["verdict"]["checks"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|c| c["passed"] != true)
            {
                let _ = writeln!(
                    md,
                    "- failed: {} (observed {})",
                    check["rule"].as_str().unwrap_or(""),
                    check["observed"].as_str().unwrap_or("")
                );
            }
        }
        md.push_str("\nPeak RSS under that load (target < 64 MB each):\n\n| process | peak RSS MB |\n|---|---:|\n");
        for (id, kb) in &self.rss {
            let _ = writeln!(md, "| {id} | {:.1} |", *kb as f64 / 1024.0);
        }

        md.push_str("\n## Distributed: two workers merged\n\n");
        if let Some(merged) = &self.merged {
            let _ = writeln!(
                md,
                "Merged {} workers: {} transactions, {} errors, thresholds exit code {:?}.\n",
                merged["workers"],
                total(merged, "count"),
                total(merged, "errors"),
                self.merge_exit
            );
            md.push_str(&transactions_table(merged));
        }

        md.push_str("\n## Caching (catalogue journey)\n\n| phase | reads/s | p50 ms | p95 ms | p99 ms | errors | served from cache | Redis hit ratio | DB queries/read |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
        for phase in &self.cache {
            let t = view(&phase["results"]);
            let _ = writeln!(
                md,
                "| {} | {:.1} | {:.2} | {:.2} | {:.2} | {} | {} | {} | {} |",
                phase["label"].as_str().unwrap_or(""),
                num(&t["throughput_per_s"]),
                num(&t["p50_ms"]),
                num(&t["p95_ms"]),
                num(&t["p99_ms"]),
                t["errors"],
                phase["served_from_cache"]
                    .as_f64()
                    .map_or("n/a".to_owned(), |r| format!("{:.1} %", r * 100.0)),
                phase["hit_ratio"]
                    .as_f64()
                    .map_or("n/a".to_owned(), |r| format!("{:.1} %", r * 100.0)),
                phase["db_queries_per_read"]
                    .as_f64()
                    .map_or("n/a".to_owned(), |q| format!("{q:.3}")),
            );
        }
        md.push_str("\nServed from cache: reads answered `x-cache: HIT` (from Redis or from inventory's local tier) over those answered `HIT` or `MISS`. Redis hit ratio: `keyspace_hits / (hits + misses)` deltas of `INFO stats` around the run (server-wide); reads the local tier answers never reach Redis, so it counts only the rest. DB queries: `pg_stat_database.xact_commit` delta of the inventory database (each autocommitted statement is one), less its idle rate measured just before.\n\n![cache on vs off](cache.png)\n\n");
        if let Some(staleness) = &self.staleness {
            let _ = writeln!(
                md,
                "Staleness check (writer raises prices, readers must never see one older than an acknowledged write): {} reads, {} writes, {} stale, exit code {} ({}).\n",
                staleness["reads"],
                staleness["writes"],
                staleness["stale_count"],
                staleness["exit"],
                if staleness["exit"] == 0 {
                    "PASS"
                } else {
                    "FAIL"
                }
            );
        }

        let _ = writeln!(
            md,
            "## Scaling {scaled}\n\nConstraint: {}.\n\n{} of 1, 2 and 4 replicas, {} s each; the efficiency is taken from each replica count's median reads/s across the rounds, and each round's own (against that round's single replica) is beside it.\n\n| replicas | median reads/s | reads/s per round | efficiency | efficiency per round |\n|---:|---:|---|---:|---|",
            self.constraint,
            match args.scaling_rounds {
                1 => "One round".to_owned(),
                rounds => format!("{rounds} rounds"),
            },
            args.seconds
        );
        for summary in scaling_summary(&self.scaling) {
            let _ = writeln!(
                md,
                "| {} | {:.1} | {} | **{:.2}** | {} |",
                summary.replicas,
                summary.median,
                joined(&summary.throughputs, 1),
                summary.efficiency,
                joined(&summary.round_efficiencies, 2),
            );
        }
        md.push_str("\nEfficiency = throughput(n) / (n × throughput(1)); targets ≥ 0.9 at 2, ≥ 0.8 at 4.\n\nEvery step:\n\n| round | replicas | reads/s | p50 ms | p95 ms | p99 ms | errors | replica CPU of quota | replica CPU µs/read | TCP connections opened | share per replica |\n|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n");
        for step in &self.scaling {
            let t = tx(&step.results, "view product");
            let reads = num(&t["count"]);
            let _ = writeln!(
                md,
                "| {} | {} | {:.1} | {:.2} | {:.2} | {:.2} | {} | {} | {} | {} | {} |",
                step.round,
                step.replicas,
                step.throughput(),
                num(&t["p50_ms"]),
                num(&t["p95_ms"]),
                num(&t["p99_ms"]),
                t["errors"],
                step.quota_used()
                    .map_or_else(|| "–".to_owned(), |used| format!("{:.0} %", used * 100.0)),
                if reads > 0.0 {
                    format!("{:.1}", step.cpu_secs * 1e6 / reads)
                } else {
                    "–".to_owned()
                },
                step.connections
                    .map_or_else(|| "–".to_owned(), |opened| opened.to_string()),
                shares(&step.results, scaled)
            );
        }
        md.push_str("\nReplica CPU: user + system time of the replicas from `/proc/<pid>/stat` from just before the run to its end (the users' logins included, when the replicas idle), as a share of n × the quota over that time, and per read. Near 100 % the quota was the limit; efficiency above 1 comes from a replica spending less CPU per read, not from more CPU. TCP connections opened: the machine's `ActiveOpens` (`/proc/net/snmp`) over the step; the users' own connections and health checks are a few hundred, more means the gateway kept opening connections to the replicas. The plot shows, for each replica count, the round whose reads/s is nearest the median.\n\n![latency against replicas](scaling.png)\n\n");

        if let Some((events, added, killed)) = &self.events {
            let _ = writeln!(
                md,
                "### A replica added at {added:.0} s and one killed at {killed:.0} s\n\n| window | transactions | errors |\n|---|---:|---:|"
            );
            let timeline = events["timeline"].as_array().cloned().unwrap_or_default();
            let window = |from: f64, to: f64| {
                timeline
                    .iter()
                    .enumerate()
                    .filter(|(s, _)| (*s as f64) >= from && (*s as f64) < to)
                    .fold((0, 0), |(c, e), (_, v)| {
                        (
                            c + v["count"].as_u64().unwrap_or(0),
                            e + v["errors"].as_u64().unwrap_or(0),
                        )
                    })
            };
            for (label, from, to) in [
                ("before the add", 0.0, *added),
                ("add → +5 s", *added, added + 5.0),
                ("before the kill (5 s)", killed - 5.0, *killed),
                ("kill → +5 s", *killed, killed + 5.0),
                ("after", killed + 5.0, f64::MAX),
            ] {
                let (count, errors) = window(from, to);
                let _ = writeln!(md, "| {label} | {count} | {errors} |");
            }
            let _ = writeln!(
                md,
                "\nShare per replica over the run: {}\n",
                shares(events, scaled)
            );
        }
        plots(out, self, scaled, &mut md);
        md
    }
}

fn total(results: &Value, field: &str) -> u64 {
    results["transactions"].as_object().map_or(0, |t| {
        t.values().map(|v| v[field].as_u64().unwrap_or(0)).sum()
    })
}

fn shares(results: &Value, service: &str) -> String {
    let Some(instances) = results["instances"].as_object() else {
        return String::new();
    };
    let ours: Vec<(&String, u64)> = instances
        .iter()
        .filter(|(id, _)| id.starts_with(service))
        .map(|(id, n)| (id, n.as_u64().unwrap_or(0)))
        .collect();
    let sum: u64 = ours.iter().map(|(_, n)| n).sum();
    ours.iter()
        .map(|(id, n)| format!("{id} {:.0} %", *n as f64 * 100.0 / sum.max(1) as f64))
        .collect::<Vec<_>>()
        .join(", ")
}

fn transactions_table(results: &Value) -> String {
    let mut md = String::from(
        "| transaction | count | errors | per s | p50 ms | p95 ms | p99 ms |\n|---|---:|---:|---:|---:|---:|---:|\n",
    );
    for (name, t) in results["transactions"].as_object().into_iter().flatten() {
        let _ = writeln!(
            md,
            "| {name} | {} | {} | {:.1} | {:.2} | {:.2} | {:.2} |",
            t["count"],
            t["errors"],
            num(&t["throughput_per_s"]),
            num(&t["p50_ms"]),
            num(&t["p95_ms"]),
            num(&t["p99_ms"])
        );
    }
    md
}

/// A TrueType font for the plots' text, from the system's fonts.
fn font() -> Option<&'static [u8]> {
    let candidates = [
        "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
        "/usr/share/fonts/TTF/DejaVuSans.ttf",
        "/usr/share/fonts/dejavu/DejaVuSans.ttf",
        "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    ];
    let bytes = candidates.iter().find_map(|path| fs::read(path).ok())?;
    Some(Box::leak(bytes.into_boxed_slice()))
}

fn plots(out: &Path, report: &Report, scaled: &str, md: &mut String) {
    let Some(font) = font() else {
        md.push_str("\n(no TrueType font found under /usr/share/fonts: plots skipped; install fonts-dejavu-core)\n");
        return;
    };
    if plotters::style::register_font("sans-serif", plotters::style::FontStyle::Normal, font)
        .is_err()
    {
        md.push_str("\n(the font could not be loaded: plots skipped)\n");
        return;
    }
    if let Err(err) = scaling_plot(&out.join("scaling.png"), report, scaled) {
        let _ = writeln!(md, "\n(scaling plot failed: {err})");
    }
    if let Err(err) = cache_plot(&out.join("cache.png"), report) {
        let _ = writeln!(md, "\n(cache plot failed: {err})");
    }
}

fn scaling_plot(path: &Path, report: &Report, scaled: &str) -> Result<()> {
    use plotters::prelude::*;
    let points: Vec<(u16, [f64; 3])> = median_steps(&report.scaling)
        .into_iter()
        .map(|step| {
            let t = tx(&step.results, "view product");
            (
                step.replicas,
                [num(&t["p50_ms"]), num(&t["p95_ms"]), num(&t["p99_ms"])],
            )
        })
        .collect();
    let max = points
        .iter()
        .flat_map(|(_, p)| p.iter().copied())
        .fold(1.0, f64::max)
        * 1.1;
    let root = BitMapBackend::new(path, (800, 500)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            format!("{scaled}: latency percentiles against replicas"),
            ("sans-serif", 22),
        )
        .margin(15)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(0.5f64..4.5f64, 0f64..max)?;
    chart
        .configure_mesh()
        .x_desc("replicas")
        .y_desc("ms")
        .draw()?;
    for (i, (label, colour)) in [("p50", BLUE), ("p95", GREEN), ("p99", RED)]
        .into_iter()
        .enumerate()
    {
        chart
            .draw_series(LineSeries::new(
                points.iter().map(|(n, p)| (f64::from(*n), p[i])),
                colour.stroke_width(2),
            ))?
            .label(label)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], colour));
        chart.draw_series(
            points
                .iter()
                .map(|(n, p)| Circle::new((f64::from(*n), p[i]), 4, colour.filled())),
        )?;
    }
    chart
        .configure_series_labels()
        .border_style(BLACK)
        .background_style(WHITE)
        .draw()?;
    root.present()?;
    Ok(())
}

fn cache_plot(path: &Path, report: &Report) -> Result<()> {
    use plotters::prelude::*;
    let bars: Vec<(String, f64, f64)> = report
        .cache
        .iter()
        .map(|p| {
            let t = tx(&p["results"], "view product");
            (
                p["label"].as_str().unwrap_or("").to_owned(),
                num(&t["throughput_per_s"]),
                num(&t["p95_ms"]),
            )
        })
        .collect();
    let root = BitMapBackend::new(path, (900, 450)).into_drawing_area();
    root.fill(&WHITE)?;
    let (left, right) = root.split_horizontally(450);
    for (area, title, pick) in [
        (&left, "reads per second", 1usize),
        (&right, "p95 latency, ms", 2usize),
    ] {
        let value = |b: &(String, f64, f64)| if pick == 1 { b.1 } else { b.2 };
        let max = bars.iter().map(value).fold(1.0, f64::max) * 1.15;
        let mut chart = ChartBuilder::on(area)
            .caption(format!("cache on vs off: {title}"), ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(55)
            .build_cartesian_2d(0f64..bars.len() as f64, 0f64..max)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_label_formatter(&|_| String::new())
            .draw()?;
        // Each bar is named above it: the axis has no place for three long labels.
        chart.draw_series(bars.iter().enumerate().map(|(i, b)| {
            Text::new(
                b.0.clone(),
                (i as f64 + 0.12, value(b) + max * 0.02),
                ("sans-serif", 13),
            )
        }))?;
        chart.draw_series(bars.iter().enumerate().map(|(i, b)| {
            let colour = if b.0.contains("off") { RED } else { BLUE };
            Rectangle::new(
                [(i as f64 + 0.15, 0.0), (i as f64 + 0.85, value(b))],
                colour.filled(),
            )
        }))?;
    }
    root.present()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_times_are_read_after_a_command_name_with_spaces_and_parentheses() {
        // pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt
        // cmajflt utime stime cutime cstime ...
        let stat = "4242 (tokio rt (x)) S 1 2 3 4 5 6 7 8 9 10 250 50 30 20 0 0";
        assert_eq!(parse_stat_cpu_secs(stat, 14), Some(3.0));
        assert_eq!(parse_stat_cpu_secs(stat, 16), Some(0.5));
        assert_eq!(parse_stat_cpu_secs("4242 (cut short) S 1 2", 14), None);
        assert_eq!(parse_stat_cpu_secs("no parenthesis", 14), None);
    }

    #[test]
    fn this_process_cpu_time_grows_while_it_computes() {
        let own = || stat_cpu_secs("/proc/self/stat", 14).expect("own CPU time");
        let before = own();
        let started = Instant::now();
        let mut spins = 0_u64;
        // One clock tick (10 ms) of CPU; the bound only stops a broken reading.
        while own() <= before && started.elapsed() < Duration::from_secs(30) {
            spins = std::hint::black_box(spins.wrapping_add(1));
        }
        assert!(own() > before, "no CPU time counted after {spins} spins");
        assert!(stat_cpu_secs("/proc/self/stat", 16).is_some());
    }

    #[test]
    fn tcp_opens_are_read_by_column_name() {
        let snmp = "Ip: Forwarding DefaultTTL\nIp: 1 64\nTcp: RtoAlgorithm RtoMin ActiveOpens PassiveOpens\nTcp: 1 200 21206 20644\nUdp: InDatagrams\nUdp: 5\n";
        assert_eq!(parse_active_opens(snmp), Some(21_206));
        assert_eq!(parse_active_opens("Tcp: ActiveOpens\n"), None);
        assert!(tcp_active_opens().is_some());
    }

    #[test]
    fn quotas_follow_the_period() {
        assert_eq!(quota_us(0.05, 20_000), 1000);
        assert_eq!(quota_us(0.05, 100_000), 5000);
        assert_eq!(quota_us(0.25, 100_000), 25_000);
    }

    #[test]
    fn a_scaling_step_compares_the_replicas_cpu_with_their_quotas() {
        let step = |quota| ScalingStep {
            round: 1,
            replicas: 2,
            results: Value::Null,
            cpu_secs: 0.75,
            wall_secs: 10.0,
            quota,
            connections: None,
        };
        // Two replicas at 0.05 CPU for 10 s may use 1 CPU second.
        assert_eq!(step(Some(0.05)).quota_used(), Some(0.75));
        assert_eq!(step(None).quota_used(), None);
        let pids = [("inventory-1".to_owned(), 1), ("inventory-2".to_owned(), 2)];
        let sample = CpuSample(BTreeMap::from([
            ("inventory-1".to_owned(), 0.5),
            ("inventory-2".to_owned(), 0.25),
            ("gateway-1".to_owned(), 9.0),
        ]));
        assert!((sample.total_of(&pids) - 0.75).abs() < 1e-12);
    }

    fn step(round: u32, replicas: u16, throughput: f64) -> ScalingStep {
        ScalingStep {
            round,
            replicas,
            results: serde_json::json!({
                "transactions": {"view product": {"throughput_per_s": throughput}}
            }),
            cpu_secs: 0.0,
            wall_secs: 1.0,
            quota: None,
            connections: None,
        }
    }

    #[test]
    fn scaling_efficiency_comes_from_each_replica_count_s_median_across_rounds() {
        let steps = [
            step(1, 1, 1000.0),
            step(1, 2, 1500.0),
            step(1, 4, 4000.0),
            step(2, 1, 600.0),
            step(2, 2, 1800.0),
            step(2, 4, 3000.0),
            step(3, 1, 800.0),
            step(3, 2, 1700.0),
            step(3, 4, 2900.0),
        ];
        let summary = scaling_summary(&steps);
        let replicas: Vec<u16> = summary.iter().map(|s| s.replicas).collect();
        assert_eq!(replicas, [1, 2, 4]);
        assert_eq!(summary[1].throughputs, [1500.0, 1800.0, 1700.0]);
        assert_eq!(summary[1].median, 1700.0);
        // Medians 800, 1700 and 3000.
        assert!((summary[0].efficiency - 1.0).abs() < 1e-12);
        assert!((summary[1].efficiency - 1700.0 / 1600.0).abs() < 1e-12);
        assert!((summary[2].efficiency - 3000.0 / 3200.0).abs() < 1e-12);
        // Each round against its own single replica: 0.75, 1.5, 1.0625 at 2.
        assert_eq!(summary[1].round_efficiencies, [0.75, 1.5, 1.0625]);
        assert_eq!(summary[2].round_efficiencies, [1.0, 1.25, 2900.0 / 3200.0]);
        // The plot's steps: the rounds nearest each median.
        let plotted: Vec<(u32, u16)> = median_steps(&steps)
            .iter()
            .map(|step| (step.round, step.replicas))
            .collect();
        assert_eq!(plotted, [(3, 1), (3, 2), (2, 4)]);
    }

    #[test]
    fn an_even_number_of_rounds_takes_the_mean_of_the_middle_two() {
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), 2.5);
        assert_eq!(median(&[7.0]), 7.0);
        assert_eq!(median(&[]), 0.0);
    }
}
