//! Provider verification: each real provider (HTTP server, Postgres, RabbitMQ, Redis)
//! verifies every committed pact naming it, HTTP interactions over HTTP and message
//! interactions over the real broker, with its provider states built by the fixtures.
//! A passing run records its results for `contracts can-i-deploy`.

use std::time::Duration;

use contracts::{
    files, results,
    verify::{Report, StateHandler, http::HttpVerifier, message::BrokerVerifier, table},
};

use crate::{
    fixtures::{AccountStates, IdentityStates, InventoryStates, OrderStates, PaymentStates},
    providers::{DEADLINE, Provider, Service},
};

/// Verifies every pact naming `provider`, over HTTP (with `token` replacing the pacts'
/// example tokens) and over the broker; records the results when everything passed.
pub(crate) async fn verify_provider(
    provider: &Provider,
    states: &dyn StateHandler,
    token: Option<String>,
) -> Report {
    let pacts = files::for_provider(&files::pacts_dir(), provider.service.name())
        .expect("the committed pacts load");
    assert!(
        !pacts.is_empty(),
        "no pact names {}",
        provider.service.name()
    );
    let mut http = HttpVerifier::new(&provider.base_url);
    if let Some(token) = token {
        http = http.replace_header("authorization", &format!("Bearer {token}"));
    }
    let broker = BrokerVerifier {
        amqp_url: provider.broker.url.clone(),
        prefix: provider.broker.prefix.clone(),
        deadline: DEADLINE,
    };
    let mut report = Report::default();
    let mut per_pact = Vec::new();
    for pact in &pacts {
        let mut one = http.verify(pact, states).await;
        one.extend(broker.verify(pact, states).await);
        per_pact.push((pact, one.clone()));
        report.extend(one);
    }
    if report.passed() {
        for (pact, one) in per_pact {
            results::record(&results::default_dir(), pact, &one).expect("results recorded");
        }
    }
    report
}

fn assert_passed(report: &Report) {
    println!("{}", table(report));
    assert!(report.passed(), "verification failed:\n{}", table(report));
}

#[tokio::test]
async fn order_keeps_every_contract_naming_it() {
    let provider = Provider::start(Service::Order).await;
    let states = OrderStates::of(&provider);
    let report = verify_provider(&provider, &states, Some(provider.manager_token())).await;
    assert_passed(&report);
    // account's HTTP pact, the gateway's probe, payment's order.cancelled.
    assert!(report.outcomes.len() >= 4, "{}", table(&report));
}

#[tokio::test]
async fn payment_keeps_every_contract_naming_it() {
    let provider = Provider::start(Service::Payment).await;
    let states = PaymentStates::of(&provider);
    let report = verify_provider(&provider, &states, Some(provider.manager_token())).await;
    assert_passed(&report);
    assert!(
        report.outcomes.iter().any(|o| o.kind.starts_with("Async")),
        "payment's events were verified over the broker"
    );
}

#[tokio::test]
async fn inventory_keeps_every_contract_naming_it() {
    let provider = Provider::start(Service::Inventory).await;
    let states = InventoryStates::of(&provider);
    assert_passed(&verify_provider(&provider, &states, Some(provider.manager_token())).await);
}

#[tokio::test]
async fn account_keeps_every_contract_naming_it() {
    let provider = Provider::start(Service::Account).await;
    let states = AccountStates::of(&provider);
    assert_passed(&verify_provider(&provider, &states, Some(provider.manager_token())).await);
}

/// A client-credentials token of account's service account, from identity itself.
pub(crate) async fn service_token(identity: &Provider) -> String {
    let response: serde_json::Value = reqwest::Client::new()
        .post(format!(
            "{}/realms/ironvessel/protocol/openid-connect/token",
            identity.base_url
        ))
        .timeout(Duration::from_secs(10))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", "ironvessel-account"),
            ("client_secret", "dev-account-secret"),
        ])
        .send()
        .await
        .expect("token endpoint")
        .json()
        .await
        .expect("token JSON");
    response["access_token"]
        .as_str()
        .expect("an access token")
        .to_owned()
}

#[tokio::test]
async fn identity_keeps_every_contract_naming_it() {
    let provider = Provider::start(Service::Identity).await;
    let token = service_token(&provider).await;
    assert_passed(&verify_provider(&provider, &IdentityStates, Some(token)).await);
}
