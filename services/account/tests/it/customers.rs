//! Customer administration (A2–A6) and the customer detail (A4) over HTTP.

use reqwest::{Method, StatusCode};
use serde_json::json;
use wiremock::{
    Mock, ResponseTemplate,
    matchers::{header, method, path},
};

use crate::{
    fake_keycloak::{LORNE, NOBODY, SERVICE_ACCOUNT, TOMMY, VADER},
    helpers::{TestApp, body},
};

#[tokio::test]
async fn a_manager_lists_customers_without_the_service_account() {
    let app = TestApp::spawn().await;
    let response = app.get("/account/customer?start=0", &app.manager()).await;
    assert_eq!(response.status(), StatusCode::OK);
    let customers = body(response).await;
    let ids: Vec<&str> = customers
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec![VADER, LORNE, TOMMY]);
    assert!(!ids.contains(&SERVICE_ACCOUNT));
    assert_eq!(
        customers[0],
        json!({"id": VADER, "firstName": "Anakin", "lastName": "Skywalker", "birthDate": "1980-10-23",
            "email": "vader_666@mail.com", "phoneNumber": "5738593748"})
    );
    assert_eq!(
        customers[1],
        json!({"id": LORNE, "firstName": "Lorne", "lastName": "Malvo", "birthDate": null,
            "email": "malvo_lrn@mail.com", "phoneNumber": null})
    );
    let requests = app
        .keycloak
        .requests("GET", "/admin/realms/ironvessel/users")
        .await;
    assert_eq!(
        requests[0].url.query(),
        Some("first=0&max=100"),
        "end defaults to 100"
    );
}

#[tokio::test]
async fn start_and_end_select_a_slice_of_the_user_list() {
    let app = TestApp::spawn().await;
    let customers = body(
        app.get("/account/customer?start=1&end=1", &app.manager())
            .await,
    )
    .await;
    assert_eq!(
        customers,
        json!([{"id": LORNE, "firstName": "Lorne", "lastName": "Malvo",
        "birthDate": null, "email": "malvo_lrn@mail.com", "phoneNumber": null}])
    );
}

#[tokio::test]
async fn a_manager_reads_one_customer_and_an_unknown_one_is_404() {
    let app = TestApp::spawn().await;
    let tommy = app
        .get(&format!("/account/customer/{TOMMY}"), &app.manager())
        .await;
    assert_eq!(tommy.status(), StatusCode::OK);
    assert_eq!(
        body(tommy).await,
        json!({"id": TOMMY, "firstName": "Thomas", "lastName": "Shelby", "birthDate": "1890-01-12",
            "email": "peaky_blinder@mail.com", "phoneNumber": null})
    );
    let unknown = app
        .get(&format!("/account/customer/{NOBODY}"), &app.manager())
        .await;
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        body(unknown).await,
        json!({"message": "Customer not found!", "resultType": "ERROR", "code": "NOT_FOUND"})
    );
    let machine = app
        .get(
            &format!("/account/customer/{SERVICE_ACCOUNT}"),
            &app.manager(),
        )
        .await;
    assert_eq!(
        machine.status(),
        StatusCode::NOT_FOUND,
        "a service account is not a customer"
    );
}

#[tokio::test]
async fn a_manager_deactivates_and_activates_a_customer() {
    let app = TestApp::spawn().await;
    let deactivated = app
        .send(
            Method::PUT,
            &format!("/account/customer/{LORNE}/deactivate"),
            &app.manager(),
            None,
        )
        .await;
    assert_eq!(deactivated.status(), StatusCode::OK);
    assert_eq!(
        body(deactivated).await,
        json!({"message": format!("Customer {LORNE} is deactivated."), "resultType": "SUCCESS"})
    );
    assert_eq!(app.keycloak.enabled(LORNE), Some(false));

    let activated = app
        .send(
            Method::PUT,
            &format!("/account/customer/{LORNE}/activate"),
            &app.manager(),
            None,
        )
        .await;
    assert_eq!(
        body(activated).await,
        json!({"message": format!("Customer {LORNE} is activated."), "resultType": "SUCCESS"})
    );
    assert_eq!(app.keycloak.enabled(LORNE), Some(true));
}

