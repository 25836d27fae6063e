//! Consumer tests: each consumer states what it relies on, runs its real client code (or
//! its real event handler) against the contract's examples, and writes the pact file.
//! One test per pact file, so a file is written whole by one process; the written file
//! must equal the committed one (the drift check), unless IRONVESSEL_UPDATE_PACTS=1.

use std::time::Duration;

use account::ports::{CustomerDirectory, OrderService, PaymentService};
use contracts::{
    matching::{each_like, each_value, integer, iso_datetime, like, number, regex, uuid},
    mock::MockProvider,
    pact::{Body, Interaction, MessageInteraction, Pact, Request},
};
use platform::{
    cache::Cache,
    config::CacheConfig,
    messaging::{Handler, Message},
    metrics::Metrics,
    resilience::{Breaker, ResilienceConfig},
};
use rust_decimal::Decimal;
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::{
    dsl::{
        EXAMPLE_TOKEN, authorized, event, example, http, json_response, state, status_only,
        write_or_check,
    },
    fixtures::{self, LORNE, TOMMY},
    providers::{Service, database},
};

const ORDER_STATUS: &str = "^(PREPARING|ON_THE_WAY|DELIVERED|CANCELLED)$";
const PAYMENT_STATUS: &str = "^(PENDING|APPROVED|CANCELLED|REFUNDED)$";
const CATEGORY: &str = "^(ELECTRONICS|FURNITURE|CLOTHING|TOOL)$";
const CANCELLATION_REASON: &str =
    "^(DELIVERY_TOOK_TOO_LONG|FOUND_BETTER_ALTERNATIVE|DONT_NEED_ANYMORE)$";

fn breaker(name: &str) -> Breaker {
    Breaker::new(
        name,
        &ResilienceConfig::with_timeout(Duration::from_secs(5)),
    )
}

fn no_cache() -> Cache {
    // The handlers' cache evictions are not part of any contract.
    Cache::new(
        &CacheConfig {
            url: secrecy::SecretString::from("redis://127.0.0.1:1".to_owned()),
            prefix: "contracts".to_owned(),
            enabled: false,
            timeout: Duration::from_millis(50),
        },
        Metrics::new(),
    )
}

/// Feeds a message interaction's example to a consumer's real handler, in a transaction.
async fn feed<H: Handler>(handler: &H, pool: &PgPool, message: &MessageInteraction) {
    let envelope = serde_json::from_value(example(message)).expect("the example is an envelope");
    let message_value = Message { envelope };
    let mut tx = pool.begin().await.expect("transaction");
    let done = handler
        .handle(&mut tx, &message_value)
        .await
        .unwrap_or_else(|err| {
            panic!(
                "the handler rejected the contract's example {:?}: {err}",
                message.description
            )
        });
    tx.commit().await.expect("commit");
    handler.committed(done).await;
}

// ---- account → order, account → payment ---------------------------------------------

pub(crate) fn account_order() -> Pact {
    let mut pact = Pact::new("account", "order");
    pact.interactions.push(Interaction::Http(http(
        "a request for the orders of a customer who has orders",
        vec![state(
            "a customer has orders",
            json!({"customerId": TOMMY, "orders": 2}),
        )],
        authorized("GET", &format!("/order/ofCustomer/{TOMMY}")),
        json_response(
            200,
            &each_like(
                json!({
                    "id": integer(1),
                    "status": regex(ORDER_STATUS, "DELIVERED"),
                    "paymentId": integer(5),
                    "address": like(json!("26593 Birmingham, UK")),
                    "createdDate": iso_datetime("2025-03-13T22:45:03.000004Z"),
                }),
                1,
            ),
        ),
    )));
    pact.interactions.push(Interaction::Http(http(
        "a request for the orders of a customer who has none",
        vec![state(
            "a customer has no orders",
            json!({"customerId": LORNE}),
        )],
        authorized("GET", &format!("/order/ofCustomer/{LORNE}")),
        json_response(200, &json!([])),
    )));
    pact
}

