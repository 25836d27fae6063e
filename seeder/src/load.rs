//! The load: register the run in every database, stream chunks in parallel with binary
//! `COPY`, record each chunk in `seeder_progress` in the chunk's own transaction, and
//! finish by rebuilding indexes, advancing sequences and analysing.
//!
//! Why the result never depends on how the run went: a chunk's rows are a pure function
//! of the plan and the chunk's range, and a chunk is committed together with its progress
//! row or not at all. A resumed run, a run with other `--jobs`, or `n` shards that each
//! take every `n`-th chunk therefore write exactly the same rows.

use std::{
    collections::{BTreeMap, BTreeSet, HashSet, VecDeque},
    str::FromStr,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use anyhow::{Context as _, bail};
use futures::future::try_join_all;
use secrecy::{ExposeSecret as _, SecretString};
use sqlx::{Connection as _, PgConnection, PgPool, Row as _, postgres::PgPoolOptions, types::Json};
use tokio::{sync::Semaphore, task::JoinSet};

use crate::{
    generate::LOAD_TEST_PASSWORD,
    plan::{Offsets, Plan},
    progress::{Bars, RunReport, TableReport},
    schema::{self, Dropped, ObjectKind},
    stream::{Context, Stream},
    target::{self, Safety, Service, Target, Targets},
};

/// Parents per chunk (one transaction) unless told otherwise.
pub const DEFAULT_CHUNK_SIZE: u64 = 20_000;

/// The advisory lock that serialises registration and finishing between processes.
const LOCK_KEY: i64 = 0x5eed_1e55;

/// `--shard i/n`: this process loads chunks `c` with `c % n == i`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// `i`, from 0.
    pub index: u64,
    /// `n`.
    pub count: u64,
}

impl Default for Shard {
    fn default() -> Self {
        Self { index: 0, count: 1 }
    }
}

impl FromStr for Shard {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (index, count) = s
            .split_once('/')
            .ok_or_else(|| format!("expected i/n (e.g. 0/4), got {s:?}"))?;
        let index: u64 = index
            .trim()
            .parse()
            .map_err(|err| format!("shard index {index:?}: {err}"))?;
        let count: u64 = count
            .trim()
            .parse()
            .map_err(|err| format!("shard count {count:?}: {err}"))?;
        if count == 0 || index >= count {
            return Err(format!("shard {index}/{count}: need 0 <= i < n"));
        }
        Ok(Self { index, count })
    }
}

/// How to run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Chunks loaded at once (connections per database).
    pub jobs: usize,
    /// The slice of the chunks this process loads.
    pub shard: Shard,
    /// Continue the unfinished run found in the databases (its stored plan wins).
    pub resume: bool,
    /// Add to tables that already hold rows (indexes stay in place).
    pub append: bool,
    /// Hosts and TLS rules (see [`target::check`]).
    pub safety: Safety,
    /// Parents per chunk.
    pub chunk_size: u64,
    /// Keep indexes during the load (slower; for tables the services are using).
    pub keep_indexes: bool,
    /// Draw progress bars (on a terminal).
    pub progress: bool,
    /// The seeded users' password.
    pub user_password: SecretString,
    /// `maintenance_work_mem` for the index rebuilds.
    pub maintenance_work_mem: String,
}

impl Default for RunOptions {
    fn default() -> Self {
        Self {
            jobs: 2,
            shard: Shard::default(),
            resume: false,
            append: false,
            safety: Safety::default(),
            chunk_size: DEFAULT_CHUNK_SIZE,
            keep_indexes: false,
            progress: false,
            user_password: SecretString::from(LOAD_TEST_PASSWORD.to_owned()),
            maintenance_work_mem: "256MB".to_owned(),
        }
    }
}

/// A row of `seeder_run`.
#[derive(Debug, Clone)]
struct RunRow {
    fingerprint: String,
    plan: Plan,
    chunk_size: u64,
    password_hash: Option<String>,
    dropped: Vec<Dropped>,
    finished: bool,
}

/// One connection pool per database.
#[derive(Debug, Clone)]
pub(crate) struct Databases {
    pools: BTreeMap<Service, PgPool>,
    targets: Targets,
}

