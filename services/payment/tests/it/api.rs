//! Every payment endpoint over HTTP with real tokens: happy paths, 400, 401, 403, 404.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use testkit::tokens::TokenSpec;

use crate::helpers::{LORNE, Options, TOMMY, TestApp, VADER};

async fn error(response: reqwest::Response, status: StatusCode) -> Value {
    assert_eq!(response.status(), status);
    let body: Value = response.json().await.expect("JSON error body");
    assert_eq!(body["resultType"], "ERROR");
    body
}

#[tokio::test]
async fn ping_names_the_replica() {
    let app = TestApp::spawn().await;
    let response = app.get("/payment/ping", &app.customer(TOMMY)).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["x-instance"], "payment-test");
    assert_eq!(
        response.text().await.unwrap(),
        "Payment microservice works. Host: payment-test"
    );
}

#[tokio::test]
async fn every_endpoint_answers_401_without_a_valid_token() {
    let app = TestApp::spawn().await;
    let expired = app.idp.token(&TokenSpec {
        expires_in: -3600,
        ..TokenSpec::customer(TOMMY)
    });
    for (method, path) in [
        (Method::GET, "/payment/ping"),
        (Method::GET, "/payment/"),
        (Method::GET, "/payment/ofCurrentCustomer"),
        (Method::GET, "/payment/1"),
        (Method::GET, "/payment/1/detail"),
        (Method::GET, &format!("/payment/ofCustomer/{TOMMY}")),
        (Method::POST, "/payment/accept"),
        (Method::GET, "/payment/cart"),
        (Method::DELETE, "/payment/cart"),
        (Method::DELETE, "/payment/cart/clear"),
    ] {
        let anonymous = app
            .client
            .request(method.clone(), app.url(path))
            .send()
            .await
            .unwrap();
        assert_eq!(
            anonymous.status(),
            StatusCode::UNAUTHORIZED,
            "{method} {path}"
        );
        let stale = app.send(method.clone(), path, &expired, None).await;
        assert_eq!(stale.status(), StatusCode::UNAUTHORIZED, "{method} {path}");
    }
}

#[tokio::test]
async fn a_customer_gets_403_on_manager_endpoints() {
    let app = TestApp::spawn().await;
    let id = app.payment(TOMMY, "APPROVED", &[(1, 1)]).await;
    for path in [
        "/payment/".to_owned(),
        "/payment".to_owned(),
        format!("/payment/{id}"),
        format!("/payment/{id}/detail"),
        format!("/payment/ofCustomer/{TOMMY}"),
    ] {
        let response = app.get(&path, &app.customer(TOMMY)).await;
        let body = error(response, StatusCode::FORBIDDEN).await;
        assert_eq!(body["code"], "FORBIDDEN", "{path}");
    }
}

#[tokio::test]
async fn a_manager_lists_payments_page_by_page_with_or_without_the_trailing_slash() {
    let app = TestApp::spawn().await;
    for n in 0..12 {
        app.payment(
            if n % 2 == 0 { TOMMY } else { VADER },
            "APPROVED",
            &[(n + 1, 1)],
        )
        .await;
    }
    let first = app.json("/payment/?pageNumber=0", &app.manager()).await;
    assert_eq!(
        first.as_array().unwrap().len(),
        10,
        "default page size is 10"
    );
    let second = app
        .json("/payment?pageNumber=1&pageSize=10", &app.manager())
        .await;
    assert_eq!(second.as_array().unwrap().len(), 2);
    assert_eq!(second[0]["products"][0]["id"], 11);

    let negative = app.get("/payment/?pageNumber=-1", &app.manager()).await;
    let body = error(negative, StatusCode::BAD_REQUEST).await;
    assert!(body["message"].as_str().unwrap().contains("pageNumber"));
    let oversize = app.get("/payment/?pageSize=101", &app.manager()).await;
    let body = error(oversize, StatusCode::BAD_REQUEST).await;
    assert!(body["message"].as_str().unwrap().contains("pageSize"));
}

