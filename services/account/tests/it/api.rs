//! Cross-cutting HTTP behaviour: ping, OpenAPI, readiness, and the 400/401/403/404
//! answers of every endpoint.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use testkit::tokens::TokenSpec;

use crate::{
    fake_keycloak::TOMMY,
    helpers::{TestApp, body},
};

/// Every endpoint with a body that would be valid.
fn endpoints() -> Vec<(Method, &'static str, Option<Value>)> {
    let address =
        json!({"name": "home", "country": "uk", "city": "birmingham", "zipCode": "26593"});
    vec![
        (Method::GET, "/account/ping", None),
        (Method::GET, "/account/customer?start=0", None),
        (
            Method::GET,
            "/account/customer/c908ce9d-faec-4570-b84d-71a4e77f2f4a",
            None,
        ),
        (
            Method::GET,
            "/account/customer/c908ce9d-faec-4570-b84d-71a4e77f2f4a/detail",
            None,
        ),
        (
            Method::PUT,
            "/account/customer/c908ce9d-faec-4570-b84d-71a4e77f2f4a/activate",
            None,
        ),
        (
            Method::PUT,
            "/account/customer/c908ce9d-faec-4570-b84d-71a4e77f2f4a/deactivate",
            None,
        ),
        (Method::GET, "/account/address?pageNumber=0", None),
        (Method::POST, "/account/address", Some(address.clone())),
        (
            Method::PUT,
            "/account/address",
            Some(json!({"id": 1, "name": "home", "country": "uk", "city": "b", "zipCode": "1"})),
        ),
        (Method::DELETE, "/account/address/1", None),
        (Method::PUT, "/account/address/1/setPrimary", None),
    ]
}

const MANAGER_ONLY: usize = 5;

#[tokio::test]
async fn ping_names_the_replica() {
    let app = TestApp::spawn().await;
    let response = app.get("/account/ping", &app.customer()).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["x-instance"], "account-test");
    assert!(response.headers().contains_key("x-request-id"));
    assert_eq!(
        response.text().await.unwrap(),
        "Account microservice works. Host: account-test"
    );
}

#[tokio::test]
async fn every_endpoint_answers_401_without_a_valid_token() {
    let app = TestApp::spawn().await;
    let broken = [
        TokenSpec {
            expires_in: -120,
            ..TokenSpec::manager(TOMMY)
        },
        TokenSpec {
            rogue_signature: true,
            ..TokenSpec::manager(TOMMY)
        },
        TokenSpec {
            issuer: "http://evil.test/realms/ironvessel".to_owned(),
            ..TokenSpec::manager(TOMMY)
        },
        TokenSpec {
            audience: "someone-else".to_owned(),
            ..TokenSpec::manager(TOMMY)
        },
    ];
    for (method, path, body_json) in endpoints() {
        let mut missing = app.client.request(method.clone(), app.url(path));
        if let Some(body_json) = &body_json {
            missing = missing.json(body_json);
        }
        let response = missing.send().await.unwrap();
        assert_eq!(
            response.status(),
            StatusCode::UNAUTHORIZED,
            "{method} {path}"
        );
        assert_eq!(response.headers()["www-authenticate"], "Bearer");
        assert_eq!(body(response).await["code"], "UNAUTHORIZED");
        for spec in &broken {
            let response = app
                .send(
                    method.clone(),
                    path,
                    &app.idp.token(spec),
                    body_json.as_ref(),
                )
                .await;
            assert_eq!(
                response.status(),
                StatusCode::UNAUTHORIZED,
                "{method} {path} {spec:?}"
            );
        }
        let garbage = app
            .send(method.clone(), path, "not-a-jwt", body_json.as_ref())
            .await;
        assert_eq!(garbage.status(), StatusCode::UNAUTHORIZED);
    }
    assert!(app.keycloak.requests("PUT", "/").await.is_empty());
}

