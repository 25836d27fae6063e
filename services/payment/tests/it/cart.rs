//! The cart (P8–P10) and checkout (P7): contents, one-unit removal, clearing, the exact
//! total, what checkout publishes, and what it refuses.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{LORNE, TOMMY, TestApp, VADER, channel, take};

async fn error(response: reqwest::Response, status: StatusCode) -> Value {
    assert_eq!(response.status(), status);
    let body: Value = response.json().await.expect("JSON error body");
    assert_eq!(body["resultType"], "ERROR");
    body
}

async fn count(app: &TestApp, table: &str) -> i64 {
    let query = match table {
        "payment" => "SELECT count(*) FROM payment",
        "outbox" => "SELECT count(*) FROM outbox",
        _ => "SELECT count(*) FROM cart_product",
    };
    sqlx::query_scalar(query)
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_customer_without_a_cart_gets_an_empty_one_with_a_null_id() {
    let app = TestApp::spawn().await;
    let cart = app.json("/payment/cart", &app.customer(LORNE)).await;
    assert_eq!(
        cart,
        json!({"id": null, "customerId": LORNE, "products": [], "totalPrice": 0.0})
    );
}

#[tokio::test]
async fn the_cart_shows_its_lines_and_an_exact_total_to_its_owner_only() {
    let app = TestApp::spawn().await;
    app.cart(TOMMY, &[(1, "Clipper", "19.99", 3), (2, "Pin", "0.10", 1)])
        .await;
    let cart = app.json("/payment/cart", &app.customer(TOMMY)).await;
    assert!(cart["id"].is_i64());
    assert_eq!(cart["customerId"], TOMMY);
    assert_eq!(cart["totalPrice"], 60.07);
    assert_eq!(
        cart["products"][0],
        json!({"id": 1, "name": "Clipper", "price": 19.99, "category": "TOOL", "quantity": 3})
    );
    let vaders = app.json("/payment/cart", &app.customer(VADER)).await;
    assert_eq!(
        vaders["products"],
        json!([]),
        "another customer's cart is never shown"
    );
}

#[tokio::test]
async fn removing_from_the_cart_takes_one_unit_at_a_time() {
    let app = TestApp::spawn().await;
    app.cart(TOMMY, &[(1, "Clipper", "2.50", 2)]).await;
    let token = app.customer(TOMMY);
    for remaining in [
        json!([{"id": 1, "name": "Clipper", "price": 2.5, "category": "TOOL", "quantity": 1}]),
        json!([]),
    ] {
        let response = app
            .send(
                Method::DELETE,
                "/payment/cart",
                &token,
                Some(&json!({"productId": 1})),
            )
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        let body: Value = response.json().await.unwrap();
        assert_eq!(
            body,
            json!({"message": "Product is removed from the cart.", "resultType": "SUCCESS"})
        );
        let cart = app.json("/payment/cart", &token).await;
        assert_eq!(cart["products"], remaining);
    }
    let absent = app
        .send(
            Method::DELETE,
            "/payment/cart",
            &token,
            Some(&json!({"productId": 1})),
        )
        .await;
    let body = error(absent, StatusCode::NOT_FOUND).await;
    assert_eq!(body["message"], "Product is not available in the cart.");
}

#[tokio::test]
async fn removing_needs_a_valid_product_id() {
    let app = TestApp::spawn().await;
    let token = app.customer(TOMMY);
    for body in [
        json!({}),
        json!({"productId": "one"}),
        json!({"productId": 0}),
    ] {
        let response = app
            .send(Method::DELETE, "/payment/cart", &token, Some(&body))
            .await;
        let error = error(response, StatusCode::BAD_REQUEST).await;
        assert!(
            error["message"].as_str().unwrap().contains("productId"),
            "{body}: {error}"
        );
    }
    let no_body = app
        .send(Method::DELETE, "/payment/cart", &token, None)
        .await;
    assert!(no_body.status().is_client_error());
}

#[tokio::test]
async fn clearing_the_cart_empties_it_and_an_empty_cart_is_a_conflict() {
    let app = TestApp::spawn().await;
    app.cart(TOMMY, &[(1, "Clipper", "2.50", 2), (3, "Phone", "5", 1)])
        .await;
    let token = app.customer(TOMMY);
    let response = app
        .send(Method::DELETE, "/payment/cart/clear", &token, None)
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["message"], "Your cart is now empty.");
    let cart = app.json("/payment/cart", &token).await;
    assert_eq!(cart["products"], json!([]));
    assert_eq!(cart["totalPrice"], 0.0);

    let again = app
        .send(Method::DELETE, "/payment/cart/clear", &token, None)
        .await;
    let body = error(again, StatusCode::CONFLICT).await;
    assert_eq!(body["message"], "Your cart is already empty.");
    let never_had_one = app
        .send(
            Method::DELETE,
            "/payment/cart/clear",
            &app.customer(LORNE),
            None,
        )
        .await;
    error(never_had_one, StatusCode::CONFLICT).await;
}

