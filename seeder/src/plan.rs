//! What to load: the seed, how many users, products and payments, the period the
//! timestamps spread over, and (when appending) where the new ids start. Everything else
//! (addresses, carts, payment lines, orders) follows from these through the generators,
//! so a plan is all a run, a resume or a shard needs to agree on.

use std::fmt;

use chrono::{DateTime, Duration, TimeZone as _, Utc};
use serde::{Deserialize, Serialize};

/// Sizes named after roughly how many rows they load in total.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Profile {
    /// About 10 thousand rows.
    Demo,
    /// About 100 thousand rows.
    Small,
    /// About 1 million rows.
    Medium,
    /// About 10 million rows.
    Large,
    /// About 100 million rows.
    Xl,
}

impl Profile {
    /// The number of users; products are a tenth of it and payments three times it,
    /// which gives about 17 rows per user over all tables.
    pub fn users(self) -> u64 {
        match self {
            Self::Demo => 600,
            Self::Small => 6_000,
            Self::Medium => 60_000,
            Self::Large => 585_000,
            Self::Xl => 5_850_000,
        }
    }
}

/// Where the ids of an appended run start: the largest id (or, for users, the number of
/// rows) each table held when the run began. All zero for a load into empty tables.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Offsets {
    /// Users already there; the usernames of this run continue after them.
    pub users: u64,
    /// `address.id`.
    pub addresses: i64,
    /// `product.id`.
    pub products: i64,
    /// `payment.id`.
    pub payments: i64,
    /// `cart.id`.
    pub carts: i64,
    /// `orders.id`.
    pub orders: i64,
}

/// The default end of the period: fixed, so that the same seed gives the same data on
/// any day.
pub fn default_until() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0)
        .single()
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// A complete description of the data a run loads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    /// The seed every row is derived from.
    pub seed: u64,
    /// Identity users (each a CUSTOMER, about 1 % also MANAGER).
    pub users: u64,
    /// Inventory products.
    pub products: u64,
    /// Payments (about 86 % of them with an order).
    pub payments: u64,
    /// The end of the period timestamps spread over.
    pub until: DateTime<Utc>,
    /// The length of that period in days.
    pub days: u32,
    /// Where ids start (non-zero only when appending).
    #[serde(default)]
    pub offsets: Offsets,
}

/// Expected rows per user or payment, used for estimates only (the generators draw the
/// actual numbers).
const ADDRESSES_PER_USER: f64 = 1.65;
const CARTS_PER_USER: f64 = 0.35;
const CART_LINES_PER_USER: f64 = 0.35 * 0.85 * 2.5;
const LINES_PER_PAYMENT: f64 = 2.23;
const ORDERS_PER_PAYMENT: f64 = 0.86;

/// Rough bytes per row on disk, heap plus indexes, for the size estimate.
const BYTES_PER_ROW: [(&str, f64); 9] = [
    ("user_entity", 620.0),
    ("address", 190.0),
    ("product", 150.0),
    ("customer", 150.0),
    ("cart", 120.0),
    ("cart_product", 150.0),
    ("payment", 150.0),
    ("payment_product", 150.0),
    ("orders", 200.0),
];

/// Rows per second assumed for the time estimate (a small cloud database).
const ASSUMED_ROWS_PER_SECOND: f64 = 200_000.0;

/// The expected size of one table.
#[derive(Debug, Clone, PartialEq)]
pub struct TableEstimate {
    /// The database (service) it lives in.
    pub service: &'static str,
    /// The table.
    pub table: &'static str,
    /// Expected rows.
    pub rows: u64,
    /// Expected bytes on disk, indexes included.
    pub bytes: u64,
}

impl Plan {
    /// The plan of a profile.
    pub fn profile(profile: Profile, seed: u64) -> Self {
        let users = profile.users();
        Self::with_counts(seed, users, users / 10, users * 3)
    }

    /// A plan with explicit counts (tests and contract tests use small ones).
    pub fn with_counts(seed: u64, users: u64, products: u64, payments: u64) -> Self {
        Self {
            seed,
            users,
            products: products.max(1),
            payments,
            until: default_until(),
            days: 365,
            offsets: Offsets::default(),
        }
    }

    /// The start of the period.
    pub fn since(&self) -> DateTime<Utc> {
        self.until - Duration::days(i64::from(self.days))
    }