impl Databases {
    /// Connects to every target (checked first with [`target::check`] by the caller).
    pub(crate) async fn connect(targets: &Targets, connections: u32) -> anyhow::Result<Self> {
        let mut pools = BTreeMap::new();
        for target in targets.iter() {
            let pool = PgPoolOptions::new()
                .max_connections(connections)
                .acquire_timeout(Duration::from_secs(30))
                .connect_with(target.connect_options()?)
                .await
                .with_context(|| {
                    format!("connecting to the {} database ({target})", target.service)
                })?;
            pools.insert(target.service, pool);
        }
        Ok(Self {
            pools,
            targets: targets.clone(),
        })
    }

    pub(crate) fn pool(&self, service: Service) -> &PgPool {
        &self.pools[&service]
    }

    pub(crate) fn target(&self, service: Service) -> &Target {
        self.targets.get(service)
    }

    /// A connection of its own holding the coordination lock, taken in the identity
    /// database; closing it (or dying) releases the lock.
    async fn lock(&self) -> anyhow::Result<PgConnection> {
        self.lock_in(Service::Identity, LOCK_KEY).await
    }

    /// A connection holding advisory lock `key` in `service`'s database.
    async fn lock_in(&self, service: Service, key: i64) -> anyhow::Result<PgConnection> {
        let target = self.target(service);
        let mut conn = PgConnection::connect_with(&target.connect_options()?)
            .await
            .with_context(|| format!("connecting to the {service} database ({target})"))?;
        sqlx::query("SELECT pg_advisory_lock($1)")
            .bind(key)
            .execute(&mut conn)
            .await?;
        Ok(conn)
    }

    pub(crate) async fn close(self) {
        for pool in self.pools.values() {
            pool.close().await;
        }
    }
}

async fn read_runs(pool: &PgPool) -> anyhow::Result<Vec<RunRow>> {
    let mut conn = pool.acquire().await?;
    if !schema::has_bookkeeping(&mut conn).await? {
        return Ok(Vec::new());
    }
    let rows = sqlx::query(
        "SELECT fingerprint, plan, chunk_size, password_hash, dropped, state
         FROM seeder_run ORDER BY started_at",
    )
    .fetch_all(&mut *conn)
    .await?;
    rows.into_iter()
        .map(|row| {
            let Json(plan): Json<Plan> = row.try_get("plan")?;
            let Json(dropped): Json<Vec<Dropped>> = row.try_get("dropped")?;
            let state: String = row.try_get("state")?;
            let chunk_size: i64 = row.try_get("chunk_size")?;
            Ok(RunRow {
                fingerprint: row.try_get("fingerprint")?,
                plan,
                chunk_size: u64::try_from(chunk_size).unwrap_or(DEFAULT_CHUNK_SIZE),
                password_hash: row.try_get("password_hash")?,
                dropped,
                finished: state == "finished",
            })
        })
        .collect()
}

/// The run every process of one plan agrees on.
#[derive(Debug, Clone)]
struct Agreed {
    plan: Plan,
    chunk_size: u64,
    password_hash: Option<String>,
}

/// What registration decided.
enum Registration {
    /// Load (the services whose run is already finished are skipped).
    Load {
        agreed: Agreed,
        finished: BTreeSet<Service>,
    },
    /// Nothing left to do: the plan is completely loaded.
    Complete(Plan),
}

/// Loads `plan` into `targets`. See the crate documentation for the guarantees.
pub async fn run(
    plan: &Plan,
    targets: &Targets,
    options: &RunOptions,
) -> anyhow::Result<RunReport> {
    let started = Instant::now();
    target::check(targets, &options.safety, true)?;
    let jobs = options.jobs.max(1);
    let databases = Databases::connect(targets, jobs as u32 + 1).await?;
    let result = run_on(plan, &databases, options, jobs, started).await;
    databases.close().await;
    result
}

