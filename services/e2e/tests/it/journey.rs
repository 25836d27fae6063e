//! The steps of a shopper's and a manager's journey through the gateway, shared by the
//! end-to-end tests and the checkout latency benchmark.

use reqwest::Method;
use serde_json::{Value, json};
use testkit::eventually;

use crate::shop::{Customer, DEADLINE, Shop, access_token};

pub(crate) async fn manager(shop: &Shop) -> String {
    access_token(&shop.login("vader", "i_hate_sand").await)
}

pub(crate) async fn product(
    shop: &Shop,
    manager: &str,
    name: &str,
    price: f64,
    quantity: i64,
) -> i64 {
    let response = shop
        .send(
            Method::POST,
            "/inventory/product",
            manager,
            &json!({"name": name, "price": price, "category": "TOOL", "quantity": quantity}),
        )
        .await;
    assert_eq!(response.status(), 201);
    response.json::<Value>().await.unwrap()["id"]
        .as_i64()
        .unwrap()
}

pub(crate) async fn stock(shop: &Shop, token: &str, id: i64) -> i64 {
    let body: Value = shop
        .get(&format!("/inventory/product/{id}"), token)
        .await
        .json()
        .await
        .unwrap();
    body["quantity"].as_i64().unwrap()
}

pub(crate) async fn add_address(shop: &Shop, customer: &Customer) {
    let response = shop
        .send(
            Method::POST,
            "/account/address",
            &customer.token,
            &json!({"name": "home", "country": "uk", "city": "birmingham", "zipCode": "26593"}),
        )
        .await;
    assert!(
        response.status().is_success(),
        "address: {}",
        response.status()
    );
}

/// Adds to the cart through inventory and waits until payment's cart shows it.
pub(crate) async fn add_to_cart(shop: &Shop, customer: &Customer, product: i64, quantity: i64) {
    let response = shop
        .send(
            Method::POST,
            &format!("/inventory/product/{product}/addToCart"),
            &customer.token,
            &json!({"quantity": quantity}),
        )
        .await;
    assert_eq!(response.status(), 200, "add {product} to cart");
    eventually("the cart to show the product", DEADLINE, || async {
        let cart: Value = shop
            .get("/payment/cart", &customer.token)
            .await
            .json()
            .await
            .ok()?;
        cart["products"]
            .as_array()?
            .iter()
            .any(|line| line["id"] == product && line["quantity"].as_i64() >= Some(quantity))
            .then_some(())
    })
    .await;
}

/// Accepts the payment; retries while payment has not yet seen the primary address (409).
pub(crate) async fn accept(shop: &Shop, customer: &Customer) {
    eventually("the payment to be accepted", DEADLINE, || async {
        let response = shop
            .send(Method::POST, "/payment/accept", &customer.token, &json!({}))
            .await;
        match response.status().as_u16() {
            200 => Some(()),
            409 => None,
            other => panic!(
                "accept answered {other}: {}",
                response.text().await.unwrap_or_default()
            ),
        }
    })
    .await;
}

/// The list at `path`, or `None` unless the answer is a JSON list (a poll tries again).
pub(crate) async fn try_list(shop: &Shop, path: &str, token: &str) -> Option<Vec<Value>> {
    match shop.get(path, token).await.json::<Value>().await.ok()? {
        Value::Array(items) => Some(items),
        _ => None,
    }
}

/// The list at `path`; panics naming the answer if it is not a 200 with a list.
pub(crate) async fn list(shop: &Shop, path: &str, token: &str) -> Vec<Value> {
    let response = shop.get(path, token).await;
    let status = response.status();
    let body = response.text().await.unwrap_or_default();
    assert_eq!(status, 200, "{path}: {body}");
    match serde_json::from_str::<Value>(&body) {
        Ok(Value::Array(items)) => items,
        _ => panic!("{path} is not a list: {body}"),
    }
}

/// The customer's payments.
pub(crate) async fn payments(shop: &Shop, customer: &Customer) -> Vec<Value> {
    list(shop, "/payment/ofCurrentCustomer", &customer.token).await
}

/// The customer's orders, `None` if they cannot be read right now.
pub(crate) async fn orders(shop: &Shop, customer: &Customer) -> Option<Vec<Value>> {
    try_list(shop, "/order/ofCurrentCustomer", &customer.token).await
}

pub(crate) async fn payment_in(shop: &Shop, customer: &Customer, status: &str) -> Value {
    eventually(
        &format!("a payment to become {status}"),
        DEADLINE,
        || async {
            try_list(shop, "/payment/ofCurrentCustomer", &customer.token)
                .await?
                .into_iter()
                .find(|p| p["status"] == status)
        },
    )
    .await
}

pub(crate) async fn order_in(shop: &Shop, customer: &Customer, status: &str) -> Value {
    eventually(&format!("an order to be {status}"), DEADLINE, || async {
        orders(shop, customer)
            .await?
            .into_iter()
            .find(|o| o["status"] == status)
    })
    .await
}

pub(crate) async fn checked_out(shop: &Shop, name: &str, lines: &[(i64, i64)]) -> Customer {
    let customer = shop.new_customer(name).await;
    add_address(shop, &customer).await;
    for (product, quantity) in lines {
        add_to_cart(shop, &customer, *product, *quantity).await;
    }
    accept(shop, &customer).await;
    customer
}