#[tokio::test]
async fn account_reads_a_customers_orders_as_the_order_pact_says() {
    let pact = account_order();
    let mock = MockProvider::start(&pact).await.expect("mock");
    let orders = account::downstream::HttpOrderService::new(
        reqwest::Client::new(),
        &mock.url(),
        breaker("order"),
    );
    let found = orders
        .orders_of(TOMMY, EXAMPLE_TOKEN)
        .await
        .expect("orders");
    assert_eq!(found.len(), 1);
    assert_eq!((found[0].id, found[0].status.as_str()), (1, "DELIVERED"));
    assert_eq!(found[0].payment_id, Some(5));
    assert_eq!(found[0].address.as_deref(), Some("26593 Birmingham, UK"));
    assert!(
        orders
            .orders_of(LORNE, EXAMPLE_TOKEN)
            .await
            .expect("orders")
            .is_empty()
    );
    mock.assert_satisfied();
    write_or_check(&pact);
}

pub(crate) fn account_payment() -> Pact {
    let mut pact = Pact::new("account", "payment");
    pact.interactions.push(Interaction::Http(http(
        "a request for the payments of a customer who has payments",
        vec![state(
            "a customer has payments",
            json!({"customerId": TOMMY, "payments": 2}),
        )],
        authorized("GET", &format!("/payment/ofCustomer/{TOMMY}")),
        json_response(
            200,
            &each_like(
                json!({
                    "id": integer(1),
                    "totalPrice": number(json!(150.0)),
                    "status": regex(PAYMENT_STATUS, "APPROVED"),
                    "createdDate": iso_datetime("2025-01-26T14:16:18.000000575Z"),
                }),
                1,
            ),
        ),
    )));
    pact.interactions.push(Interaction::Http(http(
        "a request for the payments of a customer who has none",
        vec![state(
            "a customer has no payments",
            json!({"customerId": LORNE}),
        )],
        authorized("GET", &format!("/payment/ofCustomer/{LORNE}")),
        json_response(200, &json!([])),
    )));
    pact
}

#[tokio::test]
async fn account_reads_a_customers_payments_as_the_payment_pact_says() {
    let pact = account_payment();
    let mock = MockProvider::start(&pact).await.expect("mock");
    let payments = account::downstream::HttpPaymentService::new(
        reqwest::Client::new(),
        &mock.url(),
        breaker("payment"),
    );
    let found = payments
        .payments_of(TOMMY, EXAMPLE_TOKEN)
        .await
        .expect("payments");
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].total_price, Decimal::new(150, 0));
    assert_eq!(found[0].status, "APPROVED");
    assert!(found[0].created_date.is_some());
    assert!(
        payments
            .payments_of(LORNE, EXAMPLE_TOKEN)
            .await
            .expect("payments")
            .is_empty()
    );
    mock.assert_satisfied();
    write_or_check(&pact);
}

// ---- account → identity (Keycloak's admin REST API) ----------------------------------

const REALM_PATH: &str = "/realms/ironvessel/protocol/openid-connect/token";
const USERS_PATH: &str = "/admin/realms/ironvessel/users";
const NOBODY: &str = "00000000-0000-4000-8000-000000000000";