#[tokio::test]
async fn checkout_creates_a_pending_payment_with_the_exact_total_and_publishes_payment_saved() {
    let app = TestApp::spawn().await;
    app.address(TOMMY, "26593 birmingham, uk").await;
    app.cart(TOMMY, &[(7, "Clipper", "19.99", 3), (42, "Pin", "0.10", 1)])
        .await;
    let token = app.customer(TOMMY);
    let response = app
        .send(Method::POST, "/payment/accept", &token, None)
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body,
        json!({"message": "Payment is accepted.", "resultType": "SUCCESS"})
    );

    let mine = app.json("/payment/ofCurrentCustomer", &token).await;
    let payment = &mine[0];
    assert_eq!(payment["status"], "PENDING");
    assert_eq!(payment["totalPrice"], 60.07);
    assert_eq!(payment["products"].as_array().unwrap().len(), 2);
    let cart = app.json("/payment/cart", &token).await;
    assert_eq!(cart["products"], json!([]), "the cart is empty afterwards");

    let (_conn, ch) = channel(&app.broker.url).await;
    let saved = take(&ch, &app.name("inventory.payment.saved"), 1)
        .await
        .remove(0);
    assert_eq!(saved.body["eventType"], "PaymentSaved");
    assert_eq!(
        saved.body["payload"],
        json!({"paymentId": payment["id"], "customerId": TOMMY,
               "productQuantities": {"7": 3, "42": 1}})
    );
}

#[tokio::test]
async fn checkout_of_an_empty_cart_is_refused_with_400() {
    let app = TestApp::spawn().await;
    app.address(TOMMY, "26593 birmingham, uk").await;
    let response = app
        .send(Method::POST, "/payment/accept", &app.customer(TOMMY), None)
        .await;
    let body = error(response, StatusCode::BAD_REQUEST).await;
    assert_eq!(body["message"], "Your cart is empty.");
    assert_eq!(count(&app, "payment").await, 0);
}

#[tokio::test]
async fn checkout_without_a_primary_address_is_refused_with_409_and_writes_nothing() {
    let app = TestApp::spawn().await;
    app.cart(LORNE, &[(1, "Clipper", "2.50", 1)]).await;
    let token = app.customer(LORNE);
    let response = app
        .send(Method::POST, "/payment/accept", &token, None)
        .await;
    let body = error(response, StatusCode::CONFLICT).await;
    assert_eq!(
        body["message"],
        "Add a primary address before checking out."
    );
    assert_eq!(count(&app, "payment").await, 0);
    assert_eq!(count(&app, "outbox").await, 0);
    let cart = app.json("/payment/cart", &token).await;
    assert_eq!(
        cart["products"].as_array().unwrap().len(),
        1,
        "the cart is kept"
    );
    let payments = app.json("/payment/ofCurrentCustomer", &token).await;
    assert_eq!(payments, json!([]));
}
