//! The product cache: hits, eviction on every change, and Redis being down.

use reqwest::{Method, StatusCode};
use serde_json::json;
use uuid::Uuid;

use crate::helpers::{Options, TestApp, channel, payment_saved, publish_raw, take};

async fn read(app: &TestApp, id: i64) -> (StatusCode, String, serde_json::Value) {
    let response = app
        .get(&format!("/inventory/product/{id}"), &app.customer())
        .await;
    let status = response.status();
    let cache = response
        .headers()
        .get("x-cache")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, cache, response.json().await.unwrap())
}

#[tokio::test]
async fn a_repeated_read_is_a_hit_and_an_update_is_seen_at_once() {
    let app = TestApp::spawn().await;
    let id = app.product("Desk", "25", 3).await;
    assert_eq!(read(&app, id).await.1, "MISS");
    let (_, cache, body) = read(&app, id).await;
    assert_eq!(cache, "HIT");
    assert_eq!(body["name"], "Desk");

    let updated = app
        .send_json(Method::PUT, "/inventory/product", &app.manager(),
            &json!({"id": id, "name": "Standing desk", "price": 99, "category": "FURNITURE", "quantity": 4}))
        .await;
    assert_eq!(updated.status(), StatusCode::OK);
    let (_, cache, body) = read(&app, id).await;
    assert_eq!(cache, "MISS", "the update evicted the entry");
    assert_eq!(body["name"], "Standing desk");
    assert_eq!(body["quantity"], 4);
}

#[tokio::test]
async fn a_stock_decrement_and_a_delete_are_seen_at_once() {
    let app = TestApp::spawn().await;
    let id = app.product("Phone", "5", 6).await;
    read(&app, id).await;
    assert_eq!(read(&app, id).await.1, "HIT");

    let (_conn, ch) = channel(&app.broker.url).await;
    // The topology is declared once the broker is connected.
    testkit::until_ready(&app.client, &app.base, crate::helpers::DEADLINE).await;
    let body = serde_json::to_vec(&payment_saved(Uuid::new_v4(), 1, &[(id, 2)])).unwrap();
    publish_raw(&ch, &app.queue("payment.topic"), "payment.saved", &body).await;
    take(&ch, &app.queue("payment.product.checked"), 1).await;
    // The verdict is published after the commit and the eviction.
    let (_, _, body) = read(&app, id).await;
    assert_eq!(body["quantity"], 4);

    let deleted = app
        .client
        .delete(app.url(&format!("/inventory/product/{id}")))
        .bearer_auth(app.manager())
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), StatusCode::OK);
    assert_eq!(read(&app, id).await.0, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn reads_succeed_from_postgres_when_redis_is_unreachable() {
    let app = TestApp::spawn_with(Options {
        redis_url: Some("redis://127.0.0.1:1".to_owned()),
        ..Options::default()
    })
    .await;
    let id = app.product("Apple", "499.99", 4).await;
    for _ in 0..3 {
        let (status, cache, body) = read(&app, id).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(cache, "MISS");
        assert_eq!(body["price"], 499.99);
    }
    let report = app.readiness().await.1;
    assert_eq!(report["status"], "DEGRADED");
    assert_eq!(report["checks"]["cache"]["status"], "DOWN");
}
