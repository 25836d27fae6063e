//! `seeder verify`: checks with SQL that every reference between the databases resolves
//! and that the data keeps the rules the services rely on, and optionally prints a
//! checksum per table.
//!
//! Postgres cannot join across databases, so cross-database checks either look keys up
//! in a sorted in-memory list (user and product ids: 16 and 8 bytes each) or merge two
//! streams sorted by the same key (orders with payments, projections with primary
//! addresses); memory stays bounded whatever the size.

use std::{cmp::Ordering, fmt};

use anyhow::Context as _;
use futures::{Stream, StreamExt as _, TryStreamExt as _};
use sqlx::{PgPool, Row as _, postgres::PgRow};
use uuid::Uuid;

use crate::{
    load::Databases,
    schema,
    target::{self, Safety, Service, Targets},
};

/// Examples kept per violated rule.
const EXAMPLES: usize = 5;

/// A rule and the rows that break it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// The rule, e.g. `order → payment`.
    pub rule: &'static str,
    /// How many rows break it.
    pub count: u64,
    /// The first few, described.
    pub examples: Vec<String>,
}

/// Rows and checksum of one table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableChecksum {
    /// The database.
    pub service: Service,
    /// The table.
    pub table: &'static str,
    /// Rows.
    pub rows: i64,
    /// A hash of every row's content (order-independent; `password_hash` is left out
    /// because identity salts each hash at random).
    pub checksum: String,
}

/// What `verify` found.
#[derive(Debug, Clone, Default)]
pub struct Verification {
    /// Broken rules; empty when everything holds.
    pub violations: Vec<Violation>,
    /// Per-table checksums, when asked for.
    pub checksums: Vec<TableChecksum>,
}

impl Verification {
    /// Whether every rule holds.
    pub fn passed(&self) -> bool {
        self.violations.is_empty()
    }
}

impl fmt::Display for Verification {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for checksum in &self.checksums {
            writeln!(
                f,
                "{:<10} {:<16} rows {:>12}  checksum {}",
                checksum.service.name(),
                checksum.table,
                checksum.rows,
                checksum.checksum
            )?;
        }
        if self.violations.is_empty() {
            return write!(f, "verify: every reference resolves and every rule holds");
        }
        writeln!(f, "verify: {} rules broken", self.violations.len())?;
        for violation in &self.violations {
            writeln!(f, "  {}: {} rows", violation.rule, violation.count)?;
            for example in &violation.examples {
                writeln!(f, "    - {example}")?;
            }
        }
        Ok(())
    }
}

/// How to verify.
#[derive(Debug, Clone, Default)]
pub struct VerifyOptions {
    /// Also compute per-table checksums.
    pub checksum: bool,
    /// TLS rules (reading needs no host confirmation).
    pub safety: Safety,
}

/// Collects the violations of one rule.
struct Rule {
    rule: &'static str,
    count: u64,
    examples: Vec<String>,
}

impl Rule {
    fn new(rule: &'static str) -> Self {
        Self {
            rule,
            count: 0,
            examples: Vec::new(),
        }
    }

    fn broken(&mut self, example: impl FnOnce() -> String) {
        self.count += 1;
        if self.examples.len() < EXAMPLES {
            self.examples.push(example());
        }
    }

    fn into_violation(self) -> Option<Violation> {
        (self.count > 0).then_some(Violation {
            rule: self.rule,
            count: self.count,
            examples: self.examples,
        })
    }
}

/// Checks every rule (and computes checksums when asked) across the databases.
pub async fn verify(targets: &Targets, options: &VerifyOptions) -> anyhow::Result<Verification> {
    target::check(targets, &options.safety, false)?;
    let databases = Databases::connect(targets, 3).await?;
    let result = verify_on(&databases, options).await;
    databases.close().await;
    result
}

