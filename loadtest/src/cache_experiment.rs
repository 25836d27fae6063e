//! The caching experiment's measurements around a catalogue run: Redis hit ratio from
//! `INFO stats` (`keyspace_hits`/`keyspace_misses` deltas) and database queries per
//! read from the inventory database's committed transactions.
//!
//! `pg_stat_statements` needs a server restart with `shared_preload_libraries`, which a
//! shared development server rarely has; every statement the services send outside a
//! transaction is a transaction of its own, so `pg_stat_database.xact_commit` counts
//! them. What the database does while idle (health probes, the outbox relay's poll) is
//! measured just before the run and subtracted.

use std::{fmt::Write as _, time::Duration};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::{
    results::Results,
    run::{RunConfig, run},
};

/// How long statistics take to reach `pg_stat_database`: backends report at most once
/// a second.
const STATS_DELAY: Duration = Duration::from_millis(1500);
/// The idle window whose commits are subtracted.
const IDLE_WINDOW: Duration = Duration::from_secs(2);

/// Where to measure.
#[derive(Debug, Clone)]
pub struct Probes {
    /// The Redis the service caches in.
    pub redis_url: String,
    /// The product cache's keys, e.g. `inventory:product::*`, flushed for a cold start.
    pub product_keys: String,
    /// The cache's invalidation channel, e.g. `inventory:invalidations`, where the cold
    /// start empties the replicas' local tiers.
    pub invalidations: String,
    /// The inventory database, for queries per read.
    pub database_url: Option<String>,
}

/// One phase's figures.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Phase {
    /// e.g. `cache on, cold`.
    pub label: String,
    /// The run's results.
    pub results: Results,
    /// Product reads in the run.
    pub reads: u64,
    /// `keyspace_hits` delta.
    pub redis_hits: u64,
    /// `keyspace_misses` delta.
    pub redis_misses: u64,
    /// Hits over hits and misses.
    pub hit_ratio: Option<f64>,
    /// Reads answered `x-cache: HIT` over reads that said `HIT` or `MISS`: what the
    /// service's cache answered, from Redis or from its local tier (whose hits never
    /// reach Redis, so `hit_ratio` counts only the reads that went on to Redis).
    #[serde(default)]
    pub served_from_cache: Option<f64>,
    /// Inventory transactions committed during the run, less the idle rate.
    pub db_queries: Option<f64>,
    /// `db_queries` per product read.
    pub db_queries_per_read: Option<f64>,
}

/// Redis `keyspace_hits` and `keyspace_misses`.
pub async fn redis_hits_misses(redis_url: &str) -> Result<(u64, u64)> {
    let client = redis::Client::open(redis_url)?;
    let mut conn = client.get_multiplexed_async_connection().await?;
    let info: String = redis::cmd("INFO")
        .arg("stats")
        .query_async(&mut conn)
        .await?;
    let field = |name: &str| {
        info.lines()
            .find_map(|line| line.strip_prefix(name)?.strip_prefix(':'))
            .and_then(|v| v.trim().parse::<u64>().ok())
            .with_context(|| format!("INFO stats has no {name}"))
    };
    Ok((field("keyspace_hits")?, field("keyspace_misses")?))
}

/// Deletes the keys matching `pattern` (a cold cache).
pub async fn flush(redis_url: &str, pattern: &str, invalidations: &str) -> Result<u64> {
    let client = redis::Client::open(redis_url)?;
    let mut conn = client.get_multiplexed_async_connection().await?;
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(pattern)
        .query_async(&mut conn)
        .await?;
    if !keys.is_empty() {
        let _: () = redis::cmd("DEL").arg(&keys).query_async(&mut conn).await?;
    }
    // The service's replicas keep copies in their local tier too.
    let _: u64 = redis::cmd("PUBLISH")
        .arg(invalidations)
        .arg(PURGE)
        .query_async(&mut conn)
        .await?;
    Ok(keys.len() as u64)
}

