//! Every endpoint over HTTP: the happy path, validation (400), authentication (401),
//! roles (403), someone else's or a missing order (404) and illegal transitions (409,
//! with nothing changed).

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{LORNE, TOMMY, TestApp, VADER, body};

async fn error(response: reqwest::Response, status: StatusCode) -> String {
    assert_eq!(response.status(), status);
    let body = body(response).await;
    assert_eq!(body["resultType"], "ERROR", "{body}");
    body["message"].as_str().unwrap_or_default().to_owned()
}

async fn success(response: reqwest::Response) -> String {
    assert_eq!(response.status(), StatusCode::OK);
    let body = body(response).await;
    assert_eq!(body["resultType"], "SUCCESS", "{body}");
    body["message"].as_str().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn ping_names_the_replica_to_any_customer() {
    let app = TestApp::spawn().await;
    let response = app.get("/order/ping", &app.customer(TOMMY)).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.text().await.unwrap(),
        "Order microservice works. Host: order-test"
    );
}

#[tokio::test]
async fn every_endpoint_requires_a_valid_token() {
    let app = TestApp::spawn().await;
    let expired = app.idp.token(&testkit::tokens::TokenSpec {
        expires_in: -600,
        ..testkit::tokens::TokenSpec::manager(VADER)
    });
    for (method, path) in [
        (Method::GET, "/order/ping"),
        (Method::GET, "/order/"),
        (Method::GET, "/order"),
        (Method::GET, "/order/ofCurrentCustomer"),
        (Method::GET, "/order/1"),
        (Method::GET, "/order/1/detail"),
        (Method::GET, "/order/ofCustomer/abc"),
        (Method::PUT, "/order/1/cancel"),
        (Method::PUT, "/order/1/ship"),
        (Method::PUT, "/order/1/deliver"),
        (Method::PUT, "/order/1/deliveryAddress"),
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
async fn customers_are_refused_the_manager_endpoints() {
    let app = TestApp::spawn().await;
    let id = app.order(TOMMY, 1, "ON_THE_WAY").await;
    let customer = app.customer(TOMMY);
    for (method, path, body) in [
        (Method::GET, "/order/".to_owned(), None),
        (Method::GET, "/order".to_owned(), None),
        (Method::GET, format!("/order/{id}"), None),
        (Method::GET, format!("/order/{id}/detail"), None),
        (Method::GET, format!("/order/ofCustomer/{TOMMY}"), None),
        (Method::PUT, format!("/order/{id}/ship"), None),
        (
            Method::PUT,
            format!("/order/{id}/deliver"),
            Some(json!({"recipient": "Tommy"})),
        ),
    ] {
        let response = app
            .send(method.clone(), &path, &customer, body.as_ref())
            .await;
        let message = error(response, StatusCode::FORBIDDEN).await;
        assert!(message.contains("MANAGER"), "{method} {path}: {message}");
    }
    assert_eq!(app.stored(id).await.0, "ON_THE_WAY", "nothing changed");
}

#[tokio::test]
async fn managers_page_through_all_orders_at_both_paths() {
    let app = TestApp::spawn().await;
    for payment in 1..=3 {
        app.order(
            if payment == 2 { TOMMY } else { VADER },
            payment,
            "PREPARING",
        )
        .await;
    }
    let all = body(app.get("/order/?pageNumber=0", &app.manager()).await).await;
    assert_eq!(all.as_array().unwrap().len(), 3);
    assert_eq!(all[1]["customerId"], TOMMY);
    let page = body(
        app.get("/order?pageNumber=1&pageSize=2", &app.manager())
            .await,
    )
    .await;
    assert_eq!(page.as_array().unwrap().len(), 1);
    assert_eq!(page[0]["paymentId"], 3);

    for (query, field) in [
        ("pageNumber=-1", "pageNumber"),
        ("pageNumber=0&pageSize=0", "pageSize"),
        ("pageNumber=0&pageSize=101", "pageSize"),
        ("pageNumber=abc", "pageNumber"),
    ] {
        let message = error(
            app.get(&format!("/order/?{query}"), &app.manager()).await,
            StatusCode::BAD_REQUEST,
        )
        .await;
        assert!(message.contains(field), "{query}: {message}");
    }
}

#[tokio::test]
async fn an_order_has_the_original_shape_with_a_null_cancellation_until_cancelled() {
    let app = TestApp::spawn().await;
    let id = app.order(TOMMY, 42, "PREPARING").await;
    let response = app.get(&format!("/order/{id}"), &app.manager()).await;
    assert_eq!(response.status(), StatusCode::OK);
    let order = body(response).await;
    assert_eq!(order["id"], id);
    assert_eq!(order["status"], "PREPARING");
    assert_eq!(order["customerId"], TOMMY);
    assert_eq!(order["paymentId"], 42);
    assert_eq!(order["address"], "3841 birmingham, uk");
    assert!(
        chrono::DateTime::parse_from_rfc3339(order["createdDate"].as_str().unwrap()).is_ok(),
        "{order}"
    );
    assert_eq!(order["cancellation"], Value::Null);
    assert_eq!(order["recipient"], Value::Null);

    let missing = error(
        app.get("/order/424242", &app.manager()).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    assert_eq!(missing, "Order not found!");
    let malformed = error(
        app.get("/order/abc", &app.manager()).await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert!(malformed.contains("invalid path"), "{malformed}");
}

#[tokio::test]
async fn customers_see_only_their_own_orders_and_managers_see_anyones() {
    let app = TestApp::spawn().await;
    app.order(VADER, 1, "DELIVERED").await;
    app.order(TOMMY, 2, "ON_THE_WAY").await;
    app.order(VADER, 3, "PREPARING").await;
    let mine = body(
        app.get("/order/ofCurrentCustomer", &app.customer(VADER))
            .await,
    )
    .await;
    let payments: Vec<i64> = mine
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["paymentId"].as_i64().unwrap())
        .collect();
    assert_eq!(payments, [1, 3]);
    let none = body(
        app.get("/order/ofCurrentCustomer", &app.customer(LORNE))
            .await,
    )
    .await;
    assert_eq!(none, json!([]));

    let tommys = body(
        app.get(&format!("/order/ofCustomer/{TOMMY}"), &app.manager())
            .await,
    )
    .await;
    assert_eq!(tommys.as_array().unwrap().len(), 1);
    assert_eq!(tommys[0]["status"], "ON_THE_WAY");
    assert_eq!(tommys[0]["customerId"], TOMMY);
}

#[tokio::test]
async fn a_customer_cancels_a_preparing_or_shipped_order_with_a_named_reason() {
    let app = TestApp::spawn().await;
    for status in ["PREPARING", "ON_THE_WAY"] {
        let id = app
            .order(TOMMY, if status == "PREPARING" { 1 } else { 2 }, status)
            .await;
        let message = success(
            app.put(
                &format!("/order/{id}/cancel"),
                &app.customer(TOMMY),
                Some(json!({"cancellationReason": "FOUND_BETTER_ALTERNATIVE", "explanation": "cheaper elsewhere"})),
            )
            .await,
        )
        .await;
        assert_eq!(message, "Your order is cancelled.");
        let (status, _, reason, explanation, _, version) = app.stored(id).await;
        assert_eq!(status, "CANCELLED");
        assert_eq!(reason.as_deref(), Some("FOUND_BETTER_ALTERNATIVE"));
        assert_eq!(explanation.as_deref(), Some("cheaper elsewhere"));
        assert_eq!(version, 1);
        let order = body(app.get(&format!("/order/{id}"), &app.manager()).await).await;
        assert_eq!(
            order["cancellation"],
            json!({"cancellationReason": "FOUND_BETTER_ALTERNATIVE", "explanation": "cheaper elsewhere"})
        );
    }
}

#[tokio::test]
async fn a_delivered_or_cancelled_order_cannot_be_cancelled_and_nothing_changes() {
    let app = TestApp::spawn().await;
    for (payment, status) in [(1, "DELIVERED"), (2, "CANCELLED")] {
        let id = app.order(TOMMY, payment, status).await;
        let before = app.stored(id).await;
        let message = error(
            app.put(
                &format!("/order/{id}/cancel"),
                &app.customer(TOMMY),
                Some(json!({"cancellationReason": "DELIVERY_TOOK_TOO_LONG"})),
            )
            .await,
            StatusCode::CONFLICT,
        )
        .await;
        assert_eq!(
            message,
            "Your order must either being prepared or on it's way to cancel."
        );
        assert_eq!(app.stored(id).await, before);
    }
    assert!(
        app.outbox().await.is_empty(),
        "no event for a refused cancel"
    );
}

#[tokio::test]
async fn cancel_rejects_each_invalid_field_by_name() {
    let app = TestApp::spawn().await;
    let id = app.order(TOMMY, 1, "PREPARING").await;
    let path = format!("/order/{id}/cancel");
    for (body, field) in [
        (
            json!({"cancellationReason": "I found a better alternative."}),
            "cancellationReason",
        ),
        (json!({"cancellationReason": "BORED"}), "cancellationReason"),
        (
            json!({"explanation": "no reason given"}),
            "cancellationReason",
        ),
        (json!({"cancellationReason": 3}), "cancellationReason"),
        (
            json!({"cancellationReason": "DONT_NEED_ANYMORE", "explanation": "x".repeat(501)}),
            "explanation",
        ),
    ] {
        let message = error(
            app.put(&path, &app.customer(TOMMY), Some(body.clone()))
                .await,
            StatusCode::BAD_REQUEST,
        )
        .await;
        assert!(message.contains(field), "{body}: {message}");
    }
    let malformed = app
        .client
        .put(app.url(&path))
        .bearer_auth(app.customer(TOMMY))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status(), StatusCode::BAD_REQUEST);
    assert_eq!(app.stored(id).await.0, "PREPARING");
}

#[tokio::test]
async fn a_customer_cannot_touch_someone_elses_order_or_a_missing_one() {
    let app = TestApp::spawn().await;
    let vaders = app.order(VADER, 1, "PREPARING").await;
    for (path, body) in [
        (
            format!("/order/{vaders}/cancel"),
            json!({"cancellationReason": "DONT_NEED_ANYMORE"}),
        ),
        (
            format!("/order/{vaders}/deliveryAddress"),
            json!({"address": "somewhere else"}),
        ),
        (
            "/order/424242/cancel".to_owned(),
            json!({"cancellationReason": "DONT_NEED_ANYMORE"}),
        ),
        (
            "/order/424242/deliveryAddress".to_owned(),
            json!({"address": "somewhere else"}),
        ),
    ] {
        let message = error(
            app.put(&path, &app.customer(TOMMY), Some(body)).await,
            StatusCode::NOT_FOUND,
        )
        .await;
        assert_eq!(message, "Order not found!", "{path}");
    }
    let stored = app.stored(vaders).await;
    assert_eq!(stored.0, "PREPARING");
    assert_eq!(stored.1, "3841 birmingham, uk");
}

#[tokio::test]
async fn a_manager_ships_then_delivers_an_order() {
    let app = TestApp::spawn().await;
    let id = app.order(TOMMY, 1, "PREPARING").await;
    let shipped = success(
        app.put(&format!("/order/{id}/ship"), &app.manager(), None)
            .await,
    )
    .await;
    assert_eq!(shipped, "The order is on its way.");
    assert_eq!(app.stored(id).await.0, "ON_THE_WAY");
    let delivered = success(
        app.put(
            &format!("/order/{id}/deliver"),
            &app.manager(),
            Some(json!({"recipient": "Judge Holden"})),
        )
        .await,
    )
    .await;
    assert_eq!(delivered, "The order is delivered to Judge Holden");
    let order = body(app.get(&format!("/order/{id}"), &app.manager()).await).await;
    assert_eq!(order["status"], "DELIVERED");
    assert_eq!(order["recipient"], "Judge Holden");
    assert_eq!(app.stored(id).await.5, 2, "two versions later");
}

#[tokio::test]
async fn only_a_preparing_order_ships_and_nothing_changes_otherwise() {
    let app = TestApp::spawn().await;
    for (payment, status) in [(1, "ON_THE_WAY"), (2, "DELIVERED"), (3, "CANCELLED")] {
        let id = app.order(TOMMY, payment, status).await;
        let before = app.stored(id).await;
        let message = error(
            app.put(&format!("/order/{id}/ship"), &app.manager(), None)
                .await,
            StatusCode::CONFLICT,
        )
        .await;
        assert_eq!(message, "The order must be in preparation to ship.");
        assert_eq!(app.stored(id).await, before, "{status}");
    }
    let missing = error(
        app.put("/order/424242/ship", &app.manager(), None).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    assert_eq!(missing, "Order not found!");
}

#[tokio::test]
async fn only_an_order_on_its_way_is_delivered_and_nothing_changes_otherwise() {
    let app = TestApp::spawn().await;
    for (payment, status) in [(1, "PREPARING"), (2, "DELIVERED"), (3, "CANCELLED")] {
        let id = app.order(TOMMY, payment, status).await;
        let before = app.stored(id).await;
        let message = error(
            app.put(
                &format!("/order/{id}/deliver"),
                &app.manager(),
                Some(json!({"recipient": "Tommy"})),
            )
            .await,
            StatusCode::CONFLICT,
        )
        .await;
        assert_eq!(message, "The order must be on it's way to deliver.");
        assert_eq!(app.stored(id).await, before, "{status}");
    }
    let missing = error(
        app.put(
            "/order/424242/deliver",
            &app.manager(),
            Some(json!({"recipient": "Tommy"})),
        )
        .await,
        StatusCode::NOT_FOUND,
    )
    .await;
    assert_eq!(missing, "Order not found!");
}

#[tokio::test]
async fn deliver_rejects_a_missing_blank_or_oversize_recipient() {
    let app = TestApp::spawn().await;
    let id = app.order(TOMMY, 1, "ON_THE_WAY").await;
    for body in [
        json!({}),
        json!({"recipient": "   "}),
        json!({"recipient": "r".repeat(101)}),
        json!({"recipient": 7}),
    ] {
        let message = error(
            app.put(
                &format!("/order/{id}/deliver"),
                &app.manager(),
                Some(body.clone()),
            )
            .await,
            StatusCode::BAD_REQUEST,
        )
        .await;
        assert!(message.contains("recipient"), "{body}: {message}");
    }
    assert_eq!(app.stored(id).await.0, "ON_THE_WAY");
}

#[tokio::test]
async fn a_customer_changes_the_address_of_a_preparing_order_only() {
    let app = TestApp::spawn().await;
    let id = app.order(TOMMY, 1, "PREPARING").await;
    let message = success(
        app.put(
            &format!("/order/{id}/deliveryAddress"),
            &app.customer(TOMMY),
            Some(json!({"address": "38234 oslo, norway"})),
        )
        .await,
    )
    .await;
    assert_eq!(
        message,
        "Your delivery address is updated successfully. New address: 38234 oslo, norway"
    );
    assert_eq!(app.stored(id).await.1, "38234 oslo, norway");

    for (payment, status) in [(2, "ON_THE_WAY"), (3, "DELIVERED"), (4, "CANCELLED")] {
        let other = app.order(TOMMY, payment, status).await;
        let before = app.stored(other).await;
        let message = error(
            app.put(
                &format!("/order/{other}/deliveryAddress"),
                &app.customer(TOMMY),
                Some(json!({"address": "nowhere"})),
            )
            .await,
            StatusCode::CONFLICT,
        )
        .await;
        assert_eq!(
            message,
            "Your order must be in preparation to change the delivery address."
        );
        assert_eq!(app.stored(other).await, before, "{status}");
    }
}

#[tokio::test]
async fn delivery_address_rejects_a_missing_blank_or_oversize_address() {
    let app = TestApp::spawn().await;
    let id = app.order(TOMMY, 1, "PREPARING").await;
    for body in [
        json!({}),
        json!({"address": ""}),
        json!({"address": "a".repeat(201)}),
    ] {
        let message = error(
            app.put(
                &format!("/order/{id}/deliveryAddress"),
                &app.customer(TOMMY),
                Some(body.clone()),
            )
            .await,
            StatusCode::BAD_REQUEST,
        )
        .await;
        assert!(message.contains("address"), "{body}: {message}");
    }
    assert_eq!(app.stored(id).await.1, "3841 birmingham, uk");
}

#[tokio::test]
async fn the_openapi_document_lists_every_route() {
    let app = TestApp::spawn().await;
    let response = app
        .client
        .get(app.url("/order/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let doc = body(response).await;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    for path in [
        "/order/ping",
        "/order/",
        "/order/ofCurrentCustomer",
        "/order/{id}",
        "/order/{id}/detail",
        "/order/ofCustomer/{customerId}",
        "/order/{id}/cancel",
        "/order/{id}/ship",
        "/order/{id}/deliver",
        "/order/{id}/deliveryAddress",
    ] {
        assert!(doc["paths"][path].is_object(), "{path} missing");
    }
}

#[tokio::test]
async fn readiness_checks_the_database_broker_and_cache() {
    let app = TestApp::spawn().await;
    // The broker connects in the background; readiness reports it UP once it has.
    testkit::until_ready(&app.client, &app.base, crate::helpers::DEADLINE).await;
    let (status, report) = app.readiness().await;
    assert_eq!(status, StatusCode::OK);
    for check in ["database", "broker", "cache"] {
        assert_eq!(report["checks"][check]["status"], "UP", "{report}");
    }
}

#[tokio::test]
async fn the_demo_orders_load_on_request_and_new_orders_continue_after_them() {
    let app = TestApp::spawn_with(crate::helpers::Options {
        seed_demo: true,
        ..crate::helpers::Options::default()
    })
    .await;
    let all = body(app.get("/order/?pageNumber=0", &app.manager()).await).await;
    let summary: Vec<(i64, &str, &str, i64)> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            (
                o["id"].as_i64().unwrap(),
                o["status"].as_str().unwrap(),
                o["customerId"].as_str().unwrap(),
                o["paymentId"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (1, "DELIVERED", VADER, 1),
            (2, "ON_THE_WAY", TOMMY, 2),
            (3, "PREPARING", VADER, 3)
        ]
    );
    assert_eq!(all[0]["recipient"], "Judge Holden");
    let next = app.order(LORNE, 4, "PREPARING").await;
    assert_eq!(next, 4, "the id sequence was moved past the demo orders");
}