async fn verify_on(databases: &Databases, options: &VerifyOptions) -> anyhow::Result<Verification> {
    let identity = databases.pool(Service::Identity);
    let account = databases.pool(Service::Account);
    let inventory = databases.pool(Service::Inventory);
    let payment = databases.pool(Service::Payment);
    let order = databases.pool(Service::Order);

    let mut users: Vec<Uuid> = sqlx::query_scalar("SELECT id FROM user_entity")
        .fetch_all(identity)
        .await
        .context("reading user ids")?;
    users.sort_unstable();
    let mut products: Vec<i64> = sqlx::query_scalar("SELECT id FROM product")
        .fetch_all(inventory)
        .await
        .context("reading product ids")?;
    products.sort_unstable();

    let mut rules = Vec::new();
    for (rule, pool, sql) in [
        (
            "address → user",
            account,
            "SELECT DISTINCT customer_id FROM address",
        ),
        (
            "payment → user",
            payment,
            "SELECT DISTINCT customer_id FROM payment",
        ),
        ("cart → user", payment, "SELECT customer_id FROM cart"),
        (
            "customer projection → user",
            payment,
            "SELECT id FROM customer",
        ),
        (
            "order → user",
            order,
            "SELECT DISTINCT customer_id FROM orders",
        ),
    ] {
        rules.push(users_exist(rule, pool, sql, &users).await?);
    }
    for (rule, sql) in [
        (
            "payment line → product",
            "SELECT DISTINCT product_id FROM payment_product",
        ),
        (
            "cart line → product",
            "SELECT DISTINCT product_id FROM cart_product",
        ),
    ] {
        rules.push(products_exist(rule, payment, sql, &products).await?);
    }
    rules.push(one_primary(account).await?);
    rules.push(totals(payment).await?);
    rules.extend(projections(payment, account).await?);
    rules.extend(orders_match_payments(order, payment).await?);

    let mut verification = Verification {
        violations: rules.into_iter().filter_map(Rule::into_violation).collect(),
        checksums: Vec::new(),
    };
    if options.checksum {
        for service in Service::ALL {
            for table in schema::tables(service) {
                verification
                    .checksums
                    .push(checksum(databases.pool(service), service, table).await?);
            }
        }
    }
    Ok(verification)
}

async fn users_exist(
    rule: &'static str,
    pool: &PgPool,
    sql: &'static str,
    users: &[Uuid],
) -> anyhow::Result<Rule> {
    let mut found = Rule::new(rule);
    let mut rows = sqlx::query_scalar::<_, String>(sql).fetch(pool);
    while let Some(customer) = rows.try_next().await.with_context(|| rule)? {
        let known = Uuid::parse_str(&customer).is_ok_and(|id| users.binary_search(&id).is_ok());
        if !known {
            found.broken(|| format!("customer {customer} is not an identity user"));
        }
    }
    Ok(found)
}

async fn products_exist(
    rule: &'static str,
    pool: &PgPool,
    sql: &'static str,
    products: &[i64],
) -> anyhow::Result<Rule> {
    let mut found = Rule::new(rule);
    let mut rows = sqlx::query_scalar::<_, i64>(sql).fetch(pool);
    while let Some(product) = rows.try_next().await.with_context(|| rule)? {
        if products.binary_search(&product).is_err() {
            found.broken(|| format!("product {product} does not exist in inventory"));
        }
    }
    Ok(found)
}

async fn one_primary(account: &PgPool) -> anyhow::Result<Rule> {
    let mut found = Rule::new("exactly one primary address per customer");
    let mut rows = sqlx::query_as::<_, (String, i64)>(
        "SELECT customer_id, count(*) FILTER (WHERE is_primary) FROM address
         GROUP BY customer_id HAVING count(*) FILTER (WHERE is_primary) <> 1",
    )
    .fetch(account);
    while let Some((customer, primaries)) = rows.try_next().await? {
        found.broken(|| format!("customer {customer} has {primaries} primary addresses"));
    }
    Ok(found)
}

async fn totals(payment: &PgPool) -> anyhow::Result<Rule> {
    let mut found = Rule::new("payment total = Σ price × quantity");
    let mut rows = sqlx::query_as::<_, (i64, String, Option<String>)>(
        "SELECT p.id, p.total_price::text, s.total::text
         FROM payment p
         LEFT JOIN (SELECT payment_id, sum(price * quantity) AS total
                    FROM payment_product GROUP BY payment_id) s ON s.payment_id = p.id
         WHERE s.total IS DISTINCT FROM p.total_price",
    )
    .fetch(payment);
    while let Some((id, total, lines)) = rows.try_next().await? {
        found.broken(|| match lines {
            Some(lines) => format!("payment {id}: total {total}, its lines sum to {lines}"),
            None => format!("payment {id}: total {total} but no lines"),
        });
    }
    Ok(found)
}

/// Walks two streams sorted by the same key, calling `visit` with each key's row on
/// either side.
async fn merge<A, B, K: Ord>(
    mut left: impl Stream<Item = Result<A, sqlx::Error>> + Unpin,
    mut right: impl Stream<Item = Result<B, sqlx::Error>> + Unpin,
    left_key: impl Fn(&A) -> K,
    right_key: impl Fn(&B) -> K,
    mut visit: impl FnMut(Option<&A>, Option<&B>),
) -> anyhow::Result<()> {
    let mut a = left.next().await.transpose()?;
    let mut b = right.next().await.transpose()?;
    loop {
        let order = match (&a, &b) {
            (None, None) => return Ok(()),
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (Some(x), Some(y)) => left_key(x).cmp(&right_key(y)),
        };
        match order {
            Ordering::Less => {
                visit(a.as_ref(), None);
                a = left.next().await.transpose()?;
            }
            Ordering::Greater => {
                visit(None, b.as_ref());
                b = right.next().await.transpose()?;
            }
            Ordering::Equal => {
                visit(a.as_ref(), b.as_ref());
                a = left.next().await.transpose()?;
                b = right.next().await.transpose()?;
            }
        }
    }
}