pub(crate) fn account_identity() -> Pact {
    let mut pact = Pact::new("account", "identity");
    pact.interactions.push(Interaction::Http(http(
        "a client-credentials token request of the account service",
        vec![state("the account service's client is registered", json!({"clientId": "ironvessel-account"}))],
        Request {
            method: "POST".to_owned(),
            path: REALM_PATH.to_owned(),
            body: Body {
                // The development default secret of the realm export, not a real one.
                content: Some(json!(
                    "grant_type=client_credentials&client_id=ironvessel-account&client_secret=dev-account-secret"
                )),
                content_type: Some("application/x-www-form-urlencoded".to_owned()),
                ..Body::default()
            },
            ..Request::default()
        },
        json_response(
            200,
            &like(json!({"access_token": "eyJhbGciOiJSUzI1NiJ9.e30.c2lnbmF0dXJl", "expires_in": 300})),
        ),
    )));
    pact.interactions.push(Interaction::Http(http(
        "a request for a page of users",
        vec![state("users exist", json!({}))],
        Request {
            query: [
                ("first".to_owned(), vec!["0".to_owned()]),
                ("max".to_owned(), vec!["10".to_owned()]),
            ]
            .into(),
            ..authorized("GET", USERS_PATH)
        },
        json_response(
            200,
            &each_like(
                json!({"id": uuid(TOMMY), "username": like(json!("tommy"))}),
                1,
            ),
        ),
    )));
    let user = json!({
        "id": uuid(TOMMY),
        "username": like(json!("tommy")),
        "firstName": like(json!("Thomas")),
        "lastName": like(json!("Shelby")),
        "email": like(json!("peaky_blinder@mail.com")),
    });
    pact.interactions.push(Interaction::Http(http(
        "a request for one user",
        vec![state("a user exists", json!({"userId": TOMMY}))],
        authorized("GET", &format!("{USERS_PATH}/{TOMMY}")),
        json_response(200, &user),
    )));
    pact.interactions.push(Interaction::Http(http(
        "a request for a user that does not exist",
        vec![state("no user has the id", json!({"userId": NOBODY}))],
        authorized("GET", &format!("{USERS_PATH}/{NOBODY}")),
        status_only(404),
    )));
    let mut update = user.clone();
    update["enabled"] = json!(false);
    pact.interactions.push(Interaction::Http(http(
        "an update of a user's whole representation",
        vec![state("a user exists", json!({"userId": TOMMY}))],
        Request {
            headers: [
                (
                    "authorization".to_owned(),
                    format!("Bearer {EXAMPLE_TOKEN}"),
                ),
                ("content-type".to_owned(), "application/json".to_owned()),
            ]
            .into(),
            body: crate::dsl::json_body(&update),
            ..authorized("PUT", &format!("{USERS_PATH}/{TOMMY}"))
        },
        status_only(204),
    )));
    pact
}

#[tokio::test]
async fn account_uses_the_identity_providers_admin_api_as_the_identity_pact_says() {
    let pact = account_identity();
    let mock = MockProvider::start(&pact).await.expect("mock");
    let config = account::config::IdpConfig {
        url: mock.url(),
        realm: "ironvessel".to_owned(),
        client_id: "ironvessel-account".to_owned(),
        client_secret: secrecy::SecretString::from("dev-account-secret".to_owned()),
        resilience: ResilienceConfig::with_timeout(Duration::from_secs(5)),
    };
    let directory = account::keycloak::KeycloakDirectory::new(
        reqwest::Client::new(),
        &config,
        breaker("identity"),
    );
    let range = account::domain::UserRange { first: 0, max: 10 };
    let users = directory.list(range).await.expect("users");
    assert_eq!(users[0].username, "tommy");
    let tommy = directory.get(TOMMY).await.expect("lookup").expect("tommy");
    assert_eq!(tommy.customer.first_name.as_deref(), Some("Thomas"));
    assert!(directory.get(NOBODY).await.expect("lookup").is_none());
    assert!(directory.set_enabled(TOMMY, false).await.expect("update"));
    mock.assert_satisfied();
    write_or_check(&pact);
}

// ---- order → payment -----------------------------------------------------------------

pub(crate) fn payment_approved() -> MessageInteraction {
    event(
        "a payment.approved event",
        state(
            "a payment was approved",
            json!({"paymentId": 41, "customerId": TOMMY}),
        ),
        ("payment.topic", "payment.approved", "PaymentApproved"),
        json!({
            "paymentId": integer(41),
            "customerId": like(json!(TOMMY)),
            "address": like(json!("245 Oslo, Norway")),
        }),
    )
}

