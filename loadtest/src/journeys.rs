//! The user journeys as goose scenarios, every request through the gateway with a token
//! from the password grant.
//!
//! - *shopper*: log in, browse a catalogue page, view a product, check its availability,
//!   add it to the cart, view the cart, check out and poll until the payment is settled
//!   and (when approved) the order is visible;
//! - *returning customer*: log in, their orders, payments and addresses;
//! - *manager*: log in, list a page of orders, ship one that is PREPARING, deliver one
//!   that is ON_THE_WAY;
//! - *catalog*: log in, view products (the caching experiment's read journey).
//!
//! Each step is one transaction name in our [`Recorder`] (and in goose's report). A
//! step fails on a transport error or a status the step does not expect; conflicts a
//! concurrent load produces by design (add-to-cart of a product that just sold out,
//! shipping an order another manager shipped) are expected outcomes, not errors.

use std::{
    future::Future,
    pin::Pin,
    sync::Arc,
    time::{Duration, Instant},
};

use goose::prelude::*;
use rand::Rng;
use serde_json::{Value, json};

use crate::{
    dataset::{Credentials, Dataset},
    recorder::Recorder,
};

/// The realm the shop's users live in.
pub const REALM: &str = "ironvessel";
/// The public client the web shop logs in with.
pub const CLIENT_ID: &str = "ironvessel-web";
/// How often a poll asks again.
const POLL_INTERVAL: Duration = Duration::from_millis(100);

/// What every virtual user shares.
#[derive(Debug)]
pub struct Context {
    /// Who logs in, which products exist.
    pub dataset: Dataset,
    /// Exact latencies.
    pub recorder: Recorder,
    /// How long a shopper waits for the cart, the payment and the order to show.
    pub poll_deadline: Duration,
    /// Pages of orders a manager lists from.
    pub order_pages: u64,
}

/// Scenario weights; a weight of 0 leaves the scenario out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Weights {
    /// The shopper.
    pub shopper: usize,
    /// The returning customer.
    pub returning: usize,
    /// The manager.
    pub manager: usize,
    /// The catalogue reader.
    pub catalog: usize,
}

impl Default for Weights {
    fn default() -> Self {
        Self {
            shopper: 6,
            returning: 3,
            manager: 1,
            catalog: 0,
        }
    }
}

/// One virtual user's login, and whether their cart has something to check out.
#[derive(Debug, Clone)]
struct Session {
    token: String,
    username: String,
    added: bool,
}

/// An answer: its status (0 for a transport error) and body.
#[derive(Debug)]
struct Answer {
    status: u16,
    body: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
}

/// A request body.
#[derive(Debug)]
enum Body<'a> {
    None,
    Json(Value),
    Form(&'a [(&'a str, &'a str)]),
}

/// Sends one request named `name`, times it (body included), records it, and tells
/// goose whether it succeeded by our rule: `expected` statuses are successes.
async fn call(
    user: &mut GooseUser,
    recorder: &Recorder,
    name: &str,
    method: GooseMethod,
    path: &str,
    body: Body<'_>,
    expected: &[u16],
) -> Result<Answer, Box<TransactionError>> {
    let mut builder = user.get_request_builder(&method, path)?;
    if let Some(session) = user.get_session_data::<Session>() {
        builder = builder.bearer_auth(&session.token);
    }
    builder = match body {
        Body::None => builder,
        Body::Json(value) => builder.json(&value),
        Body::Form(form) => builder.form(form),
    };
    let request = GooseRequest::builder()
        .method(method)
        .path(path)
        .name(name)
        .set_request_builder(builder)
        .build();
    let started = Instant::now();
    let mut goose = user.request(request).await?;
    let (status, body) = match goose.response {
        Ok(response) => {
            let status = response.status().as_u16();
            if let Some(instance) = response
                .headers()
                .get("x-instance")
                .and_then(|v| v.to_str().ok())
            {
                recorder.record_instance(instance);
            }
            if let Some(cache) = response
                .headers()
                .get("x-cache")
                .and_then(|v| v.to_str().ok())
            {
                recorder.record_cache(cache);
            }
            (status, response.text().await.unwrap_or_default())
        }
        Err(_) => (0, String::new()),
    };
    let elapsed = started.elapsed();
    let ok = expected.contains(&status);
    recorder.record(name, elapsed, ok);
    if ok && !goose.request.success {
        user.set_success(&mut goose.request)?;
    } else if !ok && goose.request.success {
        user.set_failure(
            &format!("unexpected status {status}"),
            &mut goose.request,
            None,
            Some(&body),
        )?;
    }
    Ok(Answer { status, body })
}