    /// Identifies the data of the plan (seed, counts, period; not the offsets, which a
    /// run picks when it starts): runs, resumes and shards of one plan share it.
    pub fn fingerprint(&self) -> String {
        let canonical = format!(
            "v1;seed={};users={};products={};payments={};until={};days={}",
            self.seed,
            self.users,
            self.products,
            self.payments,
            self.until.timestamp(),
            self.days
        );
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for byte in canonical.bytes() {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
        format!("{hash:016x}")
    }

    /// Expected rows and bytes per table.
    pub fn estimate(&self) -> Vec<TableEstimate> {
        let users = self.users as f64;
        let payments = self.payments as f64;
        let rows = [
            ("identity", "user_entity", users),
            ("account", "address", users * ADDRESSES_PER_USER),
            ("inventory", "product", self.products as f64),
            ("payment", "customer", users),
            ("payment", "cart", users * CARTS_PER_USER),
            ("payment", "cart_product", users * CART_LINES_PER_USER),
            ("payment", "payment", payments),
            ("payment", "payment_product", payments * LINES_PER_PAYMENT),
            ("order", "orders", payments * ORDERS_PER_PAYMENT),
        ];
        rows.into_iter()
            .map(|(service, table, rows)| {
                let per_row = BYTES_PER_ROW
                    .iter()
                    .find(|(name, _)| *name == table)
                    .map_or(150.0, |(_, bytes)| *bytes);
                TableEstimate {
                    service,
                    table,
                    rows: rows.round() as u64,
                    bytes: (rows * per_row).round() as u64,
                }
            })
            .collect()
    }

    /// Expected rows over all tables.
    pub fn estimated_rows(&self) -> u64 {
        self.estimate().iter().map(|t| t.rows).sum()
    }
}

/// Bytes as `1.2 GB`.
pub fn human_bytes(bytes: u64) -> String {
    let units = ["B", "kB", "MB", "GB", "TB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit + 1 < units.len() {
        value /= 1000.0;
        unit += 1;
    }
    format!("{value:.1} {}", units[unit])
}

impl fmt::Display for Plan {
    /// The plan as `seeder plan` and `--dry-run` print it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "plan {}: seed {}, {} users, {} products, {} payments, timestamps over the {} days before {}",
            self.fingerprint(),
            self.seed,
            self.users,
            self.products,
            self.payments,
            self.days,
            self.until.to_rfc3339()
        )?;
        writeln!(
            f,
            "{:<10} {:<16} {:>14} {:>12}",
            "database", "table", "rows (about)", "size"
        )?;
        let estimate = self.estimate();
        for table in &estimate {
            writeln!(
                f,
                "{:<10} {:<16} {:>14} {:>12}",
                table.service,
                table.table,
                table.rows,
                human_bytes(table.bytes)
            )?;
        }
        let rows: u64 = estimate.iter().map(|t| t.rows).sum();
        let bytes: u64 = estimate.iter().map(|t| t.bytes).sum();
        writeln!(
            f,
            "{:<10} {:<16} {:>14} {:>12}",
            "total",
            "",
            rows,
            human_bytes(bytes)
        )?;
        write!(
            f,
            "estimated time: about {:.0} s at {} rows/s (a local server does several times that)",
            (rows as f64 / ASSUMED_ROWS_PER_SECOND).ceil(),
            ASSUMED_ROWS_PER_SECOND
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profiles_load_roughly_their_advertised_row_counts() {
        for (profile, target) in [
            (Profile::Demo, 10_000.0),
            (Profile::Small, 100_000.0),
            (Profile::Medium, 1_000_000.0),
            (Profile::Large, 10_000_000.0),
            (Profile::Xl, 100_000_000.0),
        ] {
            let rows = Plan::profile(profile, 1).estimated_rows() as f64;
            assert!(
                (rows / target - 1.0).abs() < 0.1,
                "{profile:?}: {rows} rows"
            );
        }
    }

    #[test]
    fn the_fingerprint_names_the_data_not_the_offsets() {
        let plan = Plan::profile(Profile::Small, 1);
        let mut appended = plan.clone();
        appended.offsets.users = 10;
        assert_eq!(plan.fingerprint(), appended.fingerprint());
        assert_ne!(
            plan.fingerprint(),
            Plan::profile(Profile::Small, 2).fingerprint()
        );
        assert_ne!(
            plan.fingerprint(),
            Plan::profile(Profile::Medium, 1).fingerprint()
        );
    }

    #[test]
    fn the_printed_plan_lists_every_table_size_and_time() {
        let printed = Plan::profile(Profile::Demo, 1).to_string();
        for table in [
            "user_entity",
            "address",
            "product",
            "payment_product",
            "orders",
        ] {
            assert!(printed.contains(table), "{printed}");
        }
        assert!(printed.contains("estimated time"), "{printed}");
        assert!(
            printed.contains("kB") || printed.contains("MB"),
            "{printed}"
        );
    }
}