#[tokio::test]
async fn a_customer_on_a_manager_endpoint_gets_403() {
    let app = TestApp::spawn().await;
    let customer = app.customer();
    for (method, path, body_json) in endpoints().into_iter().skip(1).take(MANAGER_ONLY) {
        let response = app
            .send(method.clone(), path, &customer, body_json.as_ref())
            .await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{method} {path}");
        let error = body(response).await;
        assert_eq!(error["code"], "FORBIDDEN");
        assert!(error["message"].as_str().unwrap().contains("MANAGER"));
    }
    assert!(
        app.keycloak.requests("PUT", "/").await.is_empty(),
        "nobody was enabled or disabled"
    );
}

#[tokio::test]
async fn a_token_without_the_customer_role_gets_403_on_address_endpoints() {
    let app = TestApp::spawn().await;
    let token = app.idp.token(&TokenSpec {
        roles: vec![],
        ..TokenSpec::customer(TOMMY)
    });
    for (method, path, body_json) in endpoints().into_iter().skip(1 + MANAGER_ONLY) {
        let response = app
            .send(method.clone(), path, &token, body_json.as_ref())
            .await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{method} {path}");
    }
    assert!(app.stored(TOMMY).await.is_empty());
}

#[tokio::test]
async fn each_bad_customer_parameter_gets_400_naming_it() {
    let app = TestApp::spawn().await;
    let cases = [
        ("/account/customer", "start"),
        ("/account/customer?start=-1", "start"),
        ("/account/customer?start=abc", "start"),
        ("/account/customer?start=0&end=0", "end"),
        ("/account/customer?start=0&end=101", "end"),
        ("/account/customer?start=0&end=x", "end"),
        ("/account/customer/not%20an%20id", "id"),
        ("/account/customer/..%2F..%2Fclients", "id"),
        ("/account/customer/not%20an%20id/detail", "id"),
    ];
    for (path, field) in cases {
        let response = app.get(path, &app.manager()).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{path}");
        let error = body(response).await;
        assert_eq!(error["code"], "VALIDATION", "{path}");
        let message = error["message"].as_str().unwrap();
        assert!(
            message.contains(field),
            "{path}: {message:?} should name {field}"
        );
    }
    let put = app
        .send(
            Method::PUT,
            "/account/customer/a%2Fb/deactivate",
            &app.manager(),
            None,
        )
        .await;
    assert_eq!(put.status(), StatusCode::BAD_REQUEST);
    assert!(
        app.keycloak.requests("GET", "/admin/").await.is_empty(),
        "nothing malformed reached the admin API"
    );
}