/// Logs `who` in with the password grant through the gateway and keeps the token.
async fn login(user: &mut GooseUser, recorder: &Recorder, who: &Credentials) -> TransactionResult {
    let path = format!("/realms/{REALM}/protocol/openid-connect/token");
    let form = [
        ("grant_type", "password"),
        ("client_id", CLIENT_ID),
        ("username", who.username.as_str()),
        ("password", who.password.as_str()),
    ];
    let answer = call(
        user,
        recorder,
        "login",
        GooseMethod::Post,
        &path,
        Body::Form(&form),
        &[200],
    )
    .await?;
    if let Some(token) = answer.json()["access_token"].as_str() {
        user.set_session_data(Session {
            token: token.to_owned(),
            username: who.username.clone(),
            added: false,
        });
    }
    Ok(())
}

type Step = for<'a> fn(
    &'a mut GooseUser,
    &'a Context,
) -> Pin<Box<dyn Future<Output = TransactionResult> + Send + 'a>>;

/// A goose transaction running `step` with the shared context.
fn transaction(context: &Arc<Context>, name: &str, step: Step) -> Transaction {
    let context = Arc::clone(context);
    let function: TransactionFunction = Arc::new(move |user| {
        let context = Arc::clone(&context);
        Box::pin(async move { step(user, &context).await })
    });
    Transaction::new(function).set_name(name)
}

/// Every scenario with a non-zero weight.
pub fn scenarios(
    context: &Arc<Context>,
    weights: Weights,
    wait: Option<(Duration, Duration)>,
) -> Result<Vec<Scenario>, GooseError> {
    let mut scenarios = Vec::new();
    let mut add = |name: &str, weight: usize, steps: Vec<Transaction>| -> Result<(), GooseError> {
        if weight == 0 {
            return Ok(());
        }
        let mut scenario = Scenario::new(name).set_weight(weight)?;
        if let Some((min, max)) = wait {
            scenario = scenario.set_wait_time(min, max)?;
        }
        for step in steps {
            scenario = scenario.register_transaction(step);
        }
        scenarios.push(scenario);
        Ok(())
    };
    let t = |name: &str, step: Step| transaction(context, name, step);
    add(
        "shopper",
        weights.shopper,
        vec![
            t("login", |u, c| Box::pin(customer_login(u, c))).set_on_start(),
            t("browse", |u, c| Box::pin(browse(u, c))),
            t("view product", |u, c| Box::pin(view_product(u, c))),
            t("check availability", |u, c| {
                Box::pin(check_availability(u, c))
            }),
            t("add to cart", |u, c| Box::pin(add_to_cart(u, c))),
            t("view cart", |u, c| Box::pin(view_cart(u, c))),
            t("check out", |u, c| Box::pin(check_out(u, c))),
        ],
    )?;
    add(
        "returning customer",
        weights.returning,
        vec![
            t("login", |u, c| Box::pin(customer_login(u, c))).set_on_start(),
            t("orders", |u, c| {
                Box::pin(get(u, c, "orders", "/order/ofCurrentCustomer"))
            }),
            t("payments", |u, c| {
                Box::pin(get(u, c, "payments", "/payment/ofCurrentCustomer"))
            }),
            t("addresses", |u, c| {
                Box::pin(get(u, c, "addresses", "/account/address?pageNumber=0"))
            }),
        ],
    )?;
    add(
        "manager",
        weights.manager,
        vec![
            t("login", |u, c| Box::pin(manager_login(u, c))).set_on_start(),
            t("manage orders", |u, c| Box::pin(manage_orders(u, c))),
        ],
    )?;
    add(
        "catalog",
        weights.catalog,
        vec![
            t("login", |u, c| Box::pin(customer_login(u, c))).set_on_start(),
            t("view product", |u, c| Box::pin(view_product(u, c))),
        ],
    )?;
    Ok(scenarios)
}

