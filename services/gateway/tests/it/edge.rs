//! What the gateway decides at the edge: tokens, rate limits, body sizes, routes, and
//! the headers that reach an upstream.

use reqwest::StatusCode;
use serde_json::json;
use testkit::tokens::TokenSpec;
use wiremock::{
    Mock, ResponseTemplate,
    matchers::{method, path},
};

use crate::helpers::{CUSTOMER, InventoryInfra, TestGateway, error_body, stub_upstream, traffic};

#[tokio::test]
async fn a_client_over_its_rate_gets_429_with_retry_after_while_another_client_is_served() {
    let infra = InventoryInfra::new().await;
    let id = infra.product("Chisel").await;
    let replica = infra.start("inventory-1", 0).await;
    let gateway = TestGateway::spawn(
        infra.idp.auth_config(),
        &[
            ("GATEWAY_INVENTORY_URLS", replica.url()),
            ("GATEWAY_RATE_LIMIT_PER_SECOND", "1".to_owned()),
            ("GATEWAY_RATE_LIMIT_BURST", "3".to_owned()),
        ],
    )
    .await;
    let path = format!("/inventory/product/{id}");
    let greedy = infra.idp.customer("greedy-customer");

    let mut statuses = Vec::new();
    let mut limited = None;
    for _ in 0..10 {
        let response = gateway.get(&path, &greedy).await;
        statuses.push(response.status());
        if response.status() == StatusCode::TOO_MANY_REQUESTS && limited.is_none() {
            limited = Some(response);
        }
    }
    assert_eq!(
        statuses[..3],
        [StatusCode::OK; 3],
        "the burst is served: {statuses:?}"
    );
    let limited = limited.unwrap_or_else(|| panic!("no 429 among {statuses:?}"));
    let retry_after: u64 = limited.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .expect("Retry-After in seconds");
    assert!(retry_after >= 1);
    assert!(
        !limited.headers().contains_key("x-cache"),
        "answered by the gateway"
    );
    let (_, code, message) = error_body(limited).await;
    assert_eq!(code, "RATE_LIMITED");
    assert!(message.contains("too many requests"), "{message}");

    let patient = infra.idp.customer("patient-customer");
    let response = gateway.get(&path, &patient).await;
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "another subject is unaffected"
    );
}

#[tokio::test]
async fn a_missing_invalid_or_expired_token_is_refused_at_the_gateway() {
    let idp = testkit::TestIdp::start().await;
    let upstream = stub_upstream().await;
    Mock::given(path("/inventory/product/1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": 1})))
        .mount(&upstream)
        .await;
    let gateway = TestGateway::spawn(
        idp.auth_config(),
        &[("GATEWAY_INVENTORY_URLS", upstream.uri())],
    )
    .await;
    let url = gateway.url("/inventory/product/1");

    let no_token = gateway.client.get(&url).send().await.unwrap();
    assert_eq!(no_token.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(no_token.headers()["www-authenticate"], "Bearer");
    let (_, code, message) = error_body(no_token).await;
    assert_eq!(code, "UNAUTHORIZED");
    assert_eq!(message, "missing bearer token");

    let expired = idp.token(&TokenSpec {
        expires_in: -600,
        ..TokenSpec::customer(CUSTOMER)
    });
    let foreign_audience = idp.token(&TokenSpec {
        audience: "someone-else".to_owned(),
        ..TokenSpec::customer(CUSTOMER)
    });
    let foreign_issuer = idp.token(&TokenSpec {
        issuer: "http://evil.test/realms/x".to_owned(),
        ..TokenSpec::customer(CUSTOMER)
    });
    let forged = idp.token(&TokenSpec {
        rogue_signature: true,
        ..TokenSpec::customer(CUSTOMER)
    });
    for (what, token) in [
        ("garbage", "not-a-jwt".to_owned()),
        ("expired", expired),
        ("wrong audience", foreign_audience),
        ("wrong issuer", foreign_issuer),
        ("forged signature", forged),
    ] {
        let response = gateway.get("/inventory/product/1", &token).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{what}");
        let (_, code, message) = error_body(response).await;
        assert_eq!(code, "UNAUTHORIZED", "{what}");
        assert!(message.starts_with("invalid token"), "{what}: {message}");
    }
    assert!(
        traffic(&upstream).await.is_empty(),
        "no refused request reached the upstream"
    );
    // The same upstream does answer a valid token, so the silence above means something.
    let valid = gateway
        .get("/inventory/product/1", &idp.customer(CUSTOMER))
        .await;
    assert_eq!(valid.status(), StatusCode::OK);
    assert_eq!(traffic(&upstream).await.len(), 1);
}

#[tokio::test]
async fn the_token_endpoint_is_reachable_through_the_gateway_without_a_token() {
    let idp = testkit::TestIdp::start().await;
    let identity = stub_upstream().await;
    Mock::given(method("POST"))
        .and(path("/realms/ironvessel/protocol/openid-connect/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"access_token": "a.b.c", "token_type": "Bearer", "expires_in": 300}),
        ))
        .mount(&identity)
        .await;
    let gateway = TestGateway::spawn(
        idp.auth_config(),
        &[("GATEWAY_IDENTITY_URLS", identity.uri())],
    )
    .await;

    let response = gateway
        .client
        .post(gateway.url("/realms/ironvessel/protocol/openid-connect/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=password&client_id=ironvessel-web&username=u&password=p")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["access_token"], "a.b.c");
    let received = traffic(&identity).await;
    assert_eq!(received.len(), 1);
    assert_eq!(
        String::from_utf8_lossy(&received[0].body),
        "grant_type=password&client_id=ironvessel-web&username=u&password=p",
        "the form reaches the provider unchanged"
    );
}

