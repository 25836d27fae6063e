//! The caches: hits on repeat, every change seen at once (event-driven cart merges,
//! checkout, approval), account's copy evicted, and Redis being down.

use redis::AsyncCommands;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Options, TOMMY, TestApp, channel, take};

async fn read(app: &TestApp, path: &str, token: &str) -> (String, Value) {
    let response = app.get(path, token).await;
    assert_eq!(response.status(), StatusCode::OK, "{path}");
    let cache = response
        .headers()
        .get("x-cache")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (cache, response.json().await.unwrap())
}

#[tokio::test]
async fn a_repeated_cart_read_is_a_hit_and_an_event_driven_merge_is_seen_at_once() {
    let app = TestApp::spawn().await;
    let token = app.customer(TOMMY);
    assert_eq!(read(&app, "/payment/cart", &token).await.0, "MISS");
    let (cache, cart) = read(&app, "/payment/cart", &token).await;
    assert_eq!(cache, "HIT");
    assert_eq!(cart["products"], json!([]));

    let (_conn, ch) = channel(&app.broker.url).await;
    app.product_available(&ch, TOMMY, 3, 5.0, 2, None).await;
    app.consumed("product.available", "processed", 1).await;
    let (cache, cart) = read(&app, "/payment/cart", &token).await;
    assert_eq!(cache, "MISS", "the merge evicted the cart");
    assert_eq!(cart["products"][0]["quantity"], 2);
    assert_eq!(read(&app, "/payment/cart", &token).await.0, "HIT");

    let removed = app
        .send(
            reqwest::Method::DELETE,
            "/payment/cart",
            &token,
            Some(&json!({"productId": 3})),
        )
        .await;
    assert_eq!(removed.status(), StatusCode::OK);
    assert_eq!(
        read(&app, "/payment/cart", &token).await.1["products"][0]["quantity"],
        1
    );
}

#[tokio::test]
async fn checkout_is_seen_at_once_in_the_cart_the_payments_and_accounts_copy() {
    let app = TestApp::spawn().await;
    app.address(TOMMY, "26593 birmingham, uk").await;
    app.cart(TOMMY, &[(1, "Clipper", "2.50", 2)]).await;
    let token = app.customer(TOMMY);
    let mine = format!("/payment/ofCustomer/{TOMMY}");
    for path in ["/payment/cart", "/payment/ofCurrentCustomer"] {
        read(&app, path, &token).await;
        assert_eq!(read(&app, path, &token).await.0, "HIT", "{path}");
    }
    assert_eq!(
        read(&app, &mine, &app.manager()).await.0,
        "HIT",
        "shared with ofCurrentCustomer"
    );
    let account_key = app.account_key("paymentsOfCustomer.rest", TOMMY);
    let mut redis = app.redis().await;
    let _: () = redis.set(&account_key, "[]").await.unwrap();

    let id = app.checkout(TOMMY).await;

    let (_, cart) = read(&app, "/payment/cart", &token).await;
    assert_eq!(cart["products"], json!([]));
    let (_, payments) = read(&app, "/payment/ofCurrentCustomer", &token).await;
    assert_eq!(payments[0]["id"], id);
    let (_, payments) = read(&app, &mine, &app.manager()).await;
    assert_eq!(payments[0]["totalPrice"], 5.0);
    let exists: bool = redis.exists(&account_key).await.unwrap();
    assert!(
        !exists,
        "account's cached list of tommy's payments is evicted"
    );
}

#[tokio::test]
async fn a_payment_read_is_a_hit_and_its_approval_is_seen_at_once() {
    let app = TestApp::spawn().await;
    app.address(TOMMY, "26593 birmingham, uk").await;
    let id = app.payment(TOMMY, "PENDING", &[(1, 1)]).await;
    let path = format!("/payment/{id}");
    let of_customer = format!("/payment/ofCustomer/{TOMMY}");
    for path in [&path, &of_customer] {
        assert_eq!(read(&app, path, &app.manager()).await.0, "MISS");
        assert_eq!(read(&app, path, &app.manager()).await.0, "HIT");
    }
    let account_key = app.account_key("paymentsOfCustomer.rest", TOMMY);
    let mut redis = app.redis().await;
    let _: () = redis.set(&account_key, "[]").await.unwrap();

    let (_conn, ch) = channel(&app.broker.url).await;
    app.publish(
        &ch,
        "product.topic",
        "product.checked",
        "ProductsChecked",
        json!({"paymentId": id, "areProductsAvailable": true, "customerId": TOMMY}),
        None,
    )
    .await;
    // The approval is published after the commit and the evictions.
    take(&ch, &app.name("order.payment.approved"), 1).await;
    let (cache, payment) = read(&app, &path, &app.manager()).await;
    assert_eq!(cache, "MISS");
    assert_eq!(payment["status"], "APPROVED");
    assert_eq!(
        read(&app, &of_customer, &app.manager()).await.1[0]["status"],
        "APPROVED"
    );
    let exists: bool = redis.exists(&account_key).await.unwrap();
    assert!(!exists, "account's copy is evicted");
}

#[tokio::test]
async fn reads_and_checkout_work_from_postgres_when_redis_is_unreachable() {
    let app = TestApp::spawn_with(Options {
        redis_url: Some("redis://127.0.0.1:1".to_owned()),
        ..Options::default()
    })
    .await;
    app.address(TOMMY, "26593 birmingham, uk").await;
    app.cart(TOMMY, &[(1, "Clipper", "2.50", 2)]).await;
    let token = app.customer(TOMMY);
    for _ in 0..2 {
        let (cache, cart) = read(&app, "/payment/cart", &token).await;
        assert_eq!(cache, "MISS");
        assert_eq!(cart["totalPrice"], 5.0);
    }
    let id = app.checkout(TOMMY).await;
    let (_, payment) = read(&app, &format!("/payment/{id}"), &app.manager()).await;
    assert_eq!(payment["status"], "PENDING");
    let report = app.readiness().await.1;
    assert_eq!(report["status"], "DEGRADED");
    assert_eq!(report["checks"]["cache"]["status"], "DOWN");
}
