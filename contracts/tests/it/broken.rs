//! Deliberately broken providers: a provider change that breaks a consumer must fail
//! verification with a message naming the consumer, the interaction and the field, and a
//! change no consumer notices must not.
//!
//! The HTTP provider is the real payment service behind a proxy that rewrites its JSON
//! responses (a renamed or a removed field); the broken event is published by payment's
//! real outbox and relay, with a payload type that lacks a field order relies on.

use std::sync::Arc;

use axum::{
    Router,
    body::{Body, Bytes},
    extract::State,
    http::{HeaderMap, Method, StatusCode, Uri},
    response::{IntoResponse, Response},
};
use contracts::{
    files,
    pact::{Pact, ProviderState},
    verify::{StateHandler, http::HttpVerifier, message::BrokerVerifier, table},
};
use futures::future::BoxFuture;
use platform::messaging::{Event, outbox};
use serde::Serialize;
use serde_json::Value;

use crate::{
    fixtures::PaymentStates,
    providers::{DEADLINE, Provider, Service},
};

type Rewrite = Arc<dyn Fn(&mut Value) + Send + Sync>;

#[derive(Clone)]
struct Upstream {
    base: String,
    client: reqwest::Client,
    rewrite: Rewrite,
}

async fn forward(
    State(upstream): State<Upstream>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let url = format!(
        "{}{}",
        upstream.base,
        uri.path_and_query().map_or("/", |p| p.as_str())
    );
    let mut request = upstream.client.request(method, url).body(body);
    for (name, value) in &headers {
        if name != "host" {
            request = request.header(name, value);
        }
    }
    let Ok(answer) = request.send().await else {
        return StatusCode::BAD_GATEWAY.into_response();
    };
    let status = answer.status();
    let content_type = answer.headers().get("content-type").cloned();
    let bytes = answer.bytes().await.unwrap_or_default();
    let body = match serde_json::from_slice::<Value>(&bytes) {
        Ok(mut json) => {
            (upstream.rewrite)(&mut json);
            serde_json::to_vec(&json).unwrap_or_default()
        }
        Err(_) => bytes.to_vec(),
    };
    let mut response = Response::builder().status(status);
    if let Some(content_type) = content_type {
        response = response.header("content-type", content_type);
    }
    response
        .body(Body::from(body))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

/// A proxy in front of `base` that rewrites every JSON response; its URL.
pub(crate) async fn rewriting_proxy(base: &str, rewrite: Rewrite) -> String {
    let app = Router::new().fallback(forward).with_state(Upstream {
        base: base.to_owned(),
        client: reqwest::Client::new(),
        rewrite,
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("bound");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    format!("http://{addr}")
}

/// Renames a key in every object, at any depth.
pub(crate) fn rename(value: &mut Value, from: &str, to: &str) {
    match value {
        Value::Object(map) => {
            if let Some(v) = map.remove(from) {
                map.insert(to.to_owned(), v);
            }
            map.values_mut().for_each(|v| rename(v, from, to));
        }
        Value::Array(items) => items.iter_mut().for_each(|v| rename(v, from, to)),
        _ => {}
    }
}

fn remove(value: &mut Value, key: &str) {
    match value {
        Value::Object(map) => {
            map.remove(key);
            map.values_mut().for_each(|v| remove(v, key));
        }
        Value::Array(items) => items.iter_mut().for_each(|v| remove(v, key)),
        _ => {}
    }
}

fn payment_pacts() -> Vec<Pact> {
    files::for_provider(&files::pacts_dir(), "payment").expect("pacts")
}

#[tokio::test]
async fn a_renamed_response_field_fails_naming_the_consumer_the_interaction_and_the_field() {
    let provider = Provider::start(Service::Payment).await;
    let states = PaymentStates::of(&provider);
    let proxy = rewriting_proxy(
        &provider.base_url,
        Arc::new(|json: &mut Value| rename(json, "totalPrice", "total")),
    )
    .await;
    let verifier = HttpVerifier::new(&proxy).replace_header(
        "authorization",
        &format!("Bearer {}", provider.manager_token()),
    );
    let pact = payment_pacts()
        .into_iter()
        .find(|p| p.consumer == "order")
        .expect("order's pact with payment");
    let report = verifier.verify(&pact, &states).await;
    println!("{}", table(&report));
    assert!(
        !report.passed(),
        "a renamed field must fail:\n{}",
        table(&report)
    );
    let failures = report.failures();
    assert!(failures.contains("order → payment"), "{failures}");
    assert!(
        failures.contains("\"a request for a payment\""),
        "{failures}"
    );
    assert!(failures.contains("$.totalPrice"), "{failures}");
    assert!(failures.contains("missing"), "{failures}");
    // The 404 interaction has no body and is not affected.
    let unaffected = report
        .outcomes
        .iter()
        .find(|o| o.interaction == "a request for a payment that does not exist")
        .expect("the 404 interaction");
    assert!(unaffected.passed(), "{}", table(&report));
}

#[tokio::test]
async fn removing_response_fields_no_consumer_uses_passes_verification() {
    let provider = Provider::start(Service::Payment).await;
    let states = PaymentStates::of(&provider);
    let proxy = rewriting_proxy(
        &provider.base_url,
        Arc::new(|json: &mut Value| {
            for unused in ["products", "customerId", "cancellationReason"] {
                remove(json, unused);
            }
        }),
    )
    .await;
    let verifier = HttpVerifier::new(&proxy).replace_header(
        "authorization",
        &format!("Bearer {}", provider.manager_token()),
    );
    for pact in payment_pacts() {
        let report = verifier.verify(&pact, &states).await;
        assert!(
            report.outcomes.is_empty() || report.passed(),
            "fields no consumer reads were removed, yet:\n{}",
            table(&report)
        );
    }
    // And the proxy really removed them.
    let body: Value = reqwest::Client::new()
        .get(format!(
            "{proxy}/payment/ofCustomer/{}",
            crate::fixtures::TOMMY
        ))
        .bearer_auth(provider.manager_token())
        .send()
        .await
        .expect("proxy")
        .json()
        .await
        .expect("JSON");
    assert!(
        body.as_array()
            .is_some_and(|a| a.iter().all(|p| p.get("products").is_none()))
    );
}

/// `payment.approved` as a careless change to payment would publish it: no address.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct PaymentApprovedWithoutAddress {
    payment_id: i64,
    customer_id: String,
}

impl Event for PaymentApprovedWithoutAddress {
    const TYPE: &'static str = payment::events::PaymentApproved::TYPE;
    const EXCHANGE: &'static str = payment::events::PaymentApproved::EXCHANGE;
    const ROUTING_KEY: &'static str = payment::events::PaymentApproved::ROUTING_KEY;
}

struct BrokenPayment {
    pool: sqlx::PgPool,
}

impl StateHandler for BrokenPayment {
    fn setup<'a>(&'a self, state: &'a ProviderState) -> BoxFuture<'a, anyhow::Result<()>> {
        Box::pin(async move {
            let mut tx = self.pool.begin().await?;
            outbox::enqueue(
                &mut tx,
                PaymentApprovedWithoutAddress {
                    payment_id: state.int_param("paymentId")?,
                    customer_id: state.param("customerId")?.to_owned(),
                },
            )
            .await?;
            tx.commit().await?;
            Ok(())
        })
    }
}

#[tokio::test]
async fn an_event_missing_a_field_its_consumer_relies_on_fails_over_the_broker() {
    let provider = Provider::start(Service::Payment).await;
    let pact = payment_pacts()
        .into_iter()
        .find(|p| p.consumer == "order")
        .expect("order's pact with payment");
    let verifier = BrokerVerifier {
        amqp_url: provider.broker.url.clone(),
        prefix: provider.broker.prefix.clone(),
        deadline: DEADLINE,
    };
    let report = verifier
        .verify(
            &pact,
            &BrokenPayment {
                pool: provider.pool.clone(),
            },
        )
        .await;
    println!("{}", table(&report));
    assert_eq!(report.outcomes.len(), 1, "{}", table(&report));
    let outcome = &report.outcomes[0];
    // It did arrive over the broker (no timeout), and it is wrong.
    assert_eq!(outcome.error, None, "{}", table(&report));
    assert!(!outcome.passed());
    let failures = report.failures();
    assert!(failures.contains("order → payment"), "{failures}");
    assert!(
        failures.contains("\"a payment.approved event\""),
        "{failures}"
    );
    assert!(failures.contains("$.payload.address"), "{failures}");
}
