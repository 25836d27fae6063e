//! Who logs in and what they look at: seeded users and products, from the seeder's own
//! generators, so a load test needs no database access to know the data.
//!
//! A worker takes the users in its `range` of seeded indexes; workers on disjoint ranges
//! never share a customer (and so never a cart). Managers come from the whole plan, as
//! there are few of them (about 1 %) and their actions tolerate each other.

use std::{
    ops::Range,
    sync::atomic::{AtomicUsize, Ordering},
};

use anyhow::{Result, bail};
use seeder::{Plan, generate};

/// A login.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    /// Username.
    pub username: String,
    /// Password.
    pub password: String,
}

/// Seeded users and products one worker uses.
#[derive(Debug)]
pub struct Dataset {
    /// Customers (not managers) of this worker's range.
    pub customers: Vec<Credentials>,
    /// Managers of the whole plan.
    pub managers: Vec<Credentials>,
    /// Every product id in the catalogue.
    pub products: Vec<i64>,
    /// Products that can be bought (in stock, available in the region) when seeded.
    pub purchasable: Vec<i64>,
    /// Catalogue pages of 10.
    pub pages: u64,
    next_customer: AtomicUsize,
    next_manager: AtomicUsize,
}

impl Dataset {
    /// The data of `plan` for the users in `range` (clamped to the plan), all logging in
    /// with `password`.
    pub fn from_plan(plan: &Plan, range: Range<u64>, password: &str) -> Result<Self> {
        let range = range.start.min(plan.users)..range.end.min(plan.users);
        let login = |user: &generate::User| Credentials {
            username: user.username.clone(),
            password: password.to_owned(),
        };
        let customers: Vec<Credentials> = range
            .map(|i| generate::user(plan, i))
            .filter(|u| !u.manager)
            .map(|u| login(&u))
            .collect();
        let managers: Vec<Credentials> = (0..plan.users)
            .map(|i| generate::user(plan, i))
            .filter(|u| u.manager)
            .map(|u| login(&u))
            .collect();
        let all: Vec<generate::Product> = (0..plan.products)
            .map(|i| generate::product(plan, i))
            .collect();
        let purchasable: Vec<i64> = all
            .iter()
            .filter(|p| p.available_in_region && p.quantity > 0)
            .map(|p| p.id)
            .collect();
        if customers.is_empty() {
            bail!("the user range holds no seeded customer");
        }
        if purchasable.is_empty() {
            bail!("the plan has no purchasable product");
        }
        Ok(Self {
            customers,
            managers,
            products: all.iter().map(|p| p.id).collect(),
            purchasable,
            pages: plan.products.div_ceil(10).max(1),
            next_customer: AtomicUsize::new(0),
            next_manager: AtomicUsize::new(0),
        })
    }

    /// The next customer for a new virtual user: each one once before any repeats, so
    /// with no more virtual users than customers no two share a cart.
    pub fn next_customer(&self) -> &Credentials {
        let i = self.next_customer.fetch_add(1, Ordering::Relaxed);
        &self.customers[i % self.customers.len()]
    }

    /// The next manager, or `None` if the plan has none.
    pub fn next_manager(&self) -> Option<&Credentials> {
        if self.managers.is_empty() {
            return None;
        }
        let i = self.next_manager.fetch_add(1, Ordering::Relaxed);
        Some(&self.managers[i % self.managers.len()])
    }
}

/// Parses `START..END` (user indexes, end exclusive).
pub fn parse_range(raw: &str) -> Result<Range<u64>, String> {
    let (start, end) = raw
        .split_once("..")
        .ok_or_else(|| format!("{raw:?}: expected START..END, e.g. 0..500"))?;
    let parse = |s: &str| {
        s.trim()
            .parse::<u64>()
            .map_err(|_| format!("{raw:?}: {s:?} is not a number"))
    };
    let (start, end) = (parse(start)?, parse(end)?);
    if start >= end {
        return Err(format!("{raw:?}: the range is empty"));
    }
    Ok(start..end)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disjoint_ranges_give_disjoint_customers() {
        let plan = Plan::with_counts(7, 200, 30, 0);
        let a = Dataset::from_plan(&plan, 0..100, "pw").unwrap();
        let b = Dataset::from_plan(&plan, 100..200, "pw").unwrap();
        assert!(a.customers.iter().all(|c| !b.customers.contains(c)));
        assert_eq!(
            a.customers.len() + b.customers.len() + a.managers.len(),
            200
        );
        assert_eq!(a.managers, b.managers);
        assert_eq!(a.products.len(), 30);
        assert!(a.purchasable.iter().all(|id| a.products.contains(id)));
    }

    #[test]
    fn customers_are_handed_out_once_each_before_repeating() {
        let plan = Plan::with_counts(7, 20, 5, 0);
        let data = Dataset::from_plan(&plan, 0..20, "pw").unwrap();
        let n = data.customers.len();
        let first: Vec<String> = (0..n)
            .map(|_| data.next_customer().username.clone())
            .collect();
        let mut unique = first.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), n);
        assert_eq!(data.next_customer().username, first[0]);
    }

    #[test]
    fn ranges_parse_or_say_what_is_wrong() {
        assert_eq!(parse_range("0..500"), Ok(0..500));
        assert!(parse_range("5..5").unwrap_err().contains("empty"));
        assert!(parse_range("5-6").unwrap_err().contains("START..END"));
        assert!(parse_range("a..6").unwrap_err().contains("not a number"));
    }
}