async fn customer_login(user: &mut GooseUser, context: &Context) -> TransactionResult {
    let who = context.dataset.next_customer().clone();
    login(user, &context.recorder, &who).await
}

async fn manager_login(user: &mut GooseUser, context: &Context) -> TransactionResult {
    // A plan without managers has none to log in: the manager journey then only fails
    // its requests (401), which the report shows.
    let who = context
        .dataset
        .next_manager()
        .cloned()
        .unwrap_or_else(|| context.dataset.next_customer().clone());
    login(user, &context.recorder, &who).await
}

fn pick(items: &[i64]) -> i64 {
    items[rand::rng().random_range(0..items.len())]
}

async fn get(user: &mut GooseUser, context: &Context, name: &str, path: &str) -> TransactionResult {
    call(
        user,
        &context.recorder,
        name,
        GooseMethod::Get,
        path,
        Body::None,
        &[200],
    )
    .await?;
    Ok(())
}

async fn browse(user: &mut GooseUser, context: &Context) -> TransactionResult {
    let page = rand::rng().random_range(0..context.dataset.pages);
    let path = format!("/inventory/product?pageNumber={page}");
    get(user, context, "browse", &path).await
}

async fn view_product(user: &mut GooseUser, context: &Context) -> TransactionResult {
    let path = format!("/inventory/product/{}", pick(&context.dataset.products));
    get(user, context, "view product", &path).await
}

async fn check_availability(user: &mut GooseUser, context: &Context) -> TransactionResult {
    let path = format!(
        "/inventory/product/{}/isAvailable?quantity=1",
        pick(&context.dataset.products)
    );
    get(user, context, "check availability", &path).await
}

async fn add_to_cart(user: &mut GooseUser, context: &Context) -> TransactionResult {
    let path = format!(
        "/inventory/product/{}/addToCart",
        pick(&context.dataset.purchasable)
    );
    // 409: sold out meanwhile, an expected outcome under load.
    let answer = call(
        user,
        &context.recorder,
        "add to cart",
        GooseMethod::Post,
        &path,
        Body::Json(json!({"quantity": 1})),
        &[200, 409],
    )
    .await?;
    if answer.status == 200
        && let Some(session) = user.get_session_data_mut::<Session>()
    {
        session.added = true;
    }
    Ok(())
}

async fn view_cart(user: &mut GooseUser, context: &Context) -> TransactionResult {
    get(user, context, "view cart", "/payment/cart").await
}

/// Records how long an asynchronous outcome took to show, or a failure at the deadline.
fn record_wait(context: &Context, name: &str, started: Instant, seen: bool) {
    context.recorder.record(name, started.elapsed(), seen);
}