async fn run_on(
    plan: &Plan,
    databases: &Databases,
    options: &RunOptions,
    jobs: usize,
    started: Instant,
) -> anyhow::Result<RunReport> {
    let lock = databases.lock().await?;
    let registration = register(plan, databases, options).await;
    lock.close().await?;
    let (agreed, finished) = match registration? {
        Registration::Complete(plan) => {
            return Ok(RunReport {
                plan,
                tables: Vec::new(),
                finished: true,
                elapsed: started.elapsed(),
                finalise: Duration::ZERO,
            });
        }
        Registration::Load { agreed, finished } => (agreed, finished),
    };
    let password_hash = agreed
        .password_hash
        .clone()
        .context("the run in the identity database has no password hash")?;
    let plan = agreed.plan.clone();
    let context =
        Arc::new(tokio::task::spawn_blocking(move || Context::new(plan, password_hash)).await?);
    let tasks = pending_tasks(databases, &agreed, &finished, options.shard).await?;
    let share = share_of_work(&agreed, &tasks);
    let bars = Arc::new(Bars::new(&agreed.plan, &share, options.progress));
    let loaded = Arc::new(Mutex::new(BTreeMap::<(Service, &'static str), u64>::new()));
    let finishing = Finishing {
        databases: databases.clone(),
        agreed: agreed.clone(),
        permits: Arc::new(Semaphore::new(jobs)),
        maintenance_work_mem: options.maintenance_work_mem.clone(),
        started: Arc::new(Mutex::new(None)),
    };
    let done = load_tasks(
        databases, &context, &agreed, tasks, jobs, &bars, &loaded, &finishing,
    )
    .await?;
    bars.finish();
    let finalise_started = finishing.first_start().unwrap_or_else(Instant::now);
    let mut finalised = true;
    for service in Service::ALL {
        let complete = match done.get(&service) {
            Some(handle) => handle
                .clone()
                .await
                .map_err(|err| anyhow::anyhow!("{err:#}"))?,
            None => finishing.finish(service).await?,
        };
        finalised &= complete;
    }
    let loaded = loaded
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    let mut tables = Vec::new();
    for service in Service::ALL {
        for table in schema::tables(service) {
            tables.push(TableReport {
                service,
                table,
                rows: loaded.get(&(service, *table)).copied().unwrap_or(0),
            });
        }
    }
    Ok(RunReport {
        plan: agreed.plan,
        tables,
        finished: finalised,
        elapsed: started.elapsed(),
        finalise: finalise_started.elapsed(),
    })
}

/// Decides, under the lock, whether this is a fresh run, a resume, a shard joining, or a
/// refusal; registers the run where needed.
async fn register(
    plan: &Plan,
    databases: &Databases,
    options: &RunOptions,
) -> anyhow::Result<Registration> {
    let mut runs = BTreeMap::new();
    for service in Service::ALL {
        runs.insert(service, read_runs(databases.pool(service)).await?);
    }
    let loading: Vec<(Service, &RunRow)> = runs
        .iter()
        .flat_map(|(service, rows)| rows.iter().filter(|r| !r.finished).map(|r| (*service, r)))
        .collect();
    let fingerprints: BTreeSet<&str> = loading
        .iter()
        .map(|(_, r)| r.fingerprint.as_str())
        .collect();
    if fingerprints.len() > 1 {
        bail!(
            "the databases hold unfinished runs of several plans ({}); remove them with `seeder reset`",
            fingerprints.into_iter().collect::<Vec<_>>().join(", ")
        );
    }
    let joining = options.resume || options.shard.count > 1;
    let adopted = match loading.first() {
        Some((service, row)) => {
            let joins = options.shard.count > 1 && row.fingerprint == plan.fingerprint();
            if !(options.resume || joins) {
                bail!(
                    "an unfinished seeding run (plan {}, seed {}) exists in the {service} database ({}); \
                     continue it with `seeder run --resume`, or remove it with `seeder reset`",
                    row.fingerprint,
                    row.plan.seed,
                    databases.target(*service)
                );
            }
            Some(Agreed {
                plan: row.plan.clone(),
                chunk_size: row.chunk_size,
                password_hash: runs[&Service::Identity]
                    .iter()
                    .find(|r| r.fingerprint == row.fingerprint)
                    .and_then(|r| r.password_hash.clone()),
            })
        }
        None => {
            let fingerprint = plan.fingerprint();
            let complete = runs.values().all(|rows| {
                rows.iter()
                    .any(|r| r.finished && r.fingerprint == fingerprint)
            });
            if joining && complete {
                let stored = runs[&Service::Identity]
                    .iter()
                    .find(|r| r.fingerprint == fingerprint)
                    .map_or_else(|| plan.clone(), |r| r.plan.clone());
                return Ok(Registration::Complete(stored));
            }
            if options.resume {
                bail!("nothing to resume: the target databases hold no unfinished seeding run");
            }
            None
        }
    };
    let fresh = adopted.is_none();
    let mut agreed = match adopted {
        Some(agreed) => agreed,
        None => {
            if !options.append {
                refuse_non_empty(databases).await?;
            }
            Agreed {
                plan: plan.clone(),
                chunk_size: options.chunk_size.max(1),
                password_hash: None,
            }
        }
    };
    let fingerprint = agreed.plan.fingerprint();
    let mut finished = BTreeSet::new();
    // A fresh run registers everywhere (replacing an old finished run of the same plan,
    // e.g. when appending it again); a resumed or joined one only where it is missing.
    let unregistered: Vec<Service> = Service::ALL
        .into_iter()
        .filter(|service| {
            let row = runs[service].iter().find(|r| r.fingerprint == fingerprint);
            if fresh {
                return true;
            }
            if row.is_some_and(|r| r.finished) {
                finished.insert(*service);
            }
            row.is_none()
        })
        .collect();
    if unregistered.is_empty() {
        return Ok(Registration::Load { agreed, finished });
    }
    for service in &unregistered {
        let pool = databases.pool(*service);
        schema::migrate(*service, pool).await?;
        schema::create_bookkeeping(pool).await?;
    }
    schema::ensure_realm(databases.pool(Service::Identity)).await?;
    if unregistered.len() == Service::ALL.len() && options.append {
        agreed.plan.offsets = offsets(databases).await?;
    }
    if agreed.password_hash.is_none() {
        agreed.password_hash = Some(hash_password(&options.user_password).await?);
    }
    for service in unregistered {
        let pool = databases.pool(service);
        let mut tx = pool.begin().await?;
        for stale in [
            "DELETE FROM seeder_progress WHERE fingerprint = $1",
            "DELETE FROM seeder_run WHERE fingerprint = $1",
        ] {
            sqlx::query(stale)
                .bind(&fingerprint)
                .execute(&mut *tx)
                .await?;
        }
        let empty = schema::non_empty_tables(&mut tx, service).await?.is_empty();
        let dropped = if empty && !options.keep_indexes && !options.append {
            schema::drop_indexes(&mut tx, schema::tables(service)).await?
        } else {
            Vec::new()
        };
        sqlx::query(
            "INSERT INTO seeder_run (fingerprint, plan, chunk_size, password_hash, dropped, state)
             VALUES ($1, $2, $3, $4, $5, 'loading')",
        )
        .bind(&fingerprint)
        .bind(Json(&agreed.plan))
        .bind(i64::try_from(agreed.chunk_size)?)
        .bind(
            (service == Service::Identity)
                .then(|| agreed.password_hash.clone())
                .flatten(),
        )
        .bind(Json(&dropped))
        .execute(&mut *tx)
        .await
        .with_context(|| format!("registering the run in the {service} database"))?;
        tx.commit().await?;
    }
    Ok(Registration::Load { agreed, finished })
}

async fn refuse_non_empty(databases: &Databases) -> anyhow::Result<()> {
    let mut found = Vec::new();
    for service in Service::ALL {
        let mut conn = databases.pool(service).acquire().await?;
        for table in schema::non_empty_tables(&mut conn, service).await? {
            found.push(format!("{service}.{table} ({})", databases.target(service)));
        }
    }
    if found.is_empty() {
        return Ok(());
    }
    bail!(
        "refusing to seed: these tables already hold rows, and nothing was written:\n  - {}\n\
         pass --append to add to them, or empty them with `seeder reset`",
        found.join("\n  - ")
    )
}

/// Where an appended run's ids start.
async fn offsets(databases: &Databases) -> anyhow::Result<Offsets> {
    async fn max_id(pool: &PgPool, table: &str) -> anyhow::Result<i64> {
        Ok(sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT coalesce(max(id), 0)::bigint FROM {table}"
        )))
        .fetch_one(pool)
        .await?)
    }
    let identity = databases.pool(Service::Identity);
    let payment = databases.pool(Service::Payment);
    let users: i64 = sqlx::query_scalar("SELECT count(*) FROM user_entity")
        .fetch_one(identity)
        .await?;
    Ok(Offsets {
        users: u64::try_from(users)?,
        addresses: max_id(databases.pool(Service::Account), "address").await?,
        products: max_id(databases.pool(Service::Inventory), "product").await?,
        payments: max_id(payment, "payment").await?,
        carts: max_id(payment, "cart").await?,
        orders: max_id(databases.pool(Service::Order), "orders").await?,
    })
}