pub(crate) fn order_payment() -> Pact {
    let mut pact = Pact::new("order", "payment");
    pact.interactions.push(Interaction::Http(http(
        "a request for a payment",
        vec![state("a payment exists", json!({"paymentId": 1}))],
        authorized("GET", "/payment/1"),
        json_response(
            200,
            &json!({"id": integer(1), "totalPrice": number(json!(174.0))}),
        ),
    )));
    pact.interactions.push(Interaction::Http(http(
        "a request for a payment that does not exist",
        vec![state(
            "a payment does not exist",
            json!({"paymentId": 999_999}),
        )],
        authorized("GET", "/payment/999999"),
        status_only(404),
    )));
    pact.interactions
        .push(Interaction::Message(payment_approved()));
    pact
}

#[tokio::test]
async fn order_reads_payments_and_takes_payment_approved_as_the_payment_pact_says() {
    use order::ports::PaymentService as _;
    let pact = order_payment();
    let mock = MockProvider::start(&pact).await.expect("mock");
    let payments = order::downstream::HttpPaymentService::new(
        reqwest::Client::new(),
        &mock.url(),
        breaker("payment"),
    );
    let payment = payments
        .get(1, EXAMPLE_TOKEN)
        .await
        .expect("payment")
        .expect("found");
    assert_eq!((payment.id, payment.total_price), (1, Decimal::new(174, 0)));
    assert!(
        payments
            .get(999_999, EXAMPLE_TOKEN)
            .await
            .expect("answer")
            .is_none()
    );
    mock.assert_satisfied();

    let db = database(Service::Order).await;
    let pool = db.pool().await;
    let handler = order::amqp::PaymentApprovedHandler {
        caches: order::app::OrderCaches {
            own: no_cache(),
            account: no_cache(),
        },
    };
    feed(&handler, &pool, &payment_approved()).await;
    let (status, address): (String, String) =
        sqlx::query_as("SELECT status, address FROM orders WHERE payment_id = 41")
            .fetch_one(&pool)
            .await
            .expect("the order was created");
    assert_eq!(
        (status.as_str(), address.as_str()),
        ("PREPARING", "245 Oslo, Norway")
    );
    write_or_check(&pact);
}

// ---- the gateway's readiness probe ---------------------------------------------------

pub(crate) fn gateway(provider: &str) -> Pact {
    let mut pact = Pact::new("gateway", provider);
    pact.interactions.push(Interaction::Http(http(
        "a readiness probe",
        vec![state("the service is ready", json!({}))],
        Request {
            method: "GET".to_owned(),
            path: "/health/ready".to_owned(),
            ..Request::default()
        },
        status_only(200),
    )));
    pact
}

#[tokio::test]
async fn the_gateway_probes_every_service_as_the_readiness_pacts_say() {
    let client = gateway::upstream::UpstreamClient::new(Duration::from_secs(2), 0);
    for provider in ["account", "identity", "inventory", "order", "payment"] {
        let pact = gateway(provider);
        let mock = MockProvider::start(&pact).await.expect("mock");
        let authority: http::uri::Authority = mock.addr().to_string().parse().expect("authority");
        let replica = gateway::pool::Replica::new(authority);
        client
            .check(&replica, "/health/ready", Duration::from_secs(2))
            .await
            .unwrap_or_else(|err| panic!("the probe of {provider} failed against its pact: {err}"));
        mock.assert_satisfied();
        write_or_check(&pact);
    }
}

// ---- events payment consumes ---------------------------------------------------------

fn payment_caches() -> payment::app::Caches {
    payment::app::Caches {
        own: no_cache(),
        account: no_cache(),
        order: no_cache(),
    }
}

async fn payment_status(pool: &PgPool, id: i64) -> (String, Option<String>) {
    sqlx::query_as("SELECT status, cancellation_reason FROM payment WHERE id = $1")
        .bind(id)
        .fetch_one(pool)
        .await
        .expect("the payment")
}

