//! The order caches: a repeated read is a hit, and every change of an order (cancel,
//! ship, deliver, new address, a new order) is seen at once, in order's caches and in
//! account's copy of the customer's orders.

use reqwest::StatusCode;
use serde_json::{Value, json};
use testkit::eventually;
use uuid::Uuid;

use crate::helpers::{
    DEADLINE, TOMMY, TestApp, body, channel, header, payment_approved, publish_raw,
};

async fn read(app: &TestApp, path: &str) -> (String, Value) {
    let response = app.get(path, &app.manager()).await;
    assert_eq!(response.status(), StatusCode::OK, "{path}");
    let cache = header(&response, "x-cache");
    (cache, body(response).await)
}

#[tokio::test]
async fn a_repeated_order_read_is_a_hit_and_every_status_change_is_seen_at_once() {
    let app = TestApp::spawn().await;
    let id = app.order(TOMMY, 1, "PREPARING").await;
    let path = format!("/order/{id}");
    assert_eq!(read(&app, &path).await.0, "MISS");
    let (cache, order) = read(&app, &path).await;
    assert_eq!(cache, "HIT");
    assert_eq!(order["status"], "PREPARING");

    let changes: [(String, String, Option<Value>, &str); 2] = [
        (
            format!("/order/{id}/ship"),
            app.manager(),
            None,
            "ON_THE_WAY",
        ),
        (
            format!("/order/{id}/deliver"),
            app.manager(),
            Some(json!({"recipient": "Judge Holden"})),
            "DELIVERED",
        ),
    ];
    for (change, token, request, status) in changes {
        assert_eq!(
            app.put(&change, &token, request).await.status(),
            StatusCode::OK
        );
        let (cache, order) = read(&app, &path).await;
        assert_eq!(cache, "MISS", "{change} evicted the entry");
        assert_eq!(order["status"], status);
        assert_eq!(read(&app, &path).await.0, "HIT");
    }

    let other = app.order(TOMMY, 2, "PREPARING").await;
    let path = format!("/order/{other}");
    read(&app, &path).await;
    assert_eq!(read(&app, &path).await.0, "HIT");
    let cancelled = app
        .put(
            &format!("/order/{other}/cancel"),
            &app.customer(TOMMY),
            Some(json!({"cancellationReason": "DONT_NEED_ANYMORE"})),
        )
        .await;
    assert_eq!(cancelled.status(), StatusCode::OK);
    let (cache, order) = read(&app, &path).await;
    assert_eq!(cache, "MISS");
    assert_eq!(order["status"], "CANCELLED");
    assert_eq!(
        order["cancellation"]["cancellationReason"],
        "DONT_NEED_ANYMORE"
    );
}

#[tokio::test]
async fn a_customers_order_list_is_cached_and_a_change_evicts_it_here_and_in_account() {
    let app = TestApp::spawn().await;
    let id = app.order(TOMMY, 1, "PREPARING").await;
    let path = format!("/order/ofCustomer/{TOMMY}");
    assert_eq!(read(&app, &path).await.0, "MISS");
    assert_eq!(read(&app, &path).await.0, "HIT");
    let account_key = app
        .put_account_cache(&format!("ordersOfCustomer.rest::{TOMMY}"))
        .await;
    assert!(app.redis_has(&account_key).await);

    let changed = app
        .put(
            &format!("/order/{id}/deliveryAddress"),
            &app.customer(TOMMY),
            Some(json!({"address": "38234 oslo, norway"})),
        )
        .await;
    assert_eq!(changed.status(), StatusCode::OK);
    let (cache, orders) = read(&app, &path).await;
    assert_eq!(cache, "MISS");
    assert_eq!(orders[0]["address"], "38234 oslo, norway");
    assert!(
        !app.redis_has(&account_key).await,
        "account's copy was evicted"
    );
    // The customer's own view shares the cache and sees the change too.
    let mine = app
        .get("/order/ofCurrentCustomer", &app.customer(TOMMY))
        .await;
    assert_eq!(body(mine).await[0]["address"], "38234 oslo, norway");
}

#[tokio::test]
async fn a_new_order_from_an_approved_payment_is_seen_at_once_in_the_customers_list() {
    let app = TestApp::spawn().await;
    app.ready().await;
    let path = format!("/order/ofCustomer/{TOMMY}");
    read(&app, &path).await;
    let (cache, orders) = read(&app, &path).await;
    assert_eq!((cache.as_str(), orders), ("HIT", json!([])));
    let account_key = app
        .put_account_cache(&format!("ordersOfCustomer.rest::{TOMMY}"))
        .await;

    let (_conn, ch) = channel(&app.broker.url).await;
    let event = payment_approved(Uuid::new_v4(), 90, TOMMY, "oslo");
    publish_raw(
        &ch,
        &app.queue("payment.topic"),
        "payment.approved",
        &serde_json::to_vec(&event).unwrap(),
    )
    .await;
    eventually("the new order in the cached list", DEADLINE, || async {
        let (_, orders) = read(&app, &path).await;
        (orders.as_array()?.len() == 1).then_some(())
    })
    .await;
    assert!(!app.redis_has(&account_key).await);
}
