//! Every endpoint over HTTP with real tokens: happy paths, 401, 403, 404, 400, 413, 415.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use testkit::tokens::{AUDIENCE, ISSUER, TokenSpec};

use crate::helpers::TestApp;

async fn body(response: reqwest::Response) -> Value {
    response.json().await.expect("JSON body")
}

#[tokio::test]
async fn a_manager_creates_a_product_and_gets_201_with_it() {
    let app = TestApp::spawn().await;
    let response = app
        .send_json(
            Method::POST,
            "/inventory/product",
            &app.manager(),
            &json!({"name": "Light Saber", "price": 13.5, "category": "ELECTRONICS", "quantity": 3}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    assert!(response.headers().contains_key("x-request-id"));
    assert_eq!(response.headers()["x-instance"], "inventory-test");
    let product = body(response).await;
    assert_eq!(product["name"], "Light Saber");
    assert_eq!(product["price"], 13.5);
    assert_eq!(product["category"], "ELECTRONICS");
    assert_eq!(product["quantity"], 3);
    assert!(product.get("isAvailableInRegion").is_none());
    let id = product["id"].as_i64().unwrap();
    let fetched = body(
        app.get(&format!("/inventory/product/{id}"), &app.customer())
            .await,
    )
    .await;
    assert_eq!(fetched, product);
}

#[tokio::test]
async fn listing_pages_and_reading_by_ids_work() {
    let app = TestApp::spawn().await;
    let mut ids = Vec::new();
    for i in 0..12 {
        ids.push(app.product(&format!("p{i}"), "1.50", 5).await);
    }
    let first = body(
        app.get("/inventory/product?pageNumber=0", &app.customer())
            .await,
    )
    .await;
    assert_eq!(
        first.as_array().unwrap().len(),
        10,
        "default page size is 10"
    );
    let second = body(
        app.get(
            "/inventory/product?pageNumber=1&pageSize=10",
            &app.customer(),
        )
        .await,
    )
    .await;
    assert_eq!(second.as_array().unwrap().len(), 2);
    let path = format!("/inventory/product/ids?ids={},{},999999", ids[0], ids[1]);
    let some = body(app.get(&path, &app.customer()).await).await;
    let got: Vec<i64> = some
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_i64().unwrap())
        .collect();
    assert_eq!(got, vec![ids[0], ids[1]], "only the ids that exist");
}

#[tokio::test]
async fn ping_names_the_replica() {
    let app = TestApp::spawn().await;
    let response = app.get("/inventory/ping", &app.customer()).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.text().await.unwrap(),
        "Inventory microservice works. Host: inventory-test"
    );
}

#[tokio::test]
async fn availability_checks_region_then_stock() {
    let app = TestApp::spawn().await;
    let id = app.product("Desk", "25", 3).await;
    let ok = body(
        app.get(
            &format!("/inventory/product/{id}/isAvailable?quantity=3"),
            &app.customer(),
        )
        .await,
    )
    .await;
    assert_eq!(ok, json!({"isAvailable": true, "unavailableReason": null}));
    let short = body(
        app.get(
            &format!("/inventory/product/{id}/isAvailable?quantity=4"),
            &app.customer(),
        )
        .await,
    )
    .await;
    assert_eq!(
        short,
        json!({"isAvailable": false, "unavailableReason": "NOT_IN_STOCKS"})
    );

    let changed = app
        .send_json(
            Method::POST,
            "/inventory/product/changeAvailability",
            &app.manager(),
            &json!({"id": id, "availability": false}),
        )
        .await;
    assert_eq!(changed.status(), StatusCode::OK);
    assert_eq!(
        body(changed).await,
        json!({"isAvailable": false, "unavailableReason": "NOT_AVAILABLE_IN_REGION"})
    );
    let region = body(
        app.get(
            &format!("/inventory/product/{id}/isAvailable?quantity=1"),
            &app.customer(),
        )
        .await,
    )
    .await;
    assert_eq!(region["unavailableReason"], "NOT_AVAILABLE_IN_REGION");
}

#[tokio::test]
async fn update_keeps_the_region_flag_and_delete_ignores_missing_ids() {
    let app = TestApp::spawn().await;
    let id = app.product("Clipper", "2.5", 1).await;
    let updated = app
        .send_json(
            Method::PUT,
            "/inventory/product",
            &app.manager(),
            &json!({"id": id, "name": "Dark Saber", "price": 15, "category": "ELECTRONICS", "quantity": 9}),
        )
        .await;
    assert_eq!(updated.status(), StatusCode::OK);
    assert_eq!(
        body(updated).await,
        json!({"id": id, "name": "Dark Saber", "price": 15.0, "category": "ELECTRONICS", "quantity": 9})
    );

    let other = app.product("Pants", "500", 7).await;
    let deleted = app
        .client
        .delete(app.url(&format!("/inventory/product/{id}")))
        .bearer_auth(app.manager())
        .send()
        .await
        .unwrap();
    assert_eq!(
        body(deleted).await,
        json!({"message": "Product is deleted successfully.", "resultType": "SUCCESS"})
    );
    let many = app
        .client
        .delete(app.url(&format!("/inventory/product/ids?ids={other},424242")))
        .bearer_auth(app.manager())
        .send()
        .await
        .unwrap();
    assert_eq!(
        body(many).await["message"],
        "Products are deleted successfully."
    );
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM product")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(left, 0);
}