/// What empties the services' local cache tiers: the platform's `cache::PURGE`
/// (loadtest does not link the platform; a test holds the two equal).
pub const PURGE: &str = "\n0";

/// Transactions committed in the database so far.
pub async fn commits(database_url: &str) -> Result<i64> {
    use sqlx::Connection as _;
    let mut conn = sqlx::PgConnection::connect(database_url).await?;
    let commits: i64 = sqlx::query_scalar(
        "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()",
    )
    .fetch_one(&mut conn)
    .await?;
    conn.close().await?;
    Ok(commits)
}

/// Runs `config` (a catalogue run) as phase `label`, measuring around it. `cold`
/// flushes the product cache first.
pub async fn phase(label: &str, probes: &Probes, config: &RunConfig, cold: bool) -> Result<Phase> {
    if cold {
        flush(
            &probes.redis_url,
            &probes.product_keys,
            &probes.invalidations,
        )
        .await?;
    }
    let idle = match &probes.database_url {
        Some(url) => {
            tokio::time::sleep(STATS_DELAY).await;
            let before = commits(url).await?;
            tokio::time::sleep(IDLE_WINDOW).await;
            let after = commits(url).await?;
            Some((after, (after - before) as f64 / IDLE_WINDOW.as_secs_f64()))
        }
        None => None,
    };
    let (hits_before, misses_before) = redis_hits_misses(&probes.redis_url).await?;
    let outcome = run(config).await?;
    let (hits_after, misses_after) = redis_hits_misses(&probes.redis_url).await?;
    let db_queries = match (&probes.database_url, idle) {
        (Some(url), Some((start, idle_rate))) => {
            tokio::time::sleep(STATS_DELAY).await;
            let end = commits(url).await?;
            let window = outcome.results.duration_secs + STATS_DELAY.as_secs_f64();
            Some(((end - start) as f64 - idle_rate * window).max(0.0))
        }
        _ => None,
    };
    let reads = outcome
        .results
        .transactions
        .get("view product")
        .map_or(0, |t| t.count);
    let (redis_hits, redis_misses) = (
        hits_after.saturating_sub(hits_before),
        misses_after.saturating_sub(misses_before),
    );
    let answers = |status: &str| outcome.results.cache.get(status).copied().unwrap_or(0);
    let (hit, miss) = (answers("HIT"), answers("MISS"));
    Ok(Phase {
        served_from_cache: (hit + miss > 0).then(|| hit as f64 / (hit + miss) as f64),
        label: label.to_owned(),
        results: outcome.results,
        reads,
        redis_hits,
        redis_misses,
        hit_ratio: (redis_hits + redis_misses > 0)
            .then(|| redis_hits as f64 / (redis_hits + redis_misses) as f64),
        db_queries,
        db_queries_per_read: db_queries.filter(|_| reads > 0).map(|q| q / reads as f64),
    })
}

/// The phases as a Markdown table.
pub fn markdown(phases: &[Phase]) -> String {
    let mut out = String::from(
        "| phase | reads/s | p50 ms | p95 ms | p99 ms | errors | served from cache | Redis hit ratio | DB queries/read |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for phase in phases {
        let view = phase.results.transactions.get("view product");
        let opt = |v: Option<f64>, digits: usize| {
            v.map_or_else(|| "n/a".to_owned(), |v| format!("{v:.digits$}"))
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            phase.label,
            opt(view.map(|t| t.throughput_per_s), 1),
            opt(view.map(|t| t.p50_ms), 2),
            opt(view.map(|t| t.p95_ms), 2),
            opt(view.map(|t| t.p99_ms), 2),
            phase.results.total_errors(),
            opt(phase.served_from_cache.map(|r| r * 100.0), 1) + " %",
            opt(phase.hit_ratio.map(|r| r * 100.0), 1) + " %",
            opt(phase.db_queries_per_read, 3),
        );
    }
    out
}