/// Hashes the users' password once, with identity's own hasher at its production cost.
async fn hash_password(password: &SecretString) -> anyhow::Result<String> {
    let password = password.clone();
    tokio::task::spawn_blocking(move || {
        identity::password::PasswordHasher::new(identity::password::PasswordHashConfig::default())
            .and_then(|hasher| hasher.hash(password.expose_secret()))
    })
    .await?
    .context("hashing the seeded users' password")
}

/// One chunk of one stream.
#[derive(Debug, Clone, Copy)]
struct Task {
    stream: Stream,
    chunk: u64,
}

/// This shard's chunks that are not committed yet, interleaved so that every database
/// is loading at any time.
async fn pending_tasks(
    databases: &Databases,
    agreed: &Agreed,
    finished: &BTreeSet<Service>,
    shard: Shard,
) -> anyhow::Result<Vec<Task>> {
    let fingerprint = agreed.plan.fingerprint();
    let mut tasks = Vec::new();
    for stream in Stream::ALL {
        if finished.contains(&stream.service()) {
            continue;
        }
        let done: HashSet<i64> = sqlx::query_scalar(
            "SELECT chunk FROM seeder_progress WHERE fingerprint = $1 AND stream = $2",
        )
        .bind(&fingerprint)
        .bind(stream.name())
        .fetch_all(databases.pool(stream.service()))
        .await?
        .into_iter()
        .collect();
        let chunks = stream.chunks(&agreed.plan, agreed.chunk_size);
        for chunk in (shard.index..chunks).step_by(shard.count as usize) {
            if !done.contains(&(chunk as i64)) {
                let order = (
                    loading_order(stream.service()),
                    chunk as f64 / chunks as f64,
                );
                tasks.push((order, Task { stream, chunk }));
            }
        }
    }
    // One database after the other, the biggest first, so that each database's index
    // rebuild overlaps the loading of the next ones and the last rebuild is small;
    // within a database, its streams interleave.
    tasks.sort_by(|a, b| a.0.0.cmp(&b.0.0).then(a.0.1.total_cmp(&b.0.1)));
    Ok(tasks.into_iter().map(|(_, task)| task).collect())
}