#[tokio::test]
async fn deactivating_a_customer_keeps_their_profile() {
    let app = TestApp::spawn().await;
    let path = format!("/account/customer/{VADER}");
    let before = body(app.get(&path, &app.manager()).await).await;
    let response = app
        .send(
            Method::PUT,
            &format!("{path}/deactivate"),
            &app.manager(),
            None,
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(app.keycloak.enabled(VADER), Some(false));
    let after = body(app.get(&path, &app.manager()).await).await;
    assert_eq!(after, before);
    assert_eq!(after["birthDate"], "1980-10-23");
}

#[tokio::test]
async fn enabling_an_unknown_customer_or_a_service_account_is_404_and_changes_nothing() {
    let app = TestApp::spawn().await;
    for id in [NOBODY, SERVICE_ACCOUNT] {
        for action in ["activate", "deactivate"] {
            let response = app
                .send(
                    Method::PUT,
                    &format!("/account/customer/{id}/{action}"),
                    &app.manager(),
                    None,
                )
                .await;
            assert_eq!(response.status(), StatusCode::NOT_FOUND, "{action} {id}");
            assert_eq!(body(response).await["code"], "NOT_FOUND");
        }
    }
    assert_eq!(app.keycloak.enabled(SERVICE_ACCOUNT), Some(true));
    assert!(
        app.keycloak.requests("PUT", "/admin/").await.is_empty(),
        "no user was updated"
    );
}

#[tokio::test]
async fn the_detail_shows_orders_and_payments_asked_with_the_callers_token() {
    let app = TestApp::spawn().await;
    let manager = app.manager();
    let orders = json!([{"id": 1, "status": "PREPARING", "paymentId": 3, "address": "26593 birmingham, uk",
        "createdDate": "2026-11-22T10:00:00", "cancellation": null, "recipient": null}]);
    let payments = json!([{"id": 3, "totalPrice": 3000.5, "status": "APPROVED",
        "createdDate": "2026-11-22T09:59:00", "customerId": TOMMY, "products": []}]);
    Mock::given(method("GET"))
        .and(path(format!("/order/ofCustomer/{TOMMY}")))
        .and(header("authorization", format!("Bearer {manager}")))
        .respond_with(ResponseTemplate::new(200).set_body_json(&orders))
        .mount(&app.orders)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/payment/ofCustomer/{TOMMY}")))
        .and(header("authorization", format!("Bearer {manager}")))
        .respond_with(ResponseTemplate::new(200).set_body_json(&payments))
        .mount(&app.payments)
        .await;

    let response = app
        .get(&format!("/account/customer/{TOMMY}/detail"), &manager)
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        body(response).await,
        json!({"id": TOMMY, "firstName": "Thomas", "lastName": "Shelby", "birthDate": "1890-01-12",
            "email": "peaky_blinder@mail.com", "phoneNumber": null,
            "orders": orders,
            "payments": [{"id": 3, "totalPrice": 3000.5, "status": "APPROVED", "createdDate": "2026-11-22T09:59:00"}]})
    );
}

#[tokio::test]
async fn the_detail_of_an_unknown_customer_is_404_without_asking_order_or_payment() {
    let app = TestApp::spawn().await;
    let response = app
        .get(
            &format!("/account/customer/{NOBODY}/detail"),
            &app.manager(),
        )
        .await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert!(app.orders.received_requests().await.unwrap().is_empty());
    assert!(app.payments.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn an_order_service_error_status_falls_back_to_no_orders() {
    let app = TestApp::spawn().await;
    Mock::given(path(format!("/order/ofCustomer/{TOMMY}")))
        .respond_with(ResponseTemplate::new(403))
        .mount(&app.orders)
        .await;
    Mock::given(path(format!("/payment/ofCustomer/{TOMMY}")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
        .mount(&app.payments)
        .await;
    let detail = body(
        app.get(&format!("/account/customer/{TOMMY}/detail"), &app.manager())
            .await,
    )
    .await;
    assert_eq!(detail["orders"], json!([]));
    assert_eq!(detail["payments"], json!([]));
    assert_eq!(detail["firstName"], "Thomas");
}
