//! Upstreams that are down, slow or failing: the gateway answers quickly and clearly,
//! naming the service, and recovers by itself.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;
use tokio::time::Instant;
use wiremock::{Mock, ResponseTemplate, matchers::path};

use crate::helpers::{
    CUSTOMER, DEADLINE, TestGateway, closed_port, error_body, stub_upstream, traffic,
};

#[tokio::test]
async fn a_service_that_is_down_gets_an_answer_naming_it() {
    let idp = testkit::TestIdp::start().await;
    let gateway = TestGateway::spawn(
        idp.auth_config(),
        &[(
            "GATEWAY_ORDER_URLS",
            format!("http://127.0.0.1:{}", closed_port()),
        )],
    )
    .await;
    let token = idp.customer(CUSTOMER);

    // Before the first health check has run, the refused connection itself is the answer.
    let first = gateway.get("/order/ofCurrentCustomer", &token).await;
    let (status, code, message) = error_body(first).await;
    assert!(status == 502 || status == 503, "{status}");
    assert_eq!(code, "UNAVAILABLE");
    assert!(message.starts_with("service order "), "{message}");

    // Once the health check took the replica out, the gateway answers 503 at once.
    gateway.wait_for_healthy("order", 0).await;
    assert_eq!(gateway.ready().await["pools"]["order"]["status"], "DOWN");
    let response = gateway.get("/order/ofCurrentCustomer", &token).await;
    assert_eq!(response.headers()["retry-after"], "1");
    let (status, code, message) = error_body(response).await;
    assert_eq!(status, 503);
    assert_eq!(code, "UNAVAILABLE");
    assert_eq!(message, "service order is unavailable: no healthy replica");
    assert_eq!(
        gateway.ready().await["status"],
        "DEGRADED",
        "the gateway stays ready and says which pool is down"
    );
}

#[tokio::test]
async fn an_upstream_slower_than_the_timeout_gets_a_504() {
    let idp = testkit::TestIdp::start().await;
    let upstream = stub_upstream().await;
    Mock::given(path("/payment/cart"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"products": []}))
                .set_delay(Duration::from_secs(3)),
        )
        .mount(&upstream)
        .await;
    let gateway = TestGateway::spawn(
        idp.auth_config(),
        &[
            ("GATEWAY_PAYMENT_URLS", upstream.uri()),
            ("GATEWAY_PAYMENT_TIMEOUT_MS", "300".to_owned()),
        ],
    )
    .await;

    let started = Instant::now();
    let response = gateway.get("/payment/cart", &idp.customer(CUSTOMER)).await;
    let elapsed = started.elapsed();
    let (status, code, message) = error_body(response).await;
    assert_eq!(status, 504);
    assert_eq!(code, "UNAVAILABLE");
    assert_eq!(message, "service payment did not answer within 300 ms");
    assert!(
        elapsed < Duration::from_secs(2),
        "answered after {elapsed:?}"
    );
    assert_eq!(
        traffic(&upstream).await.len(),
        1,
        "a timed-out request is not retried"
    );
}

#[tokio::test]
async fn a_failing_pool_opens_its_circuit_and_closes_it_once_the_service_recovers() {
    let idp = testkit::TestIdp::start().await;
    let upstream = stub_upstream().await;
    Mock::given(path("/account/address"))
        .respond_with(ResponseTemplate::new(503).set_body_json(
            json!({"message": "the database is temporarily unavailable", "resultType": "ERROR", "code": "UNAVAILABLE"}),
        ))
        .mount(&upstream)
        .await;
    let gateway = TestGateway::spawn(
        idp.auth_config(),
        &[
            ("GATEWAY_ACCOUNT_URLS", upstream.uri()),
            ("GATEWAY_BREAKER_FAILURES", "3".to_owned()),
            ("GATEWAY_BREAKER_OPEN_MS", "500".to_owned()),
            // Keep the replica in rotation: this test is about the circuit.
            ("GATEWAY_EJECT_AFTER_FAILURES", "1000".to_owned()),
        ],
    )
    .await;
    let token = idp.customer(CUSTOMER);

    for _ in 0..3 {
        let response = gateway.get("/account/address", &token).await;
        let (status, _, message) = error_body(response).await;
        assert_eq!(status, 503);
        assert_eq!(
            message, "the database is temporarily unavailable",
            "the service's own answer passes through"
        );
    }
    let response = gateway.get("/account/address", &token).await;
    let (status, code, message) = error_body(response).await;
    assert_eq!((status, code.as_str()), (503, "UNAVAILABLE"));
    assert_eq!(message, "service account is unavailable");
    assert_eq!(
        traffic(&upstream).await.len(),
        3,
        "the open circuit spared the upstream"
    );
    assert_eq!(gateway.ready().await["pools"]["account"]["circuit"], "open");

    // The service recovers; after the open period a request gets through and closes it.
    upstream.reset().await;
    Mock::given(path("/health/ready"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&upstream)
        .await;
    Mock::given(path("/account/address"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
        .mount(&upstream)
        .await;
    testkit::eventually(
        "the circuit to let requests through again",
        DEADLINE,
        || async {
            (gateway.get("/account/address", &token).await.status() == StatusCode::OK).then_some(())
        },
    )
    .await;
    assert_eq!(
        gateway.ready().await["pools"]["account"]["circuit"],
        "closed"
    );
}
