//! The order detail (O5): the payment from the payment service (with the caller's token)
//! and the customer's name from the identity provider's admin API, each falling back to
//! null, never cached, within the timeout.

use std::time::{Duration, Instant};

use platform::resilience::ResilienceConfig;
use reqwest::StatusCode;
use serde_json::{Value, json};
use wiremock::{
    Mock, ResponseTemplate,
    matchers::{header, method, path},
};

use crate::helpers::{Options, TestApp, VADER, body};

const PAYMENT_TIMEOUT: Duration = Duration::from_millis(400);

fn payment(id: i64) -> Value {
    json!({"id": id, "customerId": VADER, "products": [
        {"id": 2, "name": "Laptop", "price": 3000, "category": "ELECTRONICS", "quantity": 1}
    ], "totalPrice": 3000.5, "status": "APPROVED", "createdDate": "2026-01-02T03:04:05Z"})
}

#[tokio::test]
async fn the_detail_shows_the_order_its_customer_and_its_payment() {
    let app = TestApp::spawn().await;
    let id = app.order(VADER, 3, "PREPARING").await;
    app.keycloak_user(VADER, "Anakin", "Skywalker").await;
    let manager = app.manager();
    Mock::given(method("GET"))
        .and(path("/payment/3"))
        .and(header(
            "authorization",
            format!("Bearer {manager}").as_str(),
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(payment(3)))
        .mount(&app.payments)
        .await;

    let response = app.get(&format!("/order/{id}/detail"), &manager).await;
    assert_eq!(response.status(), StatusCode::OK);
    let detail = body(response).await;
    assert_eq!(detail["order"]["id"], id);
    assert_eq!(detail["order"]["status"], "PREPARING");
    assert_eq!(
        detail["customer"],
        json!({"id": VADER, "firstName": "Anakin", "lastName": "Skywalker"})
    );
    assert_eq!(detail["payment"], json!({"id": 3, "totalPrice": 3000.5}));
}

#[tokio::test]
async fn the_detail_answers_nulls_when_neither_dependency_knows_the_order() {
    let app = TestApp::spawn().await;
    // No user and no payment mounted: both fakes answer 404.
    let id = app.order(VADER, 3, "DELIVERED").await;
    let detail = body(
        app.get(&format!("/order/{id}/detail"), &app.manager())
            .await,
    )
    .await;
    assert_eq!(
        detail["customer"],
        json!({"id": VADER, "firstName": null, "lastName": null})
    );
    assert_eq!(detail["payment"], Value::Null);
    assert_eq!(detail["order"]["recipient"], "Judge Holden");

    let missing = app.get("/order/424242/detail", &app.manager()).await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    assert_eq!(body(missing).await["message"], "Order not found!");
}

#[tokio::test]
async fn a_slow_payment_service_gives_a_null_payment_within_the_timeout_and_it_is_not_cached() {
    let app = TestApp::spawn_with(Options {
        payment: Some(ResilienceConfig::with_timeout(PAYMENT_TIMEOUT)),
        ..Options::default()
    })
    .await;
    let id = app.order(VADER, 3, "PREPARING").await;
    app.keycloak_user(VADER, "Anakin", "Skywalker").await;
    let slow = Mock::given(method("GET"))
        .and(path("/payment/3"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(payment(3))
                .set_delay(Duration::from_secs(5)),
        )
        .mount_as_scoped(&app.payments)
        .await;

    let started = Instant::now();
    let detail = body(
        app.get(&format!("/order/{id}/detail"), &app.manager())
            .await,
    )
    .await;
    let took = started.elapsed();
    assert_eq!(detail["payment"], Value::Null);
    assert_eq!(detail["customer"]["firstName"], "Anakin");
    assert!(
        took < PAYMENT_TIMEOUT + Duration::from_millis(500),
        "answered after {took:?}"
    );

    // The payment service recovers: the fallback was not cached.
    drop(slow);
    Mock::given(method("GET"))
        .and(path("/payment/3"))
        .respond_with(ResponseTemplate::new(200).set_body_json(payment(3)))
        .mount(&app.payments)
        .await;
    let detail = body(
        app.get(&format!("/order/{id}/detail"), &app.manager())
            .await,
    )
    .await;
    assert_eq!(detail["payment"]["totalPrice"], 3000.5);
}
