//! Provider states: the named fixtures the pacts ask for, building their data with the
//! seeder's generators (so provider states look like production data) and, for message
//! pacts, making the provider publish through its real outbox and relay: by its real
//! use case where a customer's request causes the event (an address added, a cart
//! accepted), otherwise by writing its own event type to its outbox as its handlers do.
//!
//! Each provider has one [`StateHandler`]; a state it does not know fails the
//! verification with its name, so a consumer adding a state is told which fixture to
//! write.

use std::{collections::BTreeMap, sync::Arc};

use anyhow::{Context, bail};
use contracts::{pact::ProviderState, verify::StateHandler};
use futures::future::BoxFuture;
use platform::messaging::{Event, outbox};
use seeder::{Plan, generate};
use sqlx::PgPool;
use testkit::TestIdp;

use crate::providers::Provider;

pub(crate) const TOMMY: &str = "c908ce9d-faec-4570-b84d-71a4e77f2f4a";
pub(crate) const LORNE: &str = "37a2191e-85a0-4bad-a853-1f29559c3092";

/// The plan fixtures draw from: small, fixed seed.
pub(crate) fn plan() -> Plan {
    Plan::with_counts(6, 50, 40, 200)
}

/// The first `n` seeded orders, given to `customer`.
pub(crate) fn orders_for(customer: &str, n: usize) -> Vec<generate::Order> {
    let plan = plan();
    (0..plan.payments)
        .filter_map(|i| generate::order(&plan, i))
        .take(n)
        .map(|mut order| {
            order.customer_id = customer.parse().expect("a UUID customer id");
            order
        })
        .collect()
}

async fn insert_orders(pool: &PgPool, customer: &str, n: usize) -> anyhow::Result<()> {
    for order in orders_for(customer, n) {
        // Idempotent: a verifier may set the same state up again.
        sqlx::query("DELETE FROM orders WHERE id = $1 OR payment_id = $2")
            .bind(order.id)
            .bind(order.payment_id)
            .execute(pool)
            .await?;
        sqlx::query(
            "INSERT INTO orders (id, status, customer_id, payment_id, address, cancellation_reason,
                                 cancellation_explanation, recipient, created_date, last_modified_date, version)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(order.id)
        .bind(order.status.as_str())
        .bind(order.customer_id.to_string())
        .bind(order.payment_id)
        .bind(&order.address)
        .bind(order.cancellation_reason.map(|r| r.as_str()))
        .bind(order.cancellation_explanation)
        .bind(&order.recipient)
        .bind(order.created_at)
        .bind(order.last_modified_at)
        .bind(order.version)
        .execute(pool)
        .await?;
    }
    Ok(())
}

/// Seeded payment `index`, given to `customer` and numbered `id`.
pub(crate) fn payment(index: u64, customer: &str, id: i64) -> generate::Payment {
    let mut payment = generate::payment(&plan(), index);
    payment.customer_id = customer.parse().expect("a UUID customer id");
    payment.id = id;
    payment
}