#[tokio::test]
async fn browser_headers_are_stripped_and_request_ids_and_trace_context_go_upstream() {
    let idp = testkit::TestIdp::start().await;
    let upstream = stub_upstream().await;
    Mock::given(path("/inventory/product"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("x-instance", "inventory-7")
                .insert_header("x-cache", "HIT")
                .set_body_json(json!([])),
        )
        .mount(&upstream)
        .await;
    let gateway = TestGateway::spawn(
        idp.auth_config(),
        &[("GATEWAY_INVENTORY_URLS", upstream.uri())],
    )
    .await;
    let token = idp.customer(CUSTOMER);
    let traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    let response = gateway
        .client
        .get(gateway.url("/inventory/product?pageNumber=0&pageSize=5"))
        .bearer_auth(&token)
        .header("cookie", "session=secret")
        .header("sec-fetch-mode", "cors")
        .header("sec-fetch-site", "same-site")
        .header("sec-ch-ua", "\"Chromium\";v=\"140\"")
        .header("sec-ch-ua-platform", "\"Linux\"")
        .header("accept-language", "de-CH")
        .header("upgrade-insecure-requests", "1")
        .header("x-request-id", "req-42")
        .header("traceparent", traceparent)
        .header("x-custom", "kept")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()["x-instance"],
        "inventory-7",
        "the upstream's x-instance"
    );
    assert_eq!(response.headers()["x-cache"], "HIT");
    assert_eq!(response.headers()["x-request-id"], "req-42");

    let received = traffic(&upstream).await;
    assert_eq!(received.len(), 1);
    let request = &received[0];
    assert_eq!(
        request.url.query(),
        Some("pageNumber=0&pageSize=5"),
        "query kept"
    );
    let headers = &request.headers;
    for stripped in [
        "cookie",
        "sec-fetch-mode",
        "sec-fetch-site",
        "sec-ch-ua",
        "sec-ch-ua-platform",
        "accept-language",
        "upgrade-insecure-requests",
    ] {
        assert!(
            !headers.contains_key(stripped),
            "{stripped} reached the upstream"
        );
    }
    assert_eq!(headers["x-request-id"], "req-42");
    assert_eq!(headers["authorization"], format!("Bearer {token}").as_str());
    assert_eq!(headers["x-custom"], "kept");
    assert_eq!(headers["x-forwarded-for"], "127.0.0.1");
    assert_eq!(headers["x-forwarded-proto"], "http");
    let forwarded_trace = headers["traceparent"].to_str().unwrap();
    assert!(
        forwarded_trace.starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"),
        "the trace continues upstream: {forwarded_trace}"
    );

    // Without an id, the gateway makes one, sends it upstream and returns it.
    let response = gateway.get("/inventory/product", &token).await;
    let generated = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(!generated.is_empty());
    let received = traffic(&upstream).await;
    assert_eq!(received[1].headers["x-request-id"], generated.as_str());
}

#[tokio::test]
async fn an_unknown_route_is_a_404_with_the_error_body() {
    let idp = testkit::TestIdp::start().await;
    let gateway = TestGateway::spawn(idp.auth_config(), &[]).await;
    for path in ["/", "/shop/product", "/inventoryx/product/1"] {
        let response = gateway.get(path, &idp.customer(CUSTOMER)).await;
        assert_eq!(response.headers()["x-instance"], "gateway-test", "{path}");
        let (status, code, message) = error_body(response).await;
        assert_eq!(
            (status, code.as_str(), message.as_str()),
            (404, "NOT_FOUND", "no such route"),
            "{path}"
        );
    }
}

#[tokio::test]
async fn an_oversize_body_is_refused_with_413_whether_declared_or_streamed() {
    let infra = InventoryInfra::new().await;
    let replica = infra.start("inventory-1", 0).await;
    let gateway = TestGateway::spawn(
        infra.idp.auth_config(),
        &[
            ("GATEWAY_INVENTORY_URLS", replica.url()),
            ("GATEWAY_BODY_LIMIT_BYTES", "1024".to_owned()),
        ],
    )
    .await;
    let manager = infra.manager();
    let big_name = "x".repeat(2000);
    let oversize = serde_json::to_vec(
        &json!({"name": big_name, "price": 1.0, "category": "TOOL", "quantity": 1}),
    )
    .unwrap();

    let declared = gateway
        .client
        .post(gateway.url("/inventory/product"))
        .bearer_auth(&manager)
        .header("content-type", "application/json")
        .body(oversize.clone())
        .send()
        .await
        .unwrap();
    let (status, code, message) = error_body(declared).await;
    assert_eq!((status, code.as_str()), (413, "PAYLOAD_TOO_LARGE"));
    assert_eq!(
        message,
        "request body is larger than the limit of 1024 bytes"
    );

    // Chunked, without Content-Length: the limit holds while the body streams in.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = oversize
        .chunks(256)
        .map(|chunk| Ok(chunk.to_vec()))
        .collect();
    let streamed = gateway
        .client
        .post(gateway.url("/inventory/product"))
        .bearer_auth(&manager)
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(futures::stream::iter(chunks)))
        .send()
        .await
        .unwrap();
    let (status, code, _) = error_body(streamed).await;
    assert_eq!((status, code.as_str()), (413, "PAYLOAD_TOO_LARGE"));

    let created = gateway
        .client
        .post(gateway.url("/inventory/product"))
        .bearer_auth(&manager)
        .json(&json!({"name": "File", "price": 4.5, "category": "TOOL", "quantity": 2}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        created.status(),
        StatusCode::CREATED,
        "a body under the limit passes"
    );
    assert_eq!(created.headers()["x-instance"], "inventory-1");
}