/// Where a database comes in the loading order: by size, rebuild work included.
fn loading_order(service: Service) -> u8 {
    match service {
        Service::Payment => 0,
        Service::Order => 1,
        Service::Account => 2,
        Service::Identity => 3,
        Service::Inventory => 4,
    }
}

/// The fraction of each database's rows this process still loads (for the bars).
fn share_of_work(agreed: &Agreed, tasks: &[Task]) -> BTreeMap<Service, f64> {
    let mut share = BTreeMap::new();
    for stream in Stream::ALL {
        let chunks = stream.chunks(&agreed.plan, agreed.chunk_size).max(1);
        let mine = tasks.iter().filter(|t| t.stream == stream).count();
        share.insert(stream.service(), mine as f64 / chunks as f64);
    }
    share
}

/// A database's finishing, shared so that both the worker that started it and the end
/// of the run can wait for it.
type Finished =
    futures::future::Shared<futures::future::BoxFuture<'static, Result<bool, Arc<anyhow::Error>>>>;

/// Loads the tasks; starts finishing each database as soon as its last task is in, and
/// returns those finishings.
#[allow(clippy::too_many_arguments)] // The run's shared state, passed down once.
async fn load_tasks(
    databases: &Databases,
    context: &Arc<Context>,
    agreed: &Agreed,
    tasks: Vec<Task>,
    jobs: usize,
    bars: &Arc<Bars>,
    loaded: &Arc<Mutex<BTreeMap<(Service, &'static str), u64>>>,
    finishing: &Finishing,
) -> anyhow::Result<BTreeMap<Service, Finished>> {
    let mut remaining: BTreeMap<Service, usize> = BTreeMap::new();
    for task in &tasks {
        *remaining.entry(task.stream.service()).or_insert(0) += 1;
    }
    let remaining = Arc::new(Mutex::new(remaining));
    let done: Arc<Mutex<BTreeMap<Service, Finished>>> = Arc::default();
    let queue = Arc::new(Mutex::new(VecDeque::from(tasks)));
    let mut workers = JoinSet::new();
    for _ in 0..jobs {
        let queue = Arc::clone(&queue);
        let databases = databases.clone();
        let context = Arc::clone(context);
        let bars = Arc::clone(bars);
        let loaded = Arc::clone(loaded);
        let chunk_size = agreed.chunk_size;
        let remaining = Arc::clone(&remaining);
        let done = Arc::clone(&done);
        let finishing = finishing.clone();
        workers.spawn(async move {
            loop {
                let next = queue
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .pop_front();
                let Some(task) = next else {
                    return anyhow::Ok(());
                };
                let rows = load_chunk(&databases, &context, task, chunk_size)
                    .await
                    .with_context(|| {
                        format!(
                            "loading chunk {} of {} into the {} database",
                            task.chunk,
                            task.stream.name(),
                            task.stream.service()
                        )
                    })?;
                let mut totals = loaded
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                for (table, count) in rows {
                    bars.add(task.stream.service(), table, count);
                    *totals.entry((task.stream.service(), table)).or_insert(0) += count;
                }
                drop(totals);
                let service = task.stream.service();
                let last = {
                    let mut remaining = remaining
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                    let left = remaining.entry(service).or_insert(1);
                    *left -= 1;
                    *left == 0
                };
                if last {
                    let finishing = finishing.clone();
                    let handle: Finished = futures::FutureExt::shared(Box::pin(async move {
                        finishing.finish(service).await.map_err(Arc::new)
                    })
                        as futures::future::BoxFuture<'static, _>);
                    tokio::spawn(handle.clone());
                    done.lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .insert(service, handle);
                }
            }
        });
    }
    while let Some(joined) = workers.join_next().await {
        if let Err(err) = joined.map_err(anyhow::Error::from).and_then(|r| r) {
            workers.abort_all();
            return Err(err);
        }
    }
    let done = done
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    Ok(done)
}

/// Generates one chunk and commits it with its progress row.
async fn load_chunk(
    databases: &Databases,
    context: &Arc<Context>,
    task: Task,
    chunk_size: u64,
) -> anyhow::Result<Vec<(&'static str, u64)>> {
    let parents = task.stream.parents(&context.plan);
    let start = task.chunk * chunk_size;
    let range = start..(start + chunk_size).min(parents);
    let generating = Arc::clone(context);
    let buffers =
        tokio::task::spawn_blocking(move || task.stream.encode(&generating, range)).await?;
    let mut tx = databases.pool(task.stream.service()).begin().await?;
    let mut rows = Vec::new();
    let mut total: i64 = 0;
    for (table, buffer) in task.stream.tables().iter().zip(buffers) {
        let count = buffer.rows();
        let mut copy = tx.copy_in_raw(&table.copy_statement()).await?;
        copy.send(buffer.finish()).await?;
        copy.finish()
            .await
            .with_context(|| format!("COPY into {}", table.name))?;
        rows.push((table.name, count));
        total += i64::try_from(count)?;
    }
    sqlx::query(
        "INSERT INTO seeder_progress (fingerprint, stream, chunk, rows) VALUES ($1, $2, $3, $4)",
    )
    .bind(context.plan.fingerprint())
    .bind(task.stream.name())
    .bind(i64::try_from(task.chunk)?)
    .bind(total)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(rows)
}

/// Finishes databases: when every chunk of every shard of a database is committed,
/// rebuilds what was dropped, advances the sequences, analyses, and marks the run
/// finished there.
#[derive(Debug, Clone)]
struct Finishing {
    databases: Databases,
    agreed: Agreed,
    permits: Arc<Semaphore>,
    maintenance_work_mem: String,
    started: Arc<Mutex<Option<Instant>>>,
}

impl Finishing {
    /// When the first database started finishing.
    fn first_start(&self) -> Option<Instant> {
        *self
            .started
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Finishes `service`'s database if all its chunks are in; returns whether it is
    /// finished. Shards serialise on a lock per database, so exactly one finishes it.
    async fn finish(&self, service: Service) -> anyhow::Result<bool> {
        self.started
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get_or_insert_with(Instant::now);
        let key = LOCK_KEY + 1 + loading_order(service) as i64;
        let lock = self.databases.lock_in(service, key).await?;
        let result = self.finish_locked(service).await;
        lock.close().await?;
        result.with_context(|| format!("finishing the {service} database"))
    }

    async fn finish_locked(&self, service: Service) -> anyhow::Result<bool> {
        let pool = self.databases.pool(service);
        let fingerprint = self.agreed.plan.fingerprint();
        let finished: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM seeder_run WHERE fingerprint = $1 AND state = 'finished')",
        )
        .bind(&fingerprint)
        .fetch_one(pool)
        .await?;
        if finished {
            return Ok(true);
        }
        for stream in Stream::ALL.into_iter().filter(|s| s.service() == service) {
            let done: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM seeder_progress WHERE fingerprint = $1 AND stream = $2",
            )
            .bind(&fingerprint)
            .bind(stream.name())
            .fetch_one(pool)
            .await?;
            if u64::try_from(done)? < stream.chunks(&self.agreed.plan, self.agreed.chunk_size) {
                return Ok(false);
            }
        }
        finalise_database(
            &self.databases,
            service,
            &fingerprint,
            &self.permits,
            &self.maintenance_work_mem,
        )
        .await?;
        Ok(true)
    }
}