#[tokio::test]
async fn a_payment_is_read_by_id_with_its_products_and_an_unknown_one_is_404() {
    let app = TestApp::spawn().await;
    let id = app.payment(TOMMY, "APPROVED", &[(4, 2), (3, 1)]).await;
    let payment = app.json(&format!("/payment/{id}"), &app.manager()).await;
    assert_eq!(payment["id"], id);
    assert_eq!(payment["customerId"], TOMMY);
    assert_eq!(payment["status"], "APPROVED");
    assert_eq!(payment["totalPrice"], 30.0);
    assert_eq!(payment["cancellationReason"], Value::Null);
    assert!(payment["createdDate"].as_str().is_some());
    assert_eq!(
        payment["products"],
        json!([
            {"id": 3, "name": "Thing", "price": 10.0, "category": "TOOL", "quantity": 1},
            {"id": 4, "name": "Thing", "price": 10.0, "category": "TOOL", "quantity": 2}
        ])
    );

    let missing = app.get("/payment/424242", &app.manager()).await;
    let body = error(missing, StatusCode::NOT_FOUND).await;
    assert_eq!(body["message"], "Payment not found!");
    let invalid = app.get("/payment/abc", &app.manager()).await;
    error(invalid, StatusCode::BAD_REQUEST).await;
    let missing_detail = app.get("/payment/424242/detail", &app.manager()).await;
    error(missing_detail, StatusCode::NOT_FOUND).await;
}

#[tokio::test]
async fn customers_see_only_their_own_payments() {
    let app = TestApp::spawn().await;
    let tommys = app.payment(TOMMY, "APPROVED", &[(1, 1)]).await;
    let vaders = app.payment(VADER, "PENDING", &[(2, 1)]).await;

    let mine = app
        .json("/payment/ofCurrentCustomer", &app.customer(TOMMY))
        .await;
    let ids: Vec<i64> = mine
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, vec![tommys]);
    let lornes = app
        .json("/payment/ofCurrentCustomer", &app.customer(LORNE))
        .await;
    assert_eq!(lornes, json!([]));

    let of_vader = app
        .json(&format!("/payment/ofCustomer/{VADER}"), &app.manager())
        .await;
    assert_eq!(of_vader.as_array().unwrap().len(), 1);
    assert_eq!(of_vader[0]["id"], vaders);
    assert_eq!(of_vader[0]["status"], "PENDING");
}

#[tokio::test]
async fn payment_detail_names_the_customer_from_the_identity_provider() {
    let app = TestApp::spawn().await;
    let id = app.payment(TOMMY, "APPROVED", &[(1, 1)]).await;
    let detail = app
        .json(&format!("/payment/{id}/detail"), &app.manager())
        .await;
    assert_eq!(detail["payment"]["id"], id);
    assert_eq!(
        detail["customer"],
        json!({"id": TOMMY, "firstName": "Tommy", "lastName": "Shelby"})
    );
}

#[tokio::test]
async fn payment_detail_answers_with_null_names_while_the_identity_provider_is_down() {
    let app = TestApp::spawn_with(Options {
        idp_url: Some("http://127.0.0.1:1".to_owned()),
        ..Options::default()
    })
    .await;
    let id = app.payment(TOMMY, "APPROVED", &[(1, 1)]).await;
    for _ in 0..2 {
        let detail = app
            .json(&format!("/payment/{id}/detail"), &app.manager())
            .await;
        assert_eq!(detail["payment"]["id"], id);
        assert_eq!(
            detail["customer"],
            json!({"id": TOMMY, "firstName": null, "lastName": null})
        );
    }
    let mut redis = app.redis().await;
    let cached: Option<String> =
        redis::AsyncCommands::get(&mut redis, format!("{}:user::{TOMMY}", app.cache.prefix))
            .await
            .unwrap();
    assert_eq!(cached, None, "the fallback is never cached");
}

#[tokio::test]
async fn the_openapi_document_lists_every_route() {
    let app = TestApp::spawn().await;
    let response = app
        .client
        .get(app.url("/payment/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let doc: Value = response.json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    for path in [
        "/payment/ping",
        "/payment/",
        "/payment/{id}",
        "/payment/{id}/detail",
        "/payment/ofCustomer/{customerId}",
        "/payment/accept",
        "/payment/cart",
        "/payment/cart/clear",
    ] {
        assert!(doc["paths"].get(path).is_some(), "{path} is documented");
    }
}

#[tokio::test]
async fn the_demo_data_is_loaded_when_asked() {
    let app = TestApp::spawn_with(Options {
        seed_demo: true,
        ..Options::default()
    })
    .await;
    let vaders = app
        .json(&format!("/payment/ofCustomer/{VADER}"), &app.manager())
        .await;
    let totals: Vec<f64> = vaders
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["totalPrice"].as_f64().unwrap())
        .collect();
    assert_eq!(totals, vec![2.5, 45.0]);
    assert_eq!(vaders[1]["products"].as_array().unwrap().len(), 2);
    let cart = app.json("/payment/cart", &app.customer(LORNE)).await;
    assert!(cart["id"].is_i64(), "lorne has an (empty) stored cart");
    assert_eq!(cart["products"], json!([]));
    // New payments continue after the demo ids.
    app.cart(TOMMY, &[(5, "Pants", "500", 1)]).await;
    assert_eq!(app.checkout(TOMMY).await, 4);
}
