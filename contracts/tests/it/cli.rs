//! The `contracts` binary, run as a user would run it.

use std::{path::Path, process::Output, sync::Arc};

use contracts::{
    files,
    pact::Pact,
    results,
    verify::{Outcome, Report},
};
use serde_json::Value;
use wiremock::{
    Mock, MockServer, ResponseTemplate,
    matchers::{method, path_regex},
};

use crate::{
    broken::{rename, rewriting_proxy},
    fixtures::PaymentStates,
    providers::{Provider, Service},
    state_server,
};

async fn contracts(args: &[&str]) -> Output {
    // Async: the providers these commands talk to run on this test's runtime.
    tokio::process::Command::new(env!("CARGO_BIN_EXE_contracts"))
        .args(args)
        .output()
        .await
        .expect("the contracts binary runs")
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[tokio::test]
async fn list_shows_every_consumer_provider_pair_and_interaction() {
    let output = contracts(&["list"]).await;
    let out = text(&output);
    assert!(output.status.success(), "{out}");
    for expected in [
        "order → payment (order-payment.json, 3 interaction(s))",
        "message a payment.approved event  [given: a payment was approved]",
        "http    a request for a payment",
        "gateway → identity",
        "inventory → payment",
    ] {
        assert!(out.contains(expected), "{expected:?} missing from:\n{out}");
    }
}

#[tokio::test]
async fn verify_checks_a_running_provider_over_http_and_the_broker_and_prints_a_table() {
    let provider = Provider::start(Service::Payment).await;
    let states = state_server::serve(Arc::new(PaymentStates::of(&provider))).await;
    let results = tempfile::tempdir().expect("tempdir");
    let token = provider.manager_token();
    let output = contracts(&[
        "verify",
        "--provider",
        "payment",
        "--base-url",
        &provider.base_url,
        "--token",
        &token,
        "--state-change-url",
        &states,
        "--amqp-url",
        &provider.broker.url,
        "--amqp-prefix",
        &provider.broker.prefix,
        "--results",
        results.path().to_str().expect("UTF-8 path"),
    ])
    .await;
    let out = text(&output);
    assert!(output.status.success(), "{out}");
    assert!(out.contains("RESULT  PACT"), "{out}");
    assert!(
        out.contains("PASS    order → payment      http     a request for a payment"),
        "{out}"
    );
    assert!(
        out.contains("PASS    order → payment      message  a payment.approved event"),
        "{out}"
    );
    assert!(
        out.contains("8 interaction(s): 8 passed, 0 failed"),
        "{out}"
    );
    assert!(results.path().join("order-payment/messages.json").exists());
}

#[tokio::test]
async fn verify_exits_non_zero_and_names_the_field_when_the_provider_breaks_a_contract() {
    let provider = Provider::start(Service::Payment).await;
    let states = state_server::serve(Arc::new(PaymentStates::of(&provider))).await;
    let proxy = rewriting_proxy(
        &provider.base_url,
        Arc::new(|json: &mut Value| rename(json, "totalPrice", "total")),
    )
    .await;
    let results = tempfile::tempdir().expect("tempdir");
    let token = provider.manager_token();
    let output = contracts(&[
        "verify",
        "--provider",
        "payment",
        "--base-url",
        &proxy,
        "--token",
        &token,
        "--state-change-url",
        &states,
        "--results",
        results.path().to_str().expect("UTF-8 path"),
    ])
    .await;
    let out = text(&output);
    assert_eq!(output.status.code(), Some(1), "{out}");
    assert!(
        out.contains("FAIL    order → payment    http  a request for a payment"),
        "{out}"
    );
    assert!(
        out.contains("$.totalPrice: expected field \"totalPrice\""),
        "{out}"
    );
    assert!(out.contains("$[0].totalPrice"), "{out}");
}

fn all_passed(pact: &Pact) -> Report {
    Report {
        outcomes: pact
            .interactions
            .iter()
            .map(|i| Outcome {
                consumer: pact.consumer.clone(),
                provider: pact.provider.clone(),
                interaction: i.description().to_owned(),
                kind: i.kind().to_owned(),
                mismatches: Vec::new(),
                error: None,
            })
            .collect(),
    }
}

fn copy_pacts(to: &Path) {
    for pact in files::load_all(&files::pacts_dir()).expect("pacts") {
        std::fs::write(to.join(pact.file_name()), pact.to_text()).expect("copy");
    }
}

#[tokio::test]
async fn can_i_deploy_needs_every_pact_of_the_service_verified_against_the_current_files() {
    let pacts = tempfile::tempdir().expect("tempdir");
    copy_pacts(pacts.path());
    let results = tempfile::tempdir().expect("tempdir");
    let args = |service: &'static str| {
        [
            "--pacts".to_owned(),
            pacts.path().display().to_string(),
            "--results".to_owned(),
            results.path().display().to_string(),
            "can-i-deploy".to_owned(),
            "--service".to_owned(),
            service.to_owned(),
        ]
    };
    let run = |args: [String; 7]| async move {
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        contracts(&refs).await
    };

    let output = run(args("order")).await;
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    assert!(
        text(&output).contains("never verified"),
        "{}",
        text(&output)
    );

    // Every pact involving order verified: as consumer (order → payment) and as
    // provider (account, gateway, payment → order).
    let all = files::load_all(pacts.path()).expect("pacts");
    for pact in all
        .iter()
        .filter(|p| p.consumer == "order" || p.provider == "order")
    {
        results::record(results.path(), pact, &all_passed(pact)).expect("recorded");
    }
    let output = run(args("order")).await;
    assert!(output.status.success(), "{}", text(&output));
    assert!(
        text(&output).contains("order can be deployed"),
        "{}",
        text(&output)
    );
    // Payment is not fully verified (its pacts with account and inventory are not).
    let output = run(args("payment")).await;
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));

    // A changed pact makes its old results stale.
    let mut changed = Pact::load(&pacts.path().join("account-order.json")).expect("pact");
    changed.interactions.truncate(1);
    std::fs::write(pacts.path().join("account-order.json"), changed.to_text()).expect("write");
    let output = run(args("order")).await;
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    assert!(
        text(&output).contains("older version of the pact"),
        "{}",
        text(&output)
    );
}

#[tokio::test]
async fn publish_puts_every_pact_to_the_pact_broker() {
    let broker = MockServer::start().await;
    Mock::given(method("PUT"))
        .and(path_regex(
            r"^/pacts/provider/[a-z]+/consumer/[a-z]+/version/abc123$",
        ))
        .respond_with(ResponseTemplate::new(201))
        .mount(&broker)
        .await;
    let output = contracts(&["publish", "--broker", &broker.uri(), "--version", "abc123"]).await;
    assert!(output.status.success(), "{}", text(&output));
    let requests = broker.received_requests().await.expect("recorded");
    let pacts = files::load_all(&files::pacts_dir()).expect("pacts");
    assert_eq!(requests.len(), pacts.len());
    let order_payment = requests
        .iter()
        .find(|r| r.url.path() == "/pacts/provider/payment/consumer/order/version/abc123")
        .expect("order's pact with payment was published");
    let body: Value = serde_json::from_slice(&order_payment.body).expect("JSON");
    assert_eq!(body["metadata"]["pactSpecification"]["version"], "4.0");
}