async fn finalise_database(
    databases: &Databases,
    service: Service,
    fingerprint: &str,
    permits: &Arc<Semaphore>,
    maintenance_work_mem: &str,
) -> anyhow::Result<()> {
    let pool = databases.pool(service);
    let Some(run) = read_runs(pool)
        .await?
        .into_iter()
        .find(|r| r.fingerprint == fingerprint)
    else {
        bail!("the run {fingerprint} is not registered");
    };
    if run.finished {
        return Ok(());
    }
    rebuild_all(pool, &run.dropped, permits, maintenance_work_mem).await?;
    schema::advance_sequences(pool, service).await?;
    schema::analyze(pool, service).await?;
    sqlx::query(
        "UPDATE seeder_run SET state = 'finished', finished_at = now() WHERE fingerprint = $1",
    )
    .bind(fingerprint)
    .execute(pool)
    .await?;
    Ok(())
}

/// Roughly how many rows a table gets per user.
fn rebuild_weight(table: &str) -> u32 {
    match table {
        "payment_product" => 7,
        "payment" => 3,
        "orders" => 3,
        "address" => 2,
        "user_entity" | "customer" => 1,
        _ => 0,
    }
}

/// Rebuilds dropped objects: keys and indexes in parallel, then foreign keys.
pub(crate) async fn rebuild_all(
    pool: &PgPool,
    dropped: &[Dropped],
    permits: &Arc<Semaphore>,
    maintenance_work_mem: &str,
) -> anyhow::Result<()> {
    for phase in [
        &[ObjectKind::Key, ObjectKind::Index][..],
        &[ObjectKind::ForeignKey][..],
    ] {
        let mut objects: Vec<&Dropped> = dropped
            .iter()
            .filter(|object| phase.contains(&object.kind))
            .collect();
        // The biggest tables first, so the last rebuilds running alone are short ones.
        objects.sort_by_key(|object| std::cmp::Reverse(rebuild_weight(&object.table)));
        try_join_all(objects.iter().map(|object| async move {
            let _permit = permits.acquire().await?;
            let mut conn = pool.acquire().await?;
            schema::rebuild(&mut conn, object, maintenance_work_mem).await
        }))
        .await?;
        let mut conn = pool.acquire().await?;
        for object in objects {
            schema::attach(&mut conn, object).await?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_parse_and_reject_nonsense() {
        assert_eq!("1/4".parse::<Shard>(), Ok(Shard { index: 1, count: 4 }));
        assert!("4/4".parse::<Shard>().is_err());
        assert!("0/0".parse::<Shard>().is_err());
        assert!("x".parse::<Shard>().is_err());
    }

    #[test]
    fn shards_split_the_chunks_without_overlap_or_gaps() {
        let chunks = 11_u64;
        let mut seen = Vec::new();
        for index in 0..3 {
            seen.extend((index..chunks).step_by(3));
        }
        seen.sort_unstable();
        assert_eq!(seen, (0..chunks).collect::<Vec<_>>());
    }
}