/// A PENDING (or APPROVED) payment of tommy's, numbered `id`, and his address.
async fn tommys_payment(pool: &PgPool, id: i64, status: payment::domain::PaymentStatus) {
    let mut seeded = fixtures::payment(5, TOMMY, id);
    seeded.status = status;
    seeded.cancellation_reason = None;
    fixtures::insert_payment(pool, &seeded)
        .await
        .expect("payment");
    sqlx::query(
        "INSERT INTO customer (id, address) VALUES ($1, '245 Oslo, Norway') ON CONFLICT DO NOTHING",
    )
    .bind(TOMMY)
    .execute(pool)
    .await
    .expect("customer");
}

pub(crate) fn primary_address_saved() -> MessageInteraction {
    event(
        "an address.primary-saved event",
        state(
            "a customer saved a primary address",
            json!({"customerId": TOMMY}),
        ),
        (
            "address.topic",
            "address.primary-saved",
            "PrimaryAddressSaved",
        ),
        json!({"customerId": like(json!(TOMMY)), "address": like(json!("245 Oslo, Norway"))}),
    )
}

pub(crate) fn payment_account() -> Pact {
    let mut pact = Pact::new("payment", "account");
    pact.interactions
        .push(Interaction::Message(primary_address_saved()));
    pact
}

#[tokio::test]
async fn payment_takes_address_primary_saved_as_the_account_pact_says() {
    let pact = payment_account();
    let db = database(Service::Payment).await;
    let pool = db.pool().await;
    feed(
        &payment::amqp::PrimaryAddressSavedHandler,
        &pool,
        &primary_address_saved(),
    )
    .await;
    let address: String = sqlx::query_scalar("SELECT address FROM customer WHERE id = $1")
        .bind(TOMMY)
        .fetch_one(&pool)
        .await
        .expect("the customer's address");
    assert_eq!(address, "245 Oslo, Norway");
    write_or_check(&pact);
}

fn product_available() -> MessageInteraction {
    event(
        "a product.available event",
        state(
            "a customer added an available product to the cart",
            json!({"customerId": TOMMY, "quantity": 2}),
        ),
        ("product.topic", "product.available", "ProductAvailable"),
        json!({
            "id": integer(17),
            "name": like(json!("Garrison Sturdy Chair")),
            "price": number(json!(49.99)),
            "productCategory": regex(CATEGORY, "FURNITURE"),
            "desiredQuantity": integer(2),
            "customerId": like(json!(TOMMY)),
        }),
    )
}

fn stock_taken() -> MessageInteraction {
    event(
        "a product.checked event for a payment whose stock was taken",
        state(
            "the stock of a payment was taken",
            json!({"paymentId": 41, "customerId": TOMMY}),
        ),
        ("product.topic", "product.checked", "ProductsChecked"),
        json!({
            "paymentId": integer(41),
            "areProductsAvailable": like(json!(true)),
            "customerId": like(json!(TOMMY)),
        }),
    )
}

fn out_of_stock() -> MessageInteraction {
    event(
        "a product.checked event for a payment with a product out of stock",
        state(
            "a product of a payment was out of stock",
            json!({"paymentId": 42, "customerId": TOMMY}),
        ),
        ("product.topic", "product.checked", "ProductsChecked"),
        json!({
            "paymentId": integer(42),
            "areProductsAvailable": like(json!(false)),
            "customerId": like(json!(TOMMY)),
            "reason": like(json!("Garrison Sturdy Chair is not in stock.")),
            "unavailableReason": regex("^(NOT_IN_STOCKS|NOT_AVAILABLE_IN_REGION|PRODUCT_NOT_FOUND)$", "NOT_IN_STOCKS"),
        }),
    )
}

pub(crate) fn payment_inventory() -> Pact {
    let mut pact = Pact::new("payment", "inventory");
    for message in [product_available(), stock_taken(), out_of_stock()] {
        pact.interactions.push(Interaction::Message(message));
    }
    pact
}

