//! Discovery, the JWKS, the realm check, and the service conventions (health, metrics,
//! request ids).

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, answer};

#[tokio::test]
async fn discovery_names_the_issuer_and_the_endpoints_of_the_realm() {
    let app = TestApp::spawn().await;
    let response = app
        .client
        .get(app.url("/realms/ironvessel/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap();
    let (status, doc) = answer(response).await;
    assert_eq!(status, StatusCode::OK);
    let issuer = app.issuer();
    assert_eq!(doc["issuer"], issuer);
    assert_eq!(
        doc["token_endpoint"],
        format!("{issuer}/protocol/openid-connect/token")
    );
    assert_eq!(
        doc["jwks_uri"],
        format!("{issuer}/protocol/openid-connect/certs")
    );
    assert_eq!(
        doc["grant_types_supported"],
        json!(["password", "client_credentials", "refresh_token"])
    );
    assert_eq!(
        doc["id_token_signing_alg_values_supported"],
        json!(["RS256"])
    );
    assert_eq!(
        doc["token_endpoint_auth_methods_supported"],
        json!(["client_secret_basic", "client_secret_post"])
    );
}

#[tokio::test]
async fn the_jwks_publishes_the_signing_key_as_an_rs256_rsa_key() {
    let app = TestApp::spawn().await;
    let response = app
        .client
        .get(app.url("/realms/ironvessel/protocol/openid-connect/certs"))
        .send()
        .await
        .unwrap();
    let (status, jwks) = answer(response).await;
    assert_eq!(status, StatusCode::OK);
    let keys = jwks["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1, "one key before any rotation: {jwks}");
    let key = &keys[0];
    assert_eq!(key["kty"], "RSA");
    assert_eq!(key["alg"], "RS256");
    assert_eq!(key["use"], "sig");
    assert_eq!(key["e"], "AQAB");
    assert!(key["kid"].as_str().is_some_and(|kid| !kid.is_empty()));
    assert!(
        key["n"].as_str().is_some_and(|n| n.len() > 300),
        "a 2048-bit modulus"
    );
    let token = app.login("tommy", "garrison_1918").await;
    let header = crate::helpers::header(token["access_token"].as_str().unwrap());
    assert_eq!(header["kid"], key["kid"]);
    assert_eq!(header["alg"], "RS256");
}

#[tokio::test]
async fn an_unknown_realm_is_404_with_keycloaks_body() {
    let app = TestApp::spawn().await;
    for path in [
        "/realms/nope/.well-known/openid-configuration",
        "/realms/nope/protocol/openid-connect/certs",
    ] {
        let (status, body) = answer(app.client.get(app.url(path)).send().await.unwrap()).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(body, json!({"error": "Realm does not exist"}), "{path}");
    }
    let response = app
        .client
        .post(app.url("/realms/nope/protocol/openid-connect/token"))
        .form(&[("grant_type", "password")])
        .send()
        .await
        .unwrap();
    let (status, body) = answer(response).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body, json!({"error": "Realm does not exist"}));
}

#[tokio::test]
async fn readiness_checks_the_database_and_responses_carry_request_id_and_instance() {
    let app = TestApp::spawn().await;
    let response = app
        .client
        .get(app.url("/health/ready"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers().contains_key("x-request-id"));
    assert_eq!(response.headers()["x-instance"], "identity-test");
    let report: Value = response.json().await.unwrap();
    assert_eq!(report["status"], "UP");
    assert_eq!(report["checks"]["database"]["status"], "UP");
    assert!(report["checks"].get("broker").is_none());
    assert!(report["checks"].get("cache").is_none());
    app.login("lorne", "sioux_falls").await;
    let metrics = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("route=\"/realms/{realm}/protocol/openid-connect/token\""),
        "{metrics}"
    );
}