async fn projections(payment: &PgPool, account: &PgPool) -> anyhow::Result<Vec<Rule>> {
    let mut dangling = Rule::new("customer projection → primary address");
    let mut missing = Rule::new("primary address → customer projection");
    let pair = |row: PgRow| -> Result<(String, String), sqlx::Error> {
        Ok((row.try_get(0)?, row.try_get(1)?))
    };
    let projections = sqlx::query(r#"SELECT id, address FROM customer ORDER BY id COLLATE "C""#)
        .try_map(pair)
        .fetch(payment);
    let primaries = sqlx::query(
        r#"SELECT customer_id, zip_code || ' ' || city || ', ' || country FROM address
           WHERE is_primary ORDER BY customer_id COLLATE "C""#,
    )
    .try_map(pair)
    .fetch(account);
    merge(
        projections,
        primaries,
        |(id, _)| id.clone(),
        |(id, _)| id.clone(),
        |projection, primary| match (projection, primary) {
            (Some((id, _)), None) => dangling.broken(|| {
                format!("customer {id}: payment has an address, account has no primary address")
            }),
            (Some((id, projected)), Some((_, address))) if projected != address => {
                dangling.broken(|| {
                    format!("customer {id}: payment ships to {projected:?}, the primary address is {address:?}")
                });
            }
            (None, Some((id, _))) => missing.broken(|| {
                format!("customer {id}: a primary address, but no projection in payment")
            }),
            _ => {}
        },
    )
    .await?;
    Ok(vec![dangling, missing])
}

async fn orders_match_payments(order: &PgPool, payment: &PgPool) -> anyhow::Result<Vec<Rule>> {
    let mut dangling = Rule::new("order → payment");
    let mut inconsistent = Rule::new("order status consistent with its payment");
    let mut orphaned = Rule::new("approved or refunded payment → order");
    let orders = sqlx::query_as::<_, (i64, i64, String, String)>(
        "SELECT payment_id, id, customer_id, status FROM orders ORDER BY payment_id",
    )
    .fetch(order);
    let payments = sqlx::query_as::<_, (i64, String, String)>(
        "SELECT id, customer_id, status FROM payment ORDER BY id",
    )
    .fetch(payment);
    merge(
        orders,
        payments,
        |(payment_id, ..)| *payment_id,
        |(id, ..)| *id,
        |order, payment| match (order, payment) {
            (Some((payment_id, id, _, _)), None) => dangling.broken(|| {
                format!("order {id}: payment {payment_id} does not exist")
            }),
            (Some((payment_id, id, order_customer, order_status)), Some((_, customer, status))) => {
                let consistent = match order_status.as_str() {
                    "CANCELLED" => status == "REFUNDED",
                    _ => status == "APPROVED",
                };
                if order_customer != customer {
                    inconsistent.broken(|| {
                        format!("order {id}: customer {order_customer}, its payment {payment_id} is {customer}'s")
                    });
                } else if !consistent {
                    inconsistent.broken(|| {
                        format!("order {id} is {order_status} but its payment {payment_id} is {status}")
                    });
                }
            }
            (None, Some((id, _, status))) if status == "APPROVED" || status == "REFUNDED" => {
                orphaned.broken(|| format!("payment {id} is {status} but has no order"));
            }
            _ => {}
        },
    )
    .await?;
    Ok(vec![dangling, inconsistent, orphaned])
}

/// Row count and an order-independent hash of every row's text.
async fn checksum(
    pool: &PgPool,
    service: Service,
    table: &'static str,
) -> anyhow::Result<TableChecksum> {
    let mut conn = pool.acquire().await?;
    // Timestamps print in the session's time zone: fix it.
    sqlx::query("SET TIME ZONE 'UTC'")
        .execute(&mut *conn)
        .await?;
    let columns: Vec<String> = sqlx::query_scalar(
        "SELECT quote_ident(column_name::text) FROM information_schema.columns
         WHERE table_schema = current_schema() AND table_name = $1 AND column_name <> 'password_hash'
         ORDER BY ordinal_position",
    )
    .bind(table)
    .fetch_all(&mut *conn)
    .await?;
    let (rows, sum): (i64, String) = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT count(*), coalesce(sum(('x' || substr(md5(ROW({})::text), 1, 15))::bit(60)::bigint), 0)::text
         FROM {table}",
        columns.join(", ")
    )))
    .fetch_one(&mut *conn)
    .await
    .with_context(|| format!("checksumming {service}.{table}"))?;
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in sum.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    Ok(TableChecksum {
        service,
        table,
        rows,
        checksum: format!("{hash:016x}"),
    })
}
