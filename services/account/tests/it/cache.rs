//! The caches: address pages per customer and page, evicted by every address write; the
//! `user` and `users` caches, evicted by enabling or disabling; the other services'
//! answers; and Redis being down.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;
use wiremock::{Mock, ResponseTemplate, matchers::path};

use crate::{
    fake_keycloak::{LORNE, TOMMY},
    helpers::{Options, TestApp, body, header},
};

async fn read(app: &TestApp, path: &str, token: &str) -> (String, Value) {
    let response = app.get(path, token).await;
    assert_eq!(response.status(), StatusCode::OK, "{path}");
    let cache = header(&response, "x-cache");
    (cache, body(response).await)
}

fn names(page: &Value) -> Vec<&str> {
    page.as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn address_pages_are_cached_per_customer_and_page() {
    let app = TestApp::spawn().await;
    let token = app.customer_token(&Uuid::new_v4().to_string());
    app.add_address(&token, "home", "birmingham").await;
    app.add_address(&token, "work", "london").await;
    let first = "/account/address?pageNumber=0&pageSize=1";
    let second = "/account/address?pageNumber=1&pageSize=1";

    assert_eq!(read(&app, first, &token).await.0, "MISS");
    let (cache, page) = read(&app, first, &token).await;
    assert_eq!(cache, "HIT");
    assert_eq!(names(&page), vec!["home"]);
    let (cache, page) = read(&app, second, &token).await;
    assert_eq!(
        cache, "MISS",
        "another page is another entry (reference §13.3)"
    );
    assert_eq!(names(&page), vec!["work"]);
    assert_eq!(read(&app, second, &token).await.0, "HIT");

    let other = app.customer_token(&Uuid::new_v4().to_string());
    let (cache, page) = read(&app, first, &other).await;
    assert_eq!(cache, "MISS");
    assert_eq!(page, json!([]));
}

#[tokio::test]
async fn every_address_write_is_seen_at_once_on_every_page() {
    let app = TestApp::spawn().await;
    let token = app.customer_token(&Uuid::new_v4().to_string());
    let home = app.add_address(&token, "home", "birmingham").await;
    let all = "/account/address";
    let second = "/account/address?pageNumber=1&pageSize=1";
    read(&app, all, &token).await;
    read(&app, second, &token).await;
    assert_eq!(read(&app, all, &token).await.0, "HIT");

    let work = app.add_address(&token, "work", "london").await;
    let (cache, page) = read(&app, all, &token).await;
    assert_eq!(cache, "MISS", "adding evicted the first page");
    assert_eq!(names(&page), vec!["home", "work"]);
    let (cache, page) = read(&app, second, &token).await;
    assert_eq!(cache, "MISS", "and every other page");
    assert_eq!(names(&page), vec!["work"]);

    let renamed = app
        .send(
            Method::PUT,
            "/account/address",
            &token,
            Some(&json!({"id": work["id"], "name": "office", "country": "uk", "city": "london", "zipCode": "E1"})),
        )
        .await;
    assert_eq!(renamed.status(), StatusCode::OK);
    assert_eq!(
        names(&read(&app, all, &token).await.1),
        vec!["home", "office"]
    );

    app.send(
        Method::PUT,
        &format!("/account/address/{}/setPrimary", work["id"]),
        &token,
        None,
    )
    .await;
    let (cache, page) = read(&app, all, &token).await;
    assert_eq!(cache, "MISS");
    assert_eq!(page[1]["isPrimary"], true);
    assert_eq!(page[0]["isPrimary"], false);

    app.send(
        Method::DELETE,
        &format!("/account/address/{}", home["id"]),
        &token,
        None,
    )
    .await;
    let (cache, page) = read(&app, all, &token).await;
    assert_eq!(cache, "MISS");
    assert_eq!(names(&page), vec!["office"]);
}

#[tokio::test]
async fn a_failed_write_keeps_the_cached_pages() {
    let app = TestApp::spawn().await;
    let token = app.customer_token(&Uuid::new_v4().to_string());
    app.add_address(&token, "home", "birmingham").await;
    read(&app, "/account/address", &token).await;
    let duplicate = app
        .send(
            Method::POST,
            "/account/address",
            &token,
            Some(&json!({"name": "home", "country": "uk", "city": "b", "zipCode": "1"})),
        )
        .await;
    assert_eq!(duplicate.status(), StatusCode::CONFLICT);
    assert_eq!(read(&app, "/account/address", &token).await.0, "HIT");
}

#[tokio::test]
async fn deactivating_a_customer_evicts_them_and_every_slice_of_the_list() {
    let app = TestApp::spawn().await;
    let manager = app.manager();
    let one = format!("/account/customer/{LORNE}");
    let slices = [
        "/account/customer?start=0",
        "/account/customer?start=1&end=2",
    ];
    assert_eq!(read(&app, &one, &manager).await.0, "MISS");
    assert_eq!(read(&app, &one, &manager).await.0, "HIT");
    for slice in slices {
        assert_eq!(read(&app, slice, &manager).await.0, "MISS");
        assert_eq!(read(&app, slice, &manager).await.0, "HIT");
    }
    let lookups = app
        .keycloak
        .requests("GET", &format!("/admin/realms/ironvessel/users/{LORNE}"))
        .await
        .len();
    assert_eq!(lookups, 1, "the hit did not ask the identity provider");

    let response = app
        .send(Method::PUT, &format!("{one}/deactivate"), &manager, None)
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(read(&app, &one, &manager).await.0, "MISS");
    for slice in slices {
        assert_eq!(read(&app, slice, &manager).await.0, "MISS", "{slice}");
    }
    // The other customers' entries are untouched.
    let tommy = format!("/account/customer/{TOMMY}");
    read(&app, &tommy, &manager).await;
    app.send(Method::PUT, &format!("{one}/activate"), &manager, None)
        .await;
    assert_eq!(read(&app, &tommy, &manager).await.0, "HIT");
    assert_eq!(read(&app, &one, &manager).await.0, "MISS");
}

#[tokio::test]
async fn the_other_services_answers_are_cached() {
    let app = TestApp::spawn().await;
    Mock::given(path(format!("/order/ofCustomer/{TOMMY}")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([
            {"id": 1, "status": "PREPARING", "paymentId": 3, "address": "a", "createdDate": "2026-11-22T10:00:00", "cancellation": null, "recipient": null}
        ])))
        .mount(&app.orders)
        .await;
    Mock::given(path(format!("/payment/ofCustomer/{TOMMY}")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([
            {"id": 3, "totalPrice": 12.5, "status": "APPROVED", "createdDate": "2026-11-22T09:59:00"}
        ])))
        .mount(&app.payments)
        .await;
    let detail = format!("/account/customer/{TOMMY}/detail");
    let first = read(&app, &detail, &app.manager()).await.1;
    let second = read(&app, &detail, &app.manager()).await.1;
    assert_eq!(first, second);
    assert_eq!(second["orders"][0]["id"], 1);
    assert_eq!(second["payments"][0]["totalPrice"], 12.5);
    assert_eq!(app.orders.received_requests().await.unwrap().len(), 1);
    assert_eq!(app.payments.received_requests().await.unwrap().len(), 1);
}

#[tokio::test]
async fn reads_and_writes_work_from_the_sources_when_redis_is_unreachable() {
    let app = TestApp::spawn_with(Options {
        redis_url: Some("redis://127.0.0.1:1".to_owned()),
        ..Options::default()
    })
    .await;
    let token = app.customer_token(&Uuid::new_v4().to_string());
    app.add_address(&token, "home", "birmingham").await;
    for _ in 0..2 {
        let (cache, page) = read(&app, "/account/address", &token).await;
        assert_eq!(cache, "MISS");
        assert_eq!(names(&page), vec!["home"]);
        let (cache, customer) =
            read(&app, &format!("/account/customer/{TOMMY}"), &app.manager()).await;
        assert_eq!(cache, "MISS");
        assert_eq!(customer["firstName"], "Thomas");
    }
    app.add_address(&token, "work", "london").await;
    assert_eq!(
        names(&read(&app, "/account/address", &token).await.1),
        vec!["home", "work"]
    );
    let report = app.readiness().await.1;
    assert_eq!(report["status"], "DEGRADED");
    assert_eq!(report["checks"]["cache"]["status"], "DOWN");
}
