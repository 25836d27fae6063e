//! The services read seeded data back with their own code: a seeded user logs in with
//! the load-test password through identity, and account, payment, order and inventory
//! show them their addresses, payments, orders and products.

use base64::Engine as _;
use payment::domain::PaymentStatus;
use seeder::{Plan, Service, generate};
use tokio_util::sync::CancellationToken;

use crate::helpers::{Scratch, options};

fn claims(token: &str) -> serde_json::Value {
    let payload = token.split('.').nth(1).expect("a JWT");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .expect("base64url");
    serde_json::from_slice(&bytes).expect("JSON claims")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_seeded_user_logs_in_and_the_services_read_their_data() {
    let scratch = Scratch::migrated().await;
    let plan = Plan::with_counts(21, 200, 30, 600);
    seeder::run(&plan, &scratch.targets, &options(2))
        .await
        .expect("load");

    // Someone with an order.
    let index = (0..plan.payments)
        .find(|&i| generate::order(&plan, i).is_some())
        .expect("some payment has an order");
    let paid = generate::payment(&plan, index);
    let user = generate::user(&plan, paid.customer);

    let identity = identity::startup::App::build(identity::config::Config::for_tests(
        scratch.url(Service::Identity),
    ))
    .await
    .expect("identity starts on the seeded database");
    let token_url = identity.token_url(identity::startup::REALM);
    let shutdown = CancellationToken::new();
    tokio::spawn(identity.run(shutdown.clone()));
    let client = reqwest::Client::new();
    let login = |password: &'static str| {
        client.post(&token_url).form(&[
            ("grant_type", "password"),
            ("client_id", "ironvessel-web"),
            ("username", user.username.as_str()),
            ("password", password),
        ])
    };
    let response = login(generate::LOAD_TEST_PASSWORD)
        .send()
        .await
        .expect("token request");
    assert_eq!(
        response.status(),
        200,
        "{}",
        response.text().await.unwrap_or_default()
    );
    let body: serde_json::Value = response.json().await.expect("token JSON");
    let claims = claims(body["access_token"].as_str().expect("an access token"));
    assert_eq!(claims["sub"], user.id.to_string());
    assert_eq!(claims["preferred_username"], user.username);
    assert_eq!(claims["email"], user.email);
    let roles = claims["realm_access"]["roles"].as_array().expect("roles");
    assert!(roles.iter().any(|r| r == "CUSTOMER"), "{roles:?}");
    assert_eq!(login("wrong-password").send().await.unwrap().status(), 401);
    shutdown.cancel();

    let customer = user.id.to_string();
    let page = account::ports::Page {
        number: 0,
        size: 100,
    };
    use account::ports::AddressStore as _;
    let addresses = account::postgres::PgAddressStore::new(scratch.pool(Service::Account).await)
        .page(&customer, page)
        .await
        .expect("account reads addresses");
    assert_eq!(
        addresses.len(),
        generate::addresses(&plan, paid.customer).len()
    );
    assert_eq!(addresses.iter().filter(|a| a.is_primary).count(), 1);

    use payment::ports::PaymentStore as _;
    let payments = payment::postgres::PgPaymentStore::new(scratch.pool(Service::Payment).await)
        .of_customer(&customer)
        .await
        .expect("payment reads payments");
    let stored = payments
        .iter()
        .find(|p| p.id == paid.id)
        .expect("the seeded payment");
    assert_eq!(stored.total_price, paid.total_price);
    assert_eq!(stored.products.len(), paid.lines.len());
    assert!(matches!(
        stored.status,
        PaymentStatus::Approved | PaymentStatus::Refunded
    ));

    use order::ports::OrderStore as _;
    let orders = order::postgres::PgOrderStore::new(scratch.pool(Service::Order).await)
        .of_customer(&customer)
        .await
        .expect("order reads orders");
    let order = orders
        .iter()
        .find(|o| o.payment_id == paid.id)
        .expect("the payment's order");
    assert_eq!(
        order.address,
        generate::primary_address(&plan, paid.customer).full_address()
    );

    use inventory::ports::ProductStore as _;
    let line = &paid.lines[0];
    let product = inventory::postgres::PgProductStore::new(scratch.pool(Service::Inventory).await)
        .get(line.product_id)
        .await
        .expect("inventory reads products")
        .expect("the product exists");
    assert_eq!(
        (product.name.as_str(), product.price),
        (line.name.as_str(), line.price)
    );
}