#[tokio::test]
async fn add_to_cart_answers_success_and_refuses_what_cannot_be_bought() {
    let app = TestApp::spawn().await;
    let id = app.product("Laptop", "3000", 5).await;
    let ok = app
        .send_json(
            Method::POST,
            &format!("/inventory/product/{id}/addToCart"),
            &app.customer(),
            &json!({"quantity": 2}),
        )
        .await;
    assert_eq!(ok.status(), StatusCode::OK);
    assert_eq!(
        body(ok).await,
        json!({"message": "Product is added to the cart.", "resultType": "SUCCESS"})
    );
    let too_many = app
        .send_json(
            Method::POST,
            &format!("/inventory/product/{id}/addToCart"),
            &app.customer(),
            &json!({"quantity": 6}),
        )
        .await;
    assert_eq!(too_many.status(), StatusCode::CONFLICT);
    let message = body(too_many).await["message"].as_str().unwrap().to_owned();
    assert!(
        message.starts_with("The product is not available. Reason:"),
        "{message}"
    );
}

#[tokio::test]
async fn requests_without_a_valid_token_get_401() {
    let app = TestApp::spawn().await;
    let path = "/inventory/product?pageNumber=0";
    let missing = app.client.get(app.url(path)).send().await.unwrap();
    assert_eq!(missing.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(missing.headers()["www-authenticate"], "Bearer");
    assert_eq!(body(missing).await["code"], "UNAUTHORIZED");

    let subject = "c908ce9d-faec-4570-b84d-71a4e77f2f4a";
    let broken = [
        (
            "expired",
            TokenSpec {
                expires_in: -120,
                ..TokenSpec::customer(subject)
            },
        ),
        (
            "badly signed",
            TokenSpec {
                rogue_signature: true,
                ..TokenSpec::customer(subject)
            },
        ),
        (
            "wrong issuer",
            TokenSpec {
                issuer: "http://evil.test/realms/ironvessel".to_owned(),
                ..TokenSpec::customer(subject)
            },
        ),
        (
            "wrong audience",
            TokenSpec {
                audience: "someone-else".to_owned(),
                ..TokenSpec::customer(subject)
            },
        ),
    ];
    for (what, spec) in broken {
        let response = app.get(path, &app.idp.token(&spec)).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{what} token");
        assert_eq!(body(response).await["code"], "UNAUTHORIZED", "{what} token");
    }
    let garbage = app.get(path, "not-a-jwt").await;
    assert_eq!(garbage.status(), StatusCode::UNAUTHORIZED);
    // The valid token still works with the same issuer and audience.
    assert_eq!(ISSUER, app.idp.auth_config().issuer);
    assert_eq!(AUDIENCE, app.idp.auth_config().audience);
    assert_eq!(
        app.get(path, &app.customer()).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_customer_on_a_manager_endpoint_gets_403() {
    let app = TestApp::spawn().await;
    let id = app.product("Desk", "25", 3).await;
    let customer = app.customer();
    let attempts = [
        app.send_json(
            Method::POST,
            "/inventory/product",
            &customer,
            &json!({"name": "x", "price": 1, "category": "TOOL", "quantity": 1}),
        )
        .await,
        app.send_json(
            Method::PUT,
            "/inventory/product",
            &customer,
            &json!({"id": id, "name": "x", "price": 1, "category": "TOOL", "quantity": 1}),
        )
        .await,
        app.send_json(
            Method::POST,
            "/inventory/product/changeAvailability",
            &customer,
            &json!({"id": id, "availability": false}),
        )
        .await,
        app.client
            .delete(app.url(&format!("/inventory/product/{id}")))
            .bearer_auth(&customer)
            .send()
            .await
            .unwrap(),
        app.client
            .delete(app.url(&format!("/inventory/product/ids?ids={id}")))
            .bearer_auth(&customer)
            .send()
            .await
            .unwrap(),
    ];
    for response in attempts {
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        assert_eq!(body(response).await["code"], "FORBIDDEN");
    }
    assert_eq!(app.stock(id).await, 3, "nothing changed");
}

#[tokio::test]
async fn unknown_products_and_routes_get_404() {
    let app = TestApp::spawn().await;
    let get = app.get("/inventory/product/424242", &app.customer()).await;
    assert_eq!(get.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        body(get).await,
        json!({"message": "Product not found!", "resultType": "ERROR", "code": "NOT_FOUND"})
    );
    let responses = [
        app.get(
            "/inventory/product/424242/isAvailable?quantity=1",
            &app.customer(),
        )
        .await,
        app.send_json(
            Method::POST,
            "/inventory/product/424242/addToCart",
            &app.customer(),
            &json!({"quantity": 1}),
        )
        .await,
        app.send_json(
            Method::PUT,
            "/inventory/product",
            &app.manager(),
            &json!({"id": 424242, "name": "x", "price": 1, "category": "TOOL", "quantity": 1}),
        )
        .await,
        app.send_json(
            Method::POST,
            "/inventory/product/changeAvailability",
            &app.manager(),
            &json!({"id": 424242, "availability": true}),
        )
        .await,
        app.get("/inventory/nothing-here", &app.customer()).await,
    ];
    for response in responses {
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        assert_eq!(body(response).await["code"], "NOT_FOUND");
    }
}

#[tokio::test]
async fn each_bad_input_gets_400_naming_the_field() {
    let app = TestApp::spawn().await;
    let id = app.product("Desk", "25", 3).await;
    let manager = app.manager();
    let long_name = "x".repeat(1000);
    let bodies = [
        (
            json!({"name": "Saber", "price": -1, "category": "TOOL", "quantity": 1}),
            "price",
        ),
        (
            json!({"name": "Saber", "price": 1, "category": "TOOL", "quantity": -1}),
            "quantity",
        ),
        (
            json!({"name": "", "price": 1, "category": "TOOL", "quantity": 1}),
            "name",
        ),
        (
            json!({"name": "   ", "price": 1, "category": "TOOL", "quantity": 1}),
            "name",
        ),
        (
            json!({"name": long_name, "price": 1, "category": "TOOL", "quantity": 1}),
            "name",
        ),
        (
            json!({"name": "Saber", "price": 1, "category": "FOOD", "quantity": 1}),
            "category",
        ),
        (
            json!({"name": "Saber", "category": "TOOL", "quantity": 1}),
            "price",
        ),
        (
            json!({"name": "Saber", "price": "cheap", "category": "TOOL", "quantity": 1}),
            "price",
        ),
    ];
    for (request, field) in bodies {
        let response = app
            .send_json(Method::POST, "/inventory/product", &manager, &request)
            .await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{request}");
        let error = body(response).await;
        assert_eq!(error["code"], "VALIDATION");
        assert_eq!(error["resultType"], "ERROR");
        let message = error["message"].as_str().unwrap();
        assert!(
            message.contains(field),
            "message {message:?} should name {field}"
        );
    }

    let zero = app
        .send_json(
            Method::POST,
            &format!("/inventory/product/{id}/addToCart"),
            &app.customer(),
            &json!({"quantity": 0}),
        )
        .await;
    assert_eq!(zero.status(), StatusCode::BAD_REQUEST);
    assert!(
        body(zero).await["message"]
            .as_str()
            .unwrap()
            .contains("quantity")
    );

    let malformed = app
        .client
        .post(app.url("/inventory/product"))
        .bearer_auth(&manager)
        .header("content-type", "application/json")
        .body("{\"name\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status(), StatusCode::BAD_REQUEST);
    assert!(
        body(malformed).await["message"]
            .as_str()
            .unwrap()
            .contains("malformed JSON")
    );

    let queries = [
        ("/inventory/product/ids?ids=1,x,3", "ids"),
        (
            "/inventory/product?pageNumber=0&pageSize=100000",
            "pageSize",
        ),
        ("/inventory/product?pageNumber=-1", "pageNumber"),
        ("/inventory/product?pageNumber=abc", "pageNumber"),
        ("/inventory/product/abc", "path"),
    ];
    for (path, field) in queries {
        let response = app.get(path, &app.customer()).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{path}");
        let message = body(response).await["message"].as_str().unwrap().to_owned();
        assert!(
            message.contains(field),
            "{path}: {message:?} should name {field}"
        );
    }
    let quantity = app
        .get(
            &format!("/inventory/product/{id}/isAvailable?quantity=0"),
            &app.customer(),
        )
        .await;
    assert_eq!(quantity.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn oversize_and_non_json_bodies_get_413_and_415() {
    let app = TestApp::spawn().await;
    let huge =
        json!({"name": "x".repeat(64 * 1024), "price": 1, "category": "TOOL", "quantity": 1});
    let response = app
        .send_json(Method::POST, "/inventory/product", &app.manager(), &huge)
        .await;
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(body(response).await["code"], "PAYLOAD_TOO_LARGE");
    let text = app
        .client
        .post(app.url("/inventory/product"))
        .bearer_auth(app.manager())
        .header("content-type", "text/plain")
        .body("name=x")
        .send()
        .await
        .unwrap();
    assert_eq!(text.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
}

#[tokio::test]
async fn the_openapi_document_describes_every_route() {
    let app = TestApp::spawn().await;
    let doc = body(
        app.client
            .get(app.url("/inventory/openapi.json"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    let paths = doc["paths"].as_object().unwrap();
    for path in [
        "/inventory/ping",
        "/inventory/product",
        "/inventory/product/{id}",
        "/inventory/product/ids",
        "/inventory/product/{id}/isAvailable",
        "/inventory/product/changeAvailability",
        "/inventory/product/{id}/addToCart",
    ] {
        assert!(paths.contains_key(path), "missing {path}");
    }
}
