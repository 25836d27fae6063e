//! The staleness check: a writer changes product prices through the gateway while
//! readers read them; a read that returns a price older than a write acknowledged
//! before the read was sent is stale, and the check fails.
//!
//! The writer only ever raises a product's price, by one cent per write, so "older" is
//! "lower". Every reader reads every product once before the first write, so a cache
//! that ignores writes is certain to hold the old prices and to be caught.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, PoisonError},
    time::{Duration, Instant},
};

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::{
    dataset::Credentials,
    journeys::{CLIENT_ID, REALM},
};

/// What to check.
#[derive(Debug, Clone)]
pub struct StalenessConfig {
    /// The gateway.
    pub gateway: String,
    /// Who changes the prices.
    pub manager: Credentials,
    /// Who reads them.
    pub customer: Credentials,
    /// The products whose prices change.
    pub products: Vec<i64>,
    /// Concurrent readers.
    pub readers: usize,
    /// How long the writer writes.
    pub duration: Duration,
}

/// A read older than an acknowledged write.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct StaleRead {
    /// The product.
    pub product: i64,
    /// The price the read returned, in cents.
    pub read_cents: i64,
    /// The newest price acknowledged before the read was sent, in cents.
    pub acknowledged_cents: i64,
}

/// The outcome.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct StalenessReport {
    /// Reads checked.
    pub reads: u64,
    /// Writes acknowledged.
    pub writes: u64,
    /// Reads or writes that failed outright.
    pub errors: u64,
    /// Stale reads (at most the first 100 are kept; `stale_count` counts them all).
    pub stale: Vec<StaleRead>,
    /// All stale reads.
    pub stale_count: u64,
}

impl StalenessReport {
    /// Whether no read was stale (and anything was checked at all).
    pub fn passed(&self) -> bool {
        self.stale_count == 0 && self.writes > 0 && self.reads > 0
    }
}

/// Logs in with the password grant through the gateway.
pub async fn token(client: &reqwest::Client, gateway: &str, who: &Credentials) -> Result<String> {
    let response = client
        .post(format!(
            "{gateway}/realms/{REALM}/protocol/openid-connect/token"
        ))
        .form(&[
            ("grant_type", "password"),
            ("client_id", CLIENT_ID),
            ("username", who.username.as_str()),
            ("password", who.password.as_str()),
        ])
        .send()
        .await
        .context("token request")?;
    let status = response.status();
    let body: Value = response.json().await.context("token answer")?;
    match body["access_token"].as_str() {
        Some(token) => Ok(token.to_owned()),
        None => bail!("login of {} answered {status}: {body}", who.username),
    }
}

fn cents(product: &Value) -> Option<i64> {
    let price = product["price"].as_f64()?;
    Some((price * 100.0).round() as i64)
}

async fn read(client: &reqwest::Client, gateway: &str, token: &str, id: i64) -> Result<Value> {
    let response = client
        .get(format!("{gateway}/inventory/product/{id}"))
        .bearer_auth(token)
        .send()
        .await?;
    if !response.status().is_success() {
        bail!("GET product {id}: {}", response.status());
    }
    Ok(response.json().await?)
}

/// Runs the check.
pub async fn check(config: &StalenessConfig) -> Result<StalenessReport> {
    if config.products.is_empty() {
        bail!("no products to write");
    }
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()?;
    let gateway = config.gateway.as_str();
    let manager = token(&client, gateway, &config.manager).await?;
    let customer = token(&client, gateway, &config.customer).await?;

    // The newest acknowledged price of each product, starting from what is stored now.
    let mut current = HashMap::new();
    for &id in &config.products {
        let product = read(&client, gateway, &manager, id).await?;
        current.insert(id, product);
    }
    let acknowledged: Arc<Mutex<HashMap<i64, i64>>> = Arc::new(Mutex::new(
        current
            .iter()
            .filter_map(|(id, p)| Some((*id, cents(p)?)))
            .collect(),
    ));
    let report = Arc::new(Mutex::new(StalenessReport::default()));
    let writing = Arc::new(std::sync::atomic::AtomicBool::new(true));

    // Warm: every reader's view is cached before any write.
    for &id in &config.products {
        read(&client, gateway, &customer, id).await?;
    }

    let mut readers = Vec::new();
    for reader in 0..config.readers.max(1) {
        let (client, gateway, token) = (client.clone(), config.gateway.clone(), customer.clone());
        let (products, acknowledged, report, writing) = (
            config.products.clone(),
            Arc::clone(&acknowledged),
            Arc::clone(&report),
            Arc::clone(&writing),
        );
        readers.push(tokio::spawn(async move {
            let mut i = reader;
            while writing.load(std::sync::atomic::Ordering::Relaxed) {
                let id = products[i % products.len()];
                i += 1;
                let floor = acknowledged
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .get(&id)
                    .copied();
                let outcome = read(&client, &gateway, &token, id).await;
                let mut report = report.lock().unwrap_or_else(PoisonError::into_inner);
                match outcome.ok().and_then(|p| cents(&p)) {
                    Some(read_cents) => {
                        report.reads += 1;
                        if let Some(floor) = floor.filter(|floor| read_cents < *floor) {
                            report.stale_count += 1;
                            if report.stale.len() < 100 {
                                report.stale.push(StaleRead {
                                    product: id,
                                    read_cents,
                                    acknowledged_cents: floor,
                                });
                            }
                        }
                    }
                    None => report.errors += 1,
                }
            }
        }));
    }

    let started = Instant::now();
    let mut i = 0;
    while started.elapsed() < config.duration {
        let id = config.products[i % config.products.len()];
        i += 1;
        let product = current.get_mut(&id).context("a product read before")?;
        let next = cents(product).context("a product without a price")? + 1;
        let body = json!({
            "id": id,
            "name": product["name"],
            "price": next as f64 / 100.0,
            "category": product["category"],
            "quantity": product["quantity"],
        });
        let response = client
            .put(format!("{gateway}/inventory/product"))
            .bearer_auth(&manager)
            .json(&body)
            .send()
            .await;
        match response {
            Ok(response) if response.status().is_success() => {
                product["price"] = json!(next as f64 / 100.0);
                acknowledged
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .insert(id, next);
                report.lock().unwrap_or_else(PoisonError::into_inner).writes += 1;
            }
            _ => report.lock().unwrap_or_else(PoisonError::into_inner).errors += 1,
        }
    }
    writing.store(false, std::sync::atomic::Ordering::Relaxed);
    for reader in readers {
        reader.await.context("a reader panicked")?;
    }
    let report = report
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    Ok(report)
}