#[tokio::test]
async fn each_bad_address_input_gets_400_naming_the_field() {
    let app = TestApp::spawn().await;
    let token = app.customer();
    let long = "x".repeat(101);
    let bodies = [
        (
            json!({"country": "uk", "city": "b", "zipCode": "1"}),
            "name",
        ),
        (
            json!({"name": null, "country": "uk", "city": "b", "zipCode": "1"}),
            "name",
        ),
        (
            json!({"name": "", "country": "uk", "city": "b", "zipCode": "1"}),
            "name",
        ),
        (
            json!({"name": "  ", "country": "uk", "city": "b", "zipCode": "1"}),
            "name",
        ),
        (
            json!({"name": long, "country": "uk", "city": "b", "zipCode": "1"}),
            "name",
        ),
        (
            json!({"name": "home", "city": "b", "zipCode": "1"}),
            "country",
        ),
        (
            json!({"name": "home", "country": "", "city": "b", "zipCode": "1"}),
            "country",
        ),
        (
            json!({"name": "home", "country": "x".repeat(51), "city": "b", "zipCode": "1"}),
            "country",
        ),
        (
            json!({"name": "home", "country": "uk", "zipCode": "1"}),
            "city",
        ),
        (
            json!({"name": "home", "country": "uk", "city": "", "zipCode": "1"}),
            "city",
        ),
        (
            json!({"name": "home", "country": "uk", "city": long, "zipCode": "1"}),
            "city",
        ),
        (
            json!({"name": "home", "country": "uk", "city": "b"}),
            "zipCode",
        ),
        (
            json!({"name": "home", "country": "uk", "city": "b", "zipCode": ""}),
            "zipCode",
        ),
        (
            json!({"name": "home", "country": "uk", "city": "b", "zipCode": "12345678901"}),
            "zipCode",
        ),
        (
            json!({"name": 7, "country": "uk", "city": "b", "zipCode": "1"}),
            "name",
        ),
    ];
    for (request, field) in &bodies {
        let response = app
            .send(Method::POST, "/account/address", &token, Some(request))
            .await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{request}");
        let error = body(response).await;
        assert_eq!(error["code"], "VALIDATION");
        let message = error["message"].as_str().unwrap();
        assert!(message.contains(field), "{message:?} should name {field}");
    }
    let home = app.add_address(&token, "home", "birmingham").await;
    for (request, field) in &bodies {
        let mut request = request.clone();
        request["id"] = home["id"].clone();
        let response = app
            .send(Method::PUT, "/account/address", &token, Some(&request))
            .await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{request}");
        let message = body(response).await["message"].as_str().unwrap().to_owned();
        assert!(message.contains(field), "{message:?} should name {field}");
    }
    let without_id = app
        .send(
            Method::PUT,
            "/account/address",
            &token,
            Some(&json!({"name": "home", "country": "uk", "city": "b", "zipCode": "1"})),
        )
        .await;
    assert_eq!(without_id.status(), StatusCode::BAD_REQUEST);
    assert!(
        body(without_id).await["message"]
            .as_str()
            .unwrap()
            .contains("id")
    );

    let queries = [
        ("/account/address?pageSize=101", "pageSize"),
        ("/account/address?pageSize=0", "pageSize"),
        ("/account/address?pageNumber=-1", "pageNumber"),
        ("/account/address?pageNumber=abc", "pageNumber"),
    ];
    for (path, field) in queries {
        let response = app.get(path, &token).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{path}");
        let message = body(response).await["message"].as_str().unwrap().to_owned();
        assert!(
            message.contains(field),
            "{path}: {message:?} should name {field}"
        );
    }
    for (method, path) in [
        (Method::DELETE, "/account/address/abc"),
        (Method::PUT, "/account/address/abc/setPrimary"),
    ] {
        let response = app.send(method, path, &token, None).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{path}");
    }
    let malformed = app
        .client
        .post(app.url("/account/address"))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body("{\"name\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status(), StatusCode::BAD_REQUEST);
    let text = app
        .client
        .post(app.url("/account/address"))
        .bearer_auth(&token)
        .header("content-type", "text/plain")
        .body("name=home")
        .send()
        .await
        .unwrap();
    assert_eq!(text.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(
        app.stored(TOMMY).await,
        vec![("home".to_owned(), true)],
        "nothing else written"
    );
}

#[tokio::test]
async fn unknown_routes_get_404_in_the_error_body() {
    let app = TestApp::spawn().await;
    let response = app.get("/account/nothing-here", &app.customer()).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(body(response).await["code"], "NOT_FOUND");
}

#[tokio::test]
async fn the_openapi_document_describes_every_endpoint() {
    let app = TestApp::spawn().await;
    let response = app
        .client
        .get(app.url("/account/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let document = body(response).await;
    assert!(document["openapi"].as_str().unwrap().starts_with("3.1"));
    let paths = document["paths"].as_object().unwrap();
    for path in [
        "/account/ping",
        "/account/customer",
        "/account/customer/{id}",
        "/account/customer/{id}/detail",
        "/account/customer/{id}/activate",
        "/account/customer/{id}/deactivate",
        "/account/address",
        "/account/address/{id}",
        "/account/address/{id}/setPrimary",
    ] {
        assert!(paths.contains_key(path), "{path} missing");
    }
    assert!(document["components"]["schemas"]["AddressResponse"].is_object());
}

#[tokio::test]
async fn readiness_checks_the_database_the_broker_and_the_cache() {
    let app = TestApp::spawn().await;
    // The broker connects in the background; readiness reports it UP once it has.
    testkit::until_ready(&app.client, &app.base, crate::helpers::DEADLINE).await;
    let (status, report) = app.readiness().await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(report["status"], "UP", "{report}");
    for check in ["database", "broker", "cache"] {
        assert_eq!(report["checks"][check]["status"], "UP", "{check}");
    }
}