/// Checks out: waits for the cart to show what was added (the add is an event away),
/// accepts the payment, polls until the payment is settled, and, when it was approved,
/// until its order is visible.
async fn check_out(user: &mut GooseUser, context: &Context) -> TransactionResult {
    let recorder = &context.recorder;
    match user.get_session_data_mut::<Session>() {
        Some(session) if session.added => session.added = false,
        // Nothing was added this round (sold out): nothing to check out.
        _ => return Ok(()),
    }
    let before = call(
        user,
        recorder,
        "payments",
        GooseMethod::Get,
        "/payment/ofCurrentCustomer",
        Body::None,
        &[200],
    )
    .await?;
    let newest_before = before
        .json()
        .as_array()
        .map(|payments| {
            payments
                .iter()
                .filter_map(|p| p["id"].as_i64())
                .max()
                .unwrap_or(0)
        })
        .unwrap_or(0);

    let started = Instant::now();
    let mut cart_seen = false;
    while started.elapsed() < context.poll_deadline {
        let cart = call(
            user,
            recorder,
            "view cart",
            GooseMethod::Get,
            "/payment/cart",
            Body::None,
            &[200],
        )
        .await?;
        if cart.json()["products"]
            .as_array()
            .is_some_and(|lines| !lines.is_empty())
        {
            cart_seen = true;
            break;
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
    record_wait(context, "cart visible", started, cart_seen);
    if !cart_seen {
        return Ok(());
    }

    let accepted = call(
        user,
        recorder,
        "check out",
        GooseMethod::Post,
        "/payment/accept",
        Body::None,
        &[200],
    )
    .await?;
    if accepted.status != 200 {
        return Ok(());
    }

    // Checkout answers with a message only (as the original does): the payment it made
    // is the customer's first one newer than the newest before.
    let started = Instant::now();
    let mut settled: Option<(i64, String)> = None;
    let mut last_seen = "no answer".to_owned();
    while started.elapsed() < context.poll_deadline {
        let answer = call(
            user,
            recorder,
            "payments",
            GooseMethod::Get,
            "/payment/ofCurrentCustomer",
            Body::None,
            &[200],
        )
        .await?;
        let payments = answer.json();
        let ours = payments.as_array().and_then(|payments| {
            payments
                .iter()
                .find(|p| p["id"].as_i64() > Some(newest_before))
        });
        last_seen = ours.map_or_else(
            || {
                let ids: Vec<i64> = payments
                    .as_array()
                    .map(|all| all.iter().filter_map(|p| p["id"].as_i64()).collect())
                    .unwrap_or_default();
                format!("not in the list (newest before {newest_before}; listed {ids:?})")
            },
            |p| format!("{}", p["status"]),
        );
        settled = ours
            .filter(|p| p["status"] != "PENDING")
            .and_then(|p| Some((p["id"].as_i64()?, p["status"].as_str()?.to_owned())));
        if settled.is_some() {
            break;
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
    if settled.is_none() {
        // Worth a line: the report only counts it.
        eprintln!(
            "the payment of {} not settled within {:?}: last seen {last_seen}",
            user.get_session_data::<Session>()
                .map_or("?", |session| session.username.as_str()),
            context.poll_deadline,
        );
    }
    record_wait(context, "payment settled", started, settled.is_some());
    let Some((payment, status)) = settled else {
        return Ok(());
    };
    if status != "APPROVED" {
        return Ok(());
    }

    let mut order_seen = false;
    while started.elapsed() < context.poll_deadline {
        let answer = call(
            user,
            recorder,
            "orders",
            GooseMethod::Get,
            "/order/ofCurrentCustomer",
            Body::None,
            &[200],
        )
        .await?;
        if answer
            .json()
            .as_array()
            .is_some_and(|orders| orders.iter().any(|o| o["paymentId"] == payment))
        {
            order_seen = true;
            break;
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
    record_wait(context, "order visible", started, order_seen);
    Ok(())
}

/// Lists a page of orders, ships one PREPARING order and delivers one ON_THE_WAY.
async fn manage_orders(user: &mut GooseUser, context: &Context) -> TransactionResult {
    let recorder = &context.recorder;
    let page = rand::rng().random_range(0..context.order_pages.max(1));
    let list = call(
        user,
        recorder,
        "list orders",
        GooseMethod::Get,
        &format!("/order?pageNumber={page}&pageSize=20"),
        Body::None,
        &[200],
    )
    .await?;
    let orders = list.json();
    let first = |status: &str| {
        orders.as_array().and_then(|orders| {
            orders
                .iter()
                .find(|o| o["status"] == status)
                .and_then(|o| o["id"].as_i64())
        })
    };
    let (preparing, on_the_way) = (first("PREPARING"), first("ON_THE_WAY"));
    // 409: another manager moved the order on first, an expected outcome.
    if let Some(id) = preparing {
        call(
            user,
            recorder,
            "ship",
            GooseMethod::Put,
            &format!("/order/{id}/ship"),
            Body::None,
            &[200, 409],
        )
        .await?;
    }
    if let Some(id) = on_the_way {
        call(
            user,
            recorder,
            "deliver",
            GooseMethod::Put,
            &format!("/order/{id}/deliver"),
            Body::Json(json!({"recipient": "Load Test"})),
            &[200, 409],
        )
        .await?;
    }
    Ok(())
}
