//! Outbound resilience (issue acceptance 6): the order service slower than the timeout,
//! its circuit breaker opening and closing again, the fallback never cached; and the
//! identity provider being down.

use std::time::{Duration, Instant};

use platform::resilience::{BreakerPolicy, ResilienceConfig, RetryPolicy};
use reqwest::StatusCode;
use serde_json::{Value, json};
use testkit::eventually;
use wiremock::{Mock, MockServer, ResponseTemplate, matchers::path};

use crate::{
    fake_keycloak::{IdpSettings, TOMMY},
    helpers::{DEADLINE, Options, TestApp, body},
};

const TIMEOUT: Duration = Duration::from_millis(400);
const FAILURES: u32 = 2;
const OPEN_FOR: Duration = Duration::from_secs(2);

fn downstream() -> ResilienceConfig {
    ResilienceConfig {
        timeout: TIMEOUT,
        policy: BreakerPolicy::ConsecutiveFailures {
            threshold: FAILURES,
        },
        open_for: OPEN_FOR,
        max_concurrent: 16,
        retry: RetryPolicy::NONE,
    }
}

fn orders() -> Value {
    json!([{"id": 7, "status": "PREPARING", "paymentId": 3, "address": "26593 birmingham, uk",
        "createdDate": "2026-11-22T10:00:00", "cancellation": null, "recipient": null}])
}

fn payments() -> Value {
    json!([{"id": 3, "totalPrice": 3000.25, "status": "APPROVED", "createdDate": "2026-11-22T09:59:00"}])
}

async fn order_requests(server: &MockServer) -> usize {
    server.received_requests().await.unwrap_or_default().len()
}

/// The detail and how long it took.
async fn detail(app: &TestApp) -> (Value, Duration) {
    let started = Instant::now();
    let response = app
        .get(&format!("/account/customer/{TOMMY}/detail"), &app.manager())
        .await;
    let elapsed = started.elapsed();
    assert_eq!(response.status(), StatusCode::OK);
    (body(response).await, elapsed)
}

#[tokio::test]
async fn a_slow_order_service_yields_an_empty_order_list_within_the_timeout_then_opens_the_breaker_and_recovers()
 {
    let app = TestApp::spawn_with(Options {
        downstream: Some(downstream()),
        ..Options::default()
    })
    .await;
    Mock::given(path(format!("/payment/ofCustomer/{TOMMY}")))
        .respond_with(ResponseTemplate::new(200).set_body_json(payments()))
        .mount(&app.payments)
        .await;
    Mock::given(path(format!("/order/ofCustomer/{TOMMY}")))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(orders())
                .set_delay(Duration::from_secs(10)),
        )
        .mount(&app.orders)
        .await;
    // Warm up token validation and the customer cache, so the timing below measures the
    // downstream calls.
    app.get(&format!("/account/customer/{TOMMY}"), &app.manager())
        .await;

    // Failures below the threshold: each answers within the timeout, with the fallback.
    for attempt in 1..=FAILURES {
        let (detail, elapsed) = detail(&app).await;
        assert!(
            elapsed < TIMEOUT + Duration::from_millis(500),
            "attempt {attempt} took {elapsed:?}"
        );
        assert_eq!(detail["orders"], json!([]), "the fallback");
        assert_eq!(detail["payments"], payments(), "payment still answers");
        assert_eq!(detail["firstName"], "Thomas");
        assert_eq!(order_requests(&app.orders).await, attempt as usize);
    }

    // Open: the order service is not called at all, and the answer is immediate.
    let (detail_while_open, elapsed) = detail(&app).await;
    assert!(elapsed < TIMEOUT, "failed fast: {elapsed:?}");
    assert_eq!(detail_while_open["orders"], json!([]));
    assert_eq!(
        order_requests(&app.orders).await,
        FAILURES as usize,
        "no request reached the order service while the breaker was open"
    );

    // The order service recovers; once the open period is over the probe goes through and
    // the real orders appear: the fallback was never cached.
    app.orders.reset().await;
    Mock::given(path(format!("/order/ofCustomer/{TOMMY}")))
        .respond_with(ResponseTemplate::new(200).set_body_json(orders()))
        .mount(&app.orders)
        .await;
    let recovered = eventually("the orders to appear after recovery", DEADLINE, || async {
        let (detail, _) = detail(&app).await;
        (detail["orders"] == orders()).then_some(detail)
    })
    .await;
    assert_eq!(recovered["payments"], payments());
    assert_eq!(
        order_requests(&app.orders).await,
        1,
        "one probe closed the breaker"
    );
    // Closed again, and the real answer is cached.
    let (cached, _) = detail(&app).await;
    assert_eq!(cached["orders"], orders());
    assert_eq!(order_requests(&app.orders).await, 1);
}

#[tokio::test]
async fn a_slow_payment_service_yields_an_empty_payment_list_and_the_orders() {
    let app = TestApp::spawn_with(Options {
        downstream: Some(downstream()),
        ..Options::default()
    })
    .await;
    Mock::given(path(format!("/order/ofCustomer/{TOMMY}")))
        .respond_with(ResponseTemplate::new(200).set_body_json(orders()))
        .mount(&app.orders)
        .await;
    Mock::given(path(format!("/payment/ofCustomer/{TOMMY}")))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(payments())
                .set_delay(Duration::from_secs(10)),
        )
        .mount(&app.payments)
        .await;
    app.get(&format!("/account/customer/{TOMMY}"), &app.manager())
        .await;
    let (detail, elapsed) = detail(&app).await;
    assert!(
        elapsed < TIMEOUT + Duration::from_millis(500),
        "{elapsed:?}"
    );
    assert_eq!(detail["orders"], orders());
    assert_eq!(detail["payments"], json!([]));
}

#[tokio::test]
async fn an_unreachable_identity_provider_gives_503_not_500_and_addresses_keep_working() {
    let app = TestApp::spawn_with(Options {
        idp: Some(IdpSettings {
            url: "http://127.0.0.1:1".to_owned(),
            realm: "ironvessel".to_owned(),
            client_id: "ironvessel-account".to_owned(),
            client_secret: "dev-account-secret".to_owned(),
        }),
        idp_resilience: Some(ResilienceConfig {
            timeout: Duration::from_secs(1),
            ..downstream()
        }),
        ..Options::default()
    })
    .await;
    for path in [
        format!("/account/customer/{TOMMY}"),
        format!("/account/customer/{TOMMY}/detail"),
        "/account/customer?start=0".to_owned(),
    ] {
        let response = app.get(&path, &app.manager()).await;
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE, "{path}");
        assert!(response.headers().contains_key("retry-after"));
        let error = body(response).await;
        assert_eq!(error["code"], "UNAVAILABLE");
        assert_eq!(
            error["message"],
            "the identity provider is temporarily unavailable, please retry"
        );
    }
    let home = app.add_address(&app.customer(), "home", "birmingham").await;
    assert_eq!(home["isPrimary"], true);
}
