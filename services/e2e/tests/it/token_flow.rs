//! Issue 3's token flow end to end: log in through the gateway with the password grant,
//! call a service with the token, and every way that can go wrong.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use serde_json::{Value, json};
use testkit::eventually;

use crate::shop::{DEADLINE, Knobs, LORNE, Shop, TOMMY, access_token};

#[tokio::test]
async fn a_customer_logs_in_through_the_gateway_and_reads_their_addresses() {
    let shop = Shop::start(Knobs::default()).await;
    let answer = shop.login("tommy", "garrison_1918").await;
    assert_eq!(answer["token_type"], "Bearer");
    let response = shop
        .get("/account/address?pageNumber=0", &access_token(&answer))
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-instance"], "account-e2e");
    let addresses: Value = response.json().await.unwrap();
    assert!(addresses.is_array());
}

#[tokio::test]
async fn a_manager_lists_customers_and_a_customer_may_not() {
    let shop = Shop::start(Knobs::default()).await;
    let vader = access_token(&shop.login("vader", "i_hate_sand").await);
    let response = shop.get("/account/customer?start=0", &vader).await;
    assert_eq!(response.status(), 200);
    let customers: Value = response.json().await.unwrap();
    let tommy = customers
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == TOMMY)
        .expect("tommy is listed");
    assert_eq!(tommy["firstName"], "Thomas");
    assert_eq!(tommy["birthDate"], "1890-01-12");

    let tommy_token = access_token(&shop.login("tommy", "garrison_1918").await);
    let refused = shop.get("/account/customer?start=0", &tommy_token).await;
    assert_eq!(refused.status(), 403);
}

#[tokio::test]
async fn a_disabled_customer_cannot_log_in_until_activated() {
    let shop = Shop::start(Knobs::default()).await;
    let vader = access_token(&shop.login("vader", "i_hate_sand").await);
    let off = shop
        .put(&format!("/account/customer/{LORNE}/deactivate"), &vader)
        .await;
    assert_eq!(off.status(), 200);
    assert_eq!(
        off.json::<Value>().await.unwrap()["message"],
        format!("Customer {LORNE} is deactivated.")
    );

    let refused = shop
        .token_request(&[
            ("grant_type", "password"),
            ("client_id", "ironvessel-web"),
            ("username", "lorne"),
            ("password", "sioux_falls"),
        ])
        .await;
    assert_eq!(refused.status(), 400);
    assert_eq!(
        refused.json::<Value>().await.unwrap(),
        json!({"error": "invalid_grant", "error_description": "Account disabled"})
    );

    let on = shop
        .put(&format!("/account/customer/{LORNE}/activate"), &vader)
        .await;
    assert_eq!(on.status(), 200);
    shop.login("lorne", "sioux_falls").await;
}

#[tokio::test]
async fn a_refresh_token_works_once_the_access_token_has_expired() {
    let shop = Shop::start(Knobs {
        access_token_lifespan: Some(std::time::Duration::from_secs(1)),
        ..Knobs::default()
    })
    .await;
    let answer = shop.login("tommy", "garrison_1918").await;
    let old = access_token(&answer);
    eventually("the access token to expire", DEADLINE, || async {
        (shop
            .get("/account/address?pageNumber=0", &old)
            .await
            .status()
            == 401)
            .then_some(())
    })
    .await;
    let refreshed = shop
        .token_request(&[
            ("grant_type", "refresh_token"),
            ("client_id", "ironvessel-web"),
            ("refresh_token", answer["refresh_token"].as_str().unwrap()),
        ])
        .await;
    assert_eq!(refreshed.status(), 200);
    let new = access_token(&refreshed.json().await.unwrap());
    assert_eq!(
        shop.get("/account/address?pageNumber=0", &new)
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn bad_logins_get_keycloak_shaped_errors() {
    let shop = Shop::start(Knobs::default()).await;
    let cases = [
        (
            vec![
                ("grant_type", "password"),
                ("client_id", "ironvessel-web"),
                ("username", "tommy"),
                ("password", "wrong"),
            ],
            401,
            json!({"error": "invalid_grant", "error_description": "Invalid user credentials"}),
        ),
        (
            vec![
                ("grant_type", "password"),
                ("client_id", "no-such-client"),
                ("username", "tommy"),
                ("password", "garrison_1918"),
            ],
            401,
            json!({"error": "invalid_client", "error_description": "Invalid client or Invalid client credentials"}),
        ),
        (
            vec![("grant_type", "magic"), ("client_id", "ironvessel-web")],
            400,
            json!({"error": "unsupported_grant_type", "error_description": "Unsupported grant_type"}),
        ),
    ];
    for (form, status, body) in cases {
        let response = shop.token_request(&form).await;
        assert_eq!(response.status(), status, "{form:?}");
        assert_eq!(response.json::<Value>().await.unwrap(), body, "{form:?}");
    }
}

#[tokio::test]
async fn ten_wrong_passwords_lock_the_user_for_the_configured_time() {
    let shop = Shop::start(Knobs {
        brute_force_wait: Some(std::time::Duration::from_secs(2)),
        ..Knobs::default()
    })
    .await;
    let form = |password: &'static str| {
        [
            ("grant_type", "password"),
            ("client_id", "ironvessel-web"),
            ("username", "lorne"),
            ("password", password),
        ]
    };
    for _ in 0..10 {
        assert_eq!(shop.token_request(&form("guess")).await.status(), 401);
    }
    let locked = shop.token_request(&form("sioux_falls")).await;
    assert_ne!(
        locked.status(),
        200,
        "the right password fails while the user is locked"
    );
    eventually("the lock to expire", DEADLINE, || async {
        (shop.token_request(&form("sioux_falls")).await.status() == 200).then_some(())
    })
    .await;
}

#[tokio::test]
async fn a_tampered_token_is_rejected_by_the_gateway_and_by_the_service() {
    let shop = Shop::start(Knobs::default()).await;
    let token = access_token(&shop.login("tommy", "garrison_1918").await);
    let parts: Vec<&str> = token.split('.').collect();
    let mut claims: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    claims["realm_access"]["roles"] = json!(["CUSTOMER", "MANAGER"]);
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(claims.to_string()),
        parts[2]
    );

    let through_gateway = shop.get("/account/customer?start=0", &forged).await;
    assert_eq!(through_gateway.status(), 401);
    let direct = shop
        .client
        .get(format!("{}/account/customer?start=0", shop.account))
        .bearer_auth(&forged)
        .send()
        .await
        .unwrap();
    assert_eq!(direct.status(), 401);
    assert_eq!(
        shop.get("/account/address?pageNumber=0", &token)
            .await
            .status(),
        200,
        "the real token still works"
    );
}