#[tokio::test]
async fn payment_takes_product_events_as_the_inventory_pact_says() {
    let pact = payment_inventory();
    let db = database(Service::Payment).await;
    let pool = db.pool().await;

    let handler = payment::amqp::ProductAvailableHandler {
        caches: payment_caches(),
    };
    feed(&handler, &pool, &product_available()).await;
    let quantity: i32 = sqlx::query_scalar(
        "SELECT p.quantity FROM cart_product p JOIN cart c ON c.id = p.cart_id
         WHERE c.customer_id = $1 AND p.product_id = 17",
    )
    .bind(TOMMY)
    .fetch_one(&pool)
    .await
    .expect("the product is in the cart");
    assert_eq!(quantity, 2);

    let handler = payment::amqp::ProductsCheckedHandler {
        caches: payment_caches(),
    };
    tommys_payment(&pool, 41, payment::domain::PaymentStatus::Pending).await;
    feed(&handler, &pool, &stock_taken()).await;
    assert_eq!(payment_status(&pool, 41).await.0, "APPROVED");
    tommys_payment(&pool, 42, payment::domain::PaymentStatus::Pending).await;
    feed(&handler, &pool, &out_of_stock()).await;
    let (status, reason) = payment_status(&pool, 42).await;
    assert_eq!(status, "CANCELLED");
    assert_eq!(
        reason.as_deref(),
        Some("Garrison Sturdy Chair is not in stock.")
    );
    write_or_check(&pact);
}

fn order_cancelled() -> MessageInteraction {
    event(
        "an order.cancelled event",
        state(
            "a customer cancelled an order",
            json!({"paymentId": 41, "customerId": TOMMY}),
        ),
        ("order.topic", "order.cancelled", "OrderCancelled"),
        json!({
            "orderId": integer(7),
            "paymentId": integer(41),
            "customerId": like(json!(TOMMY)),
            "cancellationReason": regex(CANCELLATION_REASON, "FOUND_BETTER_ALTERNATIVE"),
        }),
    )
}

pub(crate) fn payment_order() -> Pact {
    let mut pact = Pact::new("payment", "order");
    pact.interactions
        .push(Interaction::Message(order_cancelled()));
    pact
}

#[tokio::test]
async fn payment_refunds_on_order_cancelled_as_the_order_pact_says() {
    let pact = payment_order();
    let db = database(Service::Payment).await;
    let pool = db.pool().await;
    tommys_payment(&pool, 41, payment::domain::PaymentStatus::Approved).await;
    let handler = payment::amqp::OrderCancelledHandler {
        caches: payment_caches(),
    };
    feed(&handler, &pool, &order_cancelled()).await;
    assert_eq!(payment_status(&pool, 41).await.0, "REFUNDED");
    write_or_check(&pact);
}

// ---- events inventory consumes -------------------------------------------------------

fn payment_saved() -> MessageInteraction {
    event(
        "a payment.saved event",
        state(
            "a customer accepted a payment",
            json!({"paymentId": 41, "customerId": TOMMY}),
        ),
        ("payment.topic", "payment.saved", "PaymentSaved"),
        json!({
            "paymentId": integer(41),
            "customerId": like(json!(TOMMY)),
            "productQuantities": each_value(json!({"17": integer(2)})),
        }),
    )
}

fn payment_refunded() -> MessageInteraction {
    event(
        "a payment.refunded event",
        state(
            "an approved payment was refunded",
            json!({"paymentId": 41, "customerId": TOMMY}),
        ),
        ("payment.topic", "payment.refunded", "PaymentRefunded"),
        json!({
            "paymentId": integer(41),
            "customerId": like(json!(TOMMY)),
            "productQuantities": each_value(json!({"17": integer(2)})),
        }),
    )
}

async fn stock_of(pool: &PgPool, id: i64) -> i32 {
    sqlx::query_scalar("SELECT quantity FROM product WHERE id = $1")
        .bind(id)
        .fetch_one(pool)
        .await
        .expect("the product")
}

pub(crate) fn inventory_payment() -> Pact {
    let mut pact = Pact::new("inventory", "payment");
    pact.interactions
        .push(Interaction::Message(payment_saved()));
    pact.interactions
        .push(Interaction::Message(payment_refunded()));
    pact
}