pub(crate) async fn insert_payment(
    pool: &PgPool,
    payment: &generate::Payment,
) -> anyhow::Result<()> {
    // Idempotent: a verifier may set the same state up again (its lines cascade).
    sqlx::query("DELETE FROM payment WHERE id = $1")
        .bind(payment.id)
        .execute(pool)
        .await?;
    sqlx::query(
        "INSERT INTO payment (id, customer_id, total_price, status, cancellation_reason,
                              created_date, last_modified_date, version)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(payment.id)
    .bind(payment.customer_id.to_string())
    .bind(payment.total_price)
    .bind(payment.status.as_str())
    .bind(payment.cancellation_reason)
    .bind(payment.created_at)
    .bind(payment.last_modified_at)
    .bind(payment.version)
    .execute(pool)
    .await?;
    for line in &payment.lines {
        sqlx::query(
            "INSERT INTO payment_product (payment_id, product_id, name, price, category, quantity)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(payment.id)
        .bind(line.product_id)
        .bind(&line.name)
        .bind(line.price)
        .bind(line.category.as_str())
        .bind(line.quantity)
        .execute(pool)
        .await?;
    }
    Ok(())
}

/// Sends a customer's request to the provider; fails unless it succeeds.
async fn as_customer(
    tokens: &TestIdp,
    customer: &str,
    request: reqwest::RequestBuilder,
) -> anyhow::Result<()> {
    let response = request
        .bearer_auth(tokens.customer(customer))
        .send()
        .await?;
    anyhow::ensure!(
        response.status().is_success(),
        "the provider answered {}: {}",
        response.status(),
        response.text().await.unwrap_or_default()
    );
    Ok(())
}

fn unknown(provider: &str, state: &ProviderState) -> anyhow::Error {
    anyhow::anyhow!(
        "{provider} has no fixture for the provider state {:?}: add one in contracts/tests/it/fixtures.rs",
        state.name
    )
}

/// Writes `event` into the provider's outbox, as the provider's use cases do; the
/// provider's relay publishes it.
async fn publish<E: Event>(pool: &PgPool, event: E) -> anyhow::Result<()> {
    let mut tx = pool.begin().await?;
    outbox::enqueue(&mut tx, event).await?;
    tx.commit().await?;
    Ok(())
}

fn quantities(payment: &generate::Payment) -> BTreeMap<String, i64> {
    payment
        .lines
        .iter()
        .map(|line| (line.product_id.to_string(), i64::from(line.quantity)))
        .collect()
}

/// Order's states; cancellations go through its HTTP API as a customer's would.
#[derive(Debug, Clone)]
pub(crate) struct OrderStates {
    pool: PgPool,
    base_url: String,
    tokens: Arc<TestIdp>,
}

impl OrderStates {
    pub(crate) fn of(provider: &Provider) -> Self {
        Self {
            pool: provider.pool.clone(),
            base_url: provider.base_url.clone(),
            tokens: provider.tokens(),
        }
    }
}

impl StateHandler for OrderStates {
    fn setup<'a>(&'a self, state: &'a ProviderState) -> BoxFuture<'a, anyhow::Result<()>> {
        Box::pin(async move {
            match state.name.as_str() {
                "the service is ready" => Ok(()),
                "a customer has orders" => {
                    let n = usize::try_from(state.int_param("orders")?)?;
                    insert_orders(&self.pool, state.param("customerId")?, n).await
                }
                "a customer has no orders" => Ok(()),
                "a customer cancelled an order" => {
                    // A PREPARING order of the customer's, cancelled by the real use case.
                    let customer = state.param("customerId")?;
                    let mut order = orders_for(customer, 1)
                        .pop()
                        .context("the plan has an order")?;
                    order.payment_id = state.int_param("paymentId")?;
                    sqlx::query("DELETE FROM orders WHERE id = $1 OR payment_id = $2")
                        .bind(order.id)
                        .bind(order.payment_id)
                        .execute(&self.pool)
                        .await?;
                    sqlx::query(
                        "INSERT INTO orders (id, status, customer_id, payment_id, address, created_date)
                         VALUES ($1, 'PREPARING', $2, $3, $4, $5)",
                    )
                    .bind(order.id)
                    .bind(customer)
                    .bind(order.payment_id)
                    .bind(&order.address)
                    .bind(order.created_at)
                    .execute(&self.pool)
                    .await?;
                    let url = format!("{}/order/{}/cancel", self.base_url, order.id);
                    let body = serde_json::json!({
                        "cancellationReason": "FOUND_BETTER_ALTERNATIVE",
                        "explanation": "found it cheaper",
                    });
                    as_customer(
                        &self.tokens,
                        customer,
                        reqwest::Client::new().put(url).json(&body),
                    )
                    .await
                }
                _ => Err(unknown("order", state)),
            }
        })
    }
}

/// Payment's states; checkouts go through its HTTP API as a customer's would.
#[derive(Debug, Clone)]
pub(crate) struct PaymentStates {
    pub(crate) pool: PgPool,
    base_url: String,
    tokens: Arc<TestIdp>,
}

impl PaymentStates {
    pub(crate) fn of(provider: &Provider) -> Self {
        Self {
            pool: provider.pool.clone(),
            base_url: provider.base_url.clone(),
            tokens: provider.tokens(),
        }
    }

    /// A customer with an address and a cart holding seeded payment 1's lines accepts
    /// the cart: the real use case writes `payment.saved` in its transaction.
    async fn checkout(&self, customer: &str) -> anyhow::Result<()> {
        let pool = &self.pool;
        let seeded = payment(1, customer, 0);
        // Fixture payments use explicit ids; the checkout's own id comes after them.
        sqlx::query(
            "SELECT setval('payment_id_seq', GREATEST(100000, (SELECT max(id) FROM payment)))",
        )
        .execute(pool)
        .await?;
        sqlx::query("INSERT INTO customer (id, address) VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET address = $2")
            .bind(customer)
            .bind(generate::primary_address(&plan(), 4).full_address())
            .execute(pool)
            .await?;
        sqlx::query("DELETE FROM cart WHERE customer_id = $1")
            .bind(customer)
            .execute(pool)
            .await?;
        let cart: i64 =
            sqlx::query_scalar("INSERT INTO cart (customer_id) VALUES ($1) RETURNING id")
                .bind(customer)
                .fetch_one(pool)
                .await?;
        for line in &seeded.lines {
            sqlx::query(
                "INSERT INTO cart_product (cart_id, product_id, name, price, category, quantity)
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(cart)
            .bind(line.product_id)
            .bind(&line.name)
            .bind(line.price)
            .bind(line.category.as_str())
            .bind(line.quantity)
            .execute(pool)
            .await?;
        }
        let response = reqwest::Client::new()
            .post(format!("{}/payment/accept", self.base_url))
            .bearer_auth(self.tokens.customer(customer))
            .send()
            .await?;
        anyhow::ensure!(
            response.status().is_success(),
            "POST /payment/accept answered {}: {}",
            response.status(),
            response.text().await.unwrap_or_default()
        );
        Ok(())
    }
}

impl StateHandler for PaymentStates {
    fn setup<'a>(&'a self, state: &'a ProviderState) -> BoxFuture<'a, anyhow::Result<()>> {
        Box::pin(async move {
            let pool = &self.pool;
            match state.name.as_str() {
                "the service is ready" => Ok(()),
                "a customer has payments" => {
                    let customer = state.param("customerId")?;
                    let n = state.int_param("payments")?;
                    for i in 0..n {
                        insert_payment(pool, &payment(i as u64, customer, 9_000 + i)).await?;
                    }
                    Ok(())
                }
                "a customer has no payments" => Ok(()),
                "a payment exists" => {
                    let id = state.int_param("paymentId")?;
                    insert_payment(pool, &payment(3, TOMMY, id)).await
                }
                "a payment does not exist" => Ok(()),
                "a customer accepted a payment" => self.checkout(state.param("customerId")?).await,
                "a payment was approved" => {
                    let customer = state.param("customerId")?;
                    let address = generate::primary_address(&plan(), 4).full_address();
                    publish(
                        pool,
                        payment::events::PaymentApproved {
                            payment_id: state.int_param("paymentId")?,
                            customer_id: customer.to_owned(),
                            address,
                        },
                    )
                    .await
                }
                "an approved payment was refunded" => {
                    let p = payment(2, state.param("customerId")?, state.int_param("paymentId")?);
                    publish(
                        pool,
                        payment::events::PaymentRefunded {
                            payment_id: p.id,
                            customer_id: p.customer_id.to_string(),
                            product_quantities: quantities(&p),
                        },
                    )
                    .await
                }
                _ => Err(unknown("payment", state)),
            }
        })
    }
}

/// Inventory's states; carts are filled through its HTTP API as a customer's would be.
#[derive(Debug, Clone)]
pub(crate) struct InventoryStates {
    pool: PgPool,
    base_url: String,
    tokens: Arc<TestIdp>,
}

impl InventoryStates {
    pub(crate) fn of(provider: &Provider) -> Self {
        Self {
            pool: provider.pool.clone(),
            base_url: provider.base_url.clone(),
            tokens: provider.tokens(),
        }
    }
}

impl StateHandler for InventoryStates {
    fn setup<'a>(&'a self, state: &'a ProviderState) -> BoxFuture<'a, anyhow::Result<()>> {
        Box::pin(async move {
            let pool = &self.pool;
            match state.name.as_str() {
                "the service is ready" => Ok(()),
                "a customer added an available product to the cart" => {
                    // A seeded product, in stock and sold in the region, added to the cart
                    // by the real use case.
                    let product = generate::product(&plan(), 7);
                    sqlx::query("DELETE FROM product WHERE id = $1")
                        .bind(product.id)
                        .execute(pool)
                        .await?;
                    sqlx::query(
                        "INSERT INTO product (id, name, price, category, quantity, is_available_in_region, created_date)
                         VALUES ($1, $2, $3, $4, 100, TRUE, $5)",
                    )
                    .bind(product.id)
                    .bind(&product.name)
                    .bind(product.price)
                    .bind(product.category.as_str())
                    .bind(product.created_at)
                    .execute(pool)
                    .await?;
                    let url = format!(
                        "{}/inventory/product/{}/addToCart",
                        self.base_url, product.id
                    );
                    let body = serde_json::json!({"quantity": state.int_param("quantity")?});
                    as_customer(
                        &self.tokens,
                        state.param("customerId")?,
                        reqwest::Client::new().post(url).json(&body),
                    )
                    .await
                }
                "the stock of a payment was taken" => {
                    publish(
                        pool,
                        inventory::events::ProductsChecked {
                            payment_id: state.int_param("paymentId")?,
                            are_products_available: true,
                            customer_id: state.param("customerId")?.to_owned(),
                            reason: None,
                            unavailable_product_id: None,
                            unavailable_reason: None,
                        },
                    )
                    .await
                }
                "a product of a payment was out of stock" => {
                    let product = generate::product(&plan(), 9);
                    publish(
                        pool,
                        inventory::events::ProductsChecked {
                            payment_id: state.int_param("paymentId")?,
                            are_products_available: false,
                            customer_id: state.param("customerId")?.to_owned(),
                            reason: Some(format!("{} is not in stock.", product.name)),
                            unavailable_product_id: Some(product.id),
                            unavailable_reason: Some(
                                inventory::domain::UnavailableReason::NotInStocks,
                            ),
                        },
                    )
                    .await
                }
                _ => Err(unknown("inventory", state)),
            }
        })
    }
}

/// Account's states; addresses are added through its HTTP API as a customer's would be.
#[derive(Debug, Clone)]
pub(crate) struct AccountStates {
    base_url: String,
    tokens: Arc<TestIdp>,
}

impl AccountStates {
    pub(crate) fn of(provider: &Provider) -> Self {
        Self {
            base_url: provider.base_url.clone(),
            tokens: provider.tokens(),
        }
    }
}

impl StateHandler for AccountStates {
    fn setup<'a>(&'a self, state: &'a ProviderState) -> BoxFuture<'a, anyhow::Result<()>> {
        Box::pin(async move {
            match state.name.as_str() {
                "the service is ready" => Ok(()),
                "a customer saved a primary address" => {
                    // A customer's first address becomes the primary one: the real use
                    // case announces it through the outbox.
                    let customer = state.param("customerId")?;
                    let seeded = generate::primary_address(&plan(), 2);
                    let response = reqwest::Client::new()
                        .post(format!("{}/account/address", self.base_url))
                        .bearer_auth(self.tokens.customer(customer))
                        .json(&serde_json::json!({
                            "name": seeded.name,
                            "country": seeded.country,
                            "city": seeded.city,
                            "zipCode": seeded.zip_code,
                        }))
                        .send()
                        .await?;
                    anyhow::ensure!(
                        response.status().is_success(),
                        "POST /account/address answered {}: {}",
                        response.status(),
                        response.text().await.unwrap_or_default()
                    );
                    Ok(())
                }
                _ => Err(unknown("account", state)),
            }
        })
    }
}

/// Identity's states: its bundled realm already holds the users the pacts name.
#[derive(Debug, Clone, Copy)]
pub(crate) struct IdentityStates;

impl StateHandler for IdentityStates {
    fn setup<'a>(&'a self, state: &'a ProviderState) -> BoxFuture<'a, anyhow::Result<()>> {
        Box::pin(async move {
            match state.name.as_str() {
                "the service is ready"
                | "the account service's client is registered"
                | "a user exists"
                | "users exist"
                | "no user has the id" => Ok(()),
                _ => bail!(unknown("identity", state)),
            }
        })
    }
}
