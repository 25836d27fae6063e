//! `seeder bench`: on one Postgres server, in one run, times `pgbench -i -s <scale>` and a
//! seeder profile end to end (each into scratch databases it creates and drops), and
//! prints both rows/s and their ratio.

use std::{
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use anyhow::{Context as _, bail};
use sqlx::{Connection as _, Executor as _, PgConnection};

use crate::{
    load::{self, RunOptions},
    plan::{Plan, Profile},
    progress::RunReport,
    target::{self, Safety, Service, Target, Targets},
};

/// What to compare.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    /// A connection to the server's maintenance database (scratch databases are created
    /// next to it).
    pub admin: Target,
    /// pgbench's scale: 100 000 accounts per unit.
    pub scale: u32,
    /// The seeder's profile.
    pub profile: Profile,
    /// The seeder's `--jobs`.
    pub jobs: usize,
    /// The pgbench binary (found on `PATH` or under `/usr/lib/postgresql/*/bin` if unset).
    pub pgbench: Option<PathBuf>,
    /// Hosts and TLS rules.
    pub safety: Safety,
}

/// The two measurements.
#[derive(Debug, Clone)]
pub struct BenchReport {
    /// Rows pgbench loaded (accounts, tellers and branches).
    pub pgbench_rows: u64,
    /// Its wall-clock time.
    pub pgbench_time: Duration,
    /// The seeder's run.
    pub seeder: RunReport,
}

impl BenchReport {
    /// pgbench's rows/s.
    pub fn pgbench_rows_per_second(&self) -> f64 {
        self.pgbench_rows as f64 / self.pgbench_time.as_secs_f64().max(1e-9)
    }

    /// seeder rows/s ÷ pgbench rows/s.
    pub fn ratio(&self) -> f64 {
        self.seeder.rows_per_second() / self.pgbench_rows_per_second().max(1e-9)
    }
}

impl std::fmt::Display for BenchReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "pgbench -i: {:>11} rows in {:>7.2} s = {:>10.0} rows/s",
            self.pgbench_rows,
            self.pgbench_time.as_secs_f64(),
            self.pgbench_rows_per_second()
        )?;
        writeln!(
            f,
            "seeder:     {:>11} rows in {:>7.2} s = {:>10.0} rows/s ({:.2} s of it rebuilding indexes)",
            self.seeder.rows(),
            self.seeder.elapsed.as_secs_f64(),
            self.seeder.rows_per_second(),
            self.seeder.finalise.as_secs_f64()
        )?;
        write!(f, "ratio seeder / pgbench: {:.2}x", self.ratio())
    }
}

fn find_pgbench() -> PathBuf {
    if let Ok(entries) = std::fs::read_dir("/usr/lib/postgresql") {
        let mut candidates: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .map(|e| e.path().join("bin/pgbench"))
            .filter(|p| p.is_file())
            .collect();
        candidates.sort();
        if let Some(newest) = candidates.pop() {
            return newest;
        }
    }
    PathBuf::from("pgbench")
}

async fn create(admin: &mut PgConnection, name: &str) -> anyhow::Result<()> {
    admin
        .execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
        .await
        .with_context(|| format!("creating the scratch database {name}"))?;
    Ok(())
}

async fn drop_database(admin: &mut PgConnection, name: &str) -> anyhow::Result<()> {
    admin
        .execute(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
        )))
        .await?;
    Ok(())
}

/// Runs both loads and reports them; scratch databases are dropped even on failure.
pub async fn bench(options: &BenchOptions) -> anyhow::Result<BenchReport> {
    let prefix = format!("seeder_bench_{}", std::process::id());
    let targets = Targets::from_targets(
        Service::ALL
            .into_iter()
            .map(|s| {
                options
                    .admin
                    .with_database(s, &format!("{prefix}_{}", s.name()))
            })
            .collect::<anyhow::Result<Vec<_>>>()?,
    );
    target::check(&targets, &options.safety, true)?;
    let mut admin = PgConnection::connect_with(&options.admin.connect_options()?)
        .await
        .with_context(|| format!("connecting to {}", options.admin))?;
    let pgbench_db = format!("{prefix}_pgbench");
    let result = async {
        create(&mut admin, &pgbench_db).await?;
        let pgbench = options.pgbench.clone().unwrap_or_else(find_pgbench);
        let pgbench_time =
            run_pgbench(&pgbench, &options.admin, &pgbench_db, options.scale).await?;
        drop_database(&mut admin, &pgbench_db).await?;
        for target in targets.iter() {
            create(&mut admin, &target.database).await?;
        }
        let plan = Plan::profile(options.profile, 1);
        let seeder = load::run(
            &plan,
            &targets,
            &RunOptions {
                jobs: options.jobs,
                safety: options.safety.clone(),
                progress: true,
                ..RunOptions::default()
            },
        )
        .await?;
        let scale = u64::from(options.scale);
        anyhow::Ok(BenchReport {
            pgbench_rows: scale * 100_000 + scale * 10 + scale,
            pgbench_time,
            seeder,
        })
    }
    .await;
    drop_database(&mut admin, &pgbench_db).await?;
    for target in targets.iter() {
        drop_database(&mut admin, &target.database).await?;
    }
    admin.close().await?;
    result
}

async fn run_pgbench(
    pgbench: &Path,
    admin: &Target,
    database: &str,
    scale: u32,
) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let status = admin
        .pg_command(pgbench)
        .args(["-i", "-q", "-s", &scale.to_string(), database])
        .status()
        .await
        .with_context(|| format!("running {}", pgbench.display()))?;
    if !status.success() {
        bail!("{} -i failed: {status}", pgbench.display());
    }
    Ok(started.elapsed())
}