#[tokio::test]
async fn inventory_takes_and_restores_stock_as_the_payment_pact_says() {
    let pact = inventory_payment();
    let db = database(Service::Inventory).await;
    let pool = db.pool().await;
    let seeded = seeder::generate::product(&fixtures::plan(), 16);
    sqlx::query(
        "INSERT INTO product (id, name, price, category, quantity) VALUES (17, $1, $2, $3, 10)",
    )
    .bind(&seeded.name)
    .bind(seeded.price)
    .bind(seeded.category.as_str())
    .execute(&pool)
    .await
    .expect("product");
    let saved = inventory::amqp::PaymentSavedHandler { cache: no_cache() };
    feed(&saved, &pool, &payment_saved()).await;
    assert_eq!(stock_of(&pool, 17).await, 8);
    let refunded = inventory::amqp::PaymentRefundedHandler { cache: no_cache() };
    feed(&refunded, &pool, &payment_refunded()).await;
    assert_eq!(stock_of(&pool, 17).await, 10);
    write_or_check(&pact);
}

/// Every example a consumer states is also a valid event of the provider's own type: a
/// cheap check that runs before the broker verification does.
#[test]
fn every_message_example_deserialises_into_the_providers_event_type() {
    fn fits<T: serde::de::DeserializeOwned>(message: &MessageInteraction) {
        let payload: Value = example(message)["payload"].clone();
        if let Err(err) = serde_json::from_value::<T>(payload) {
            panic!(
                "{:?} does not fit the provider's type: {err}",
                message.description
            );
        }
    }
    fits::<account::events::PrimaryAddressSaved>(&primary_address_saved());
    fits::<inventory::events::ProductAvailable>(&product_available());
    fits::<inventory::events::ProductsChecked>(&stock_taken());
    fits::<inventory::events::ProductsChecked>(&out_of_stock());
    fits::<payment::events::PaymentSaved>(&payment_saved());
    fits::<payment::events::PaymentApproved>(&payment_approved());
    fits::<payment::events::PaymentRefunded>(&payment_refunded());
    fits::<order::events::OrderCancelled>(&order_cancelled());
}

/// Every pact the consumer tests write.
fn all_pacts() -> Vec<Pact> {
    let mut pacts = vec![
        account_order(),
        account_payment(),
        account_identity(),
        order_payment(),
        payment_account(),
        payment_inventory(),
        payment_order(),
        inventory_payment(),
    ];
    pacts.extend(
        ["account", "identity", "inventory", "order", "payment"]
            .into_iter()
            .map(gateway),
    );
    pacts
}

/// The drift check in one place and without infrastructure: the committed pact files are
/// exactly the ones the consumer tests write, byte for byte, and each reads back as the
/// same pact (so what we write is what we and other Pact implementations read).
#[test]
fn the_committed_pacts_are_exactly_what_the_consumer_tests_write() {
    let pacts = all_pacts();
    let mut drift = Vec::new();
    for pact in &pacts {
        if let Err(report) = contracts::files::check_pact(pact) {
            drift.push(report);
        }
        let text = pact.to_text();
        let reread = Pact::from_json(&serde_json::from_str(&text).expect("JSON")).expect("a pact");
        assert_eq!(
            reread.to_text(),
            text,
            "{} does not survive a round trip",
            pact.file_name()
        );
    }
    assert!(drift.is_empty(), "{}", drift.join("\n\n"));
    let written: std::collections::BTreeSet<String> = pacts.iter().map(Pact::file_name).collect();
    let committed: std::collections::BTreeSet<String> =
        std::fs::read_dir(contracts::files::pacts_dir())
            .expect("contracts/pacts")
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|name| name.ends_with(".json"))
            .collect();
    assert_eq!(
        committed, written,
        "contracts/pacts holds a file no consumer test writes (delete it) or lacks one"
    );
}
