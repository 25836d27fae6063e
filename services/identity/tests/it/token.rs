//! The token endpoint: the three grants, the tokens they issue (validated by the
//! platform's `Authenticator`, as every service does), and Keycloak's errors.

use std::time::Duration;

use base64::{Engine, engine::general_purpose::STANDARD};
use platform::auth::AuthError;
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{
    ACCOUNT, DEADLINE, LORNE_ID, Options, TOMMY_ID, TestApp, VADER_ID, WEB, account_secret, answer,
    claims,
};

#[tokio::test]
async fn the_password_grant_issues_a_token_the_platform_authenticator_accepts() {
    let app = TestApp::spawn().await;
    let body = app.login("tommy", "garrison_1918").await;
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 300);
    assert_eq!(body["refresh_expires_in"], 1800);
    assert_eq!(body["not-before-policy"], 0);
    assert_eq!(body["scope"], "profile email");
    assert!(body["refresh_token"].is_string());
    assert!(body["session_state"].is_string());
    let user = app
        .authenticator()
        .authenticate(body["access_token"].as_str().unwrap())
        .await
        .expect("the token validates");
    assert_eq!(user.id, TOMMY_ID);
    assert_eq!(user.username.as_deref(), Some("tommy"));
    assert!(user.roles.contains("CUSTOMER"), "{:?}", user.roles);
    assert!(!user.roles.contains("MANAGER"));
}

#[tokio::test]
async fn the_access_token_carries_keycloaks_claims() {
    let app = TestApp::spawn().await;
    let body = app.login("tommy", "garrison_1918").await;
    let claims = claims(body["access_token"].as_str().unwrap());
    assert_eq!(claims["iss"], app.issuer());
    assert_eq!(claims["aud"], "ironvessel");
    assert_eq!(claims["sub"], TOMMY_ID);
    assert_eq!(claims["typ"], "Bearer");
    assert_eq!(claims["azp"], WEB);
    assert_eq!(claims["session_state"], body["session_state"]);
    assert_eq!(claims["scope"], "profile email");
    assert_eq!(claims["preferred_username"], "tommy");
    assert_eq!(claims["email"], "peaky_blinder@mail.com");
    assert_eq!(claims["email_verified"], true);
    assert_eq!(claims["name"], "Thomas Shelby");
    assert_eq!(claims["given_name"], "Thomas");
    assert_eq!(claims["family_name"], "Shelby");
    assert_eq!(
        claims["realm_access"]["roles"],
        json!([
            "CUSTOMER",
            "default-roles-ironvessel",
            "offline_access",
            "uma_authorization"
        ])
    );
    assert!(claims.get("resource_access").is_none());
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        300
    );
    assert!(claims["jti"].is_string());
}

#[tokio::test]
async fn a_manager_gets_the_manager_role_and_keeps_customer() {
    let app = TestApp::spawn().await;
    let body = app.login("vader", "i_hate_sand").await;
    let user = app
        .authenticator()
        .authenticate(body["access_token"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(user.id, VADER_ID);
    assert!(user.roles.contains("MANAGER") && user.roles.contains("CUSTOMER"));
}

#[tokio::test]
async fn users_log_in_with_their_email_in_any_case() {
    let app = TestApp::spawn().await;
    let body = app.login("Malvo_Lrn@mail.com", "sioux_falls").await;
    assert_eq!(
        claims(body["access_token"].as_str().unwrap())["sub"],
        LORNE_ID
    );
    let body = app.login("VADER", "i_hate_sand").await;
    assert_eq!(
        claims(body["access_token"].as_str().unwrap())["sub"],
        VADER_ID
    );
}

#[tokio::test]
async fn a_wrong_password_or_unknown_user_is_401_invalid_grant() {
    let app = TestApp::spawn().await;
    for (username, password) in [("tommy", "garrison_1919"), ("nobody", "garrison_1918")] {
        let (status, body) = answer(app.password_grant(username, password).await).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{username}");
        assert_eq!(
            body,
            json!({"error": "invalid_grant", "error_description": "Invalid user credentials"})
        );
    }
}

#[tokio::test]
async fn an_unknown_client_or_a_wrong_secret_is_401_invalid_client() {
    let app = TestApp::spawn().await;
    let expected = json!({"error": "invalid_client", "error_description": "Invalid client or Invalid client credentials"});
    let unknown = app
        .token_request(&[
            ("grant_type", "password"),
            ("client_id", "nope"),
            ("username", "tommy"),
            ("password", "garrison_1918"),
        ])
        .await;
    assert_eq!(
        answer(unknown).await,
        (StatusCode::UNAUTHORIZED, expected.clone())
    );
    let wrong_secret = app
        .token_request(&[
            ("grant_type", "client_credentials"),
            ("client_id", ACCOUNT),
            ("client_secret", "wrong"),
        ])
        .await;
    assert_eq!(
        answer(wrong_secret).await,
        (StatusCode::UNAUTHORIZED, expected.clone())
    );
    let no_secret = app
        .token_request(&[("grant_type", "client_credentials"), ("client_id", ACCOUNT)])
        .await;
    assert_eq!(
        answer(no_secret).await,
        (StatusCode::UNAUTHORIZED, expected.clone())
    );
    let basic = app
        .client
        .post(app.url("/realms/ironvessel/protocol/openid-connect/token"))
        .basic_auth(ACCOUNT, Some("wrong"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(answer(basic).await, (StatusCode::UNAUTHORIZED, expected));
}

#[tokio::test]
async fn an_unsupported_grant_type_is_400() {
    let app = TestApp::spawn().await;
    let response = app
        .token_request(&[("grant_type", "authorization_code"), ("client_id", WEB)])
        .await;
    assert_eq!(
        answer(response).await,
        (
            StatusCode::BAD_REQUEST,
            json!({"error": "unsupported_grant_type", "error_description": "Unsupported grant_type"})
        )
    );
}

#[tokio::test]
async fn missing_parameters_are_400_invalid_request() {
    let app = TestApp::spawn().await;
    let cases: [(&[(&str, &str)], &str); 5] = [
        (&[("client_id", WEB)], "Missing form parameter: grant_type"),
        (
            &[
                ("grant_type", "password"),
                ("username", "tommy"),
                ("password", "x"),
            ],
            "Missing parameter: client_id",
        ),
        (
            &[
                ("grant_type", "password"),
                ("client_id", WEB),
                ("password", "x"),
            ],
            "Missing parameter: username",
        ),
        (
            &[
                ("grant_type", "password"),
                ("client_id", WEB),
                ("username", "tommy"),
            ],
            "Missing parameter: password",
        ),
        (
            &[("grant_type", "refresh_token"), ("client_id", WEB)],
            "Missing parameter: refresh_token",
        ),
    ];
    for (form, description) in cases {
        let (status, body) = answer(app.token_request(form).await).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{description}");
        assert_eq!(
            body,
            json!({"error": "invalid_request", "error_description": description})
        );
    }
    let json_body = app
        .client
        .post(app.url("/realms/ironvessel/protocol/openid-connect/token"))
        .json(&json!({"grant_type": "password"}))
        .send()
        .await
        .unwrap();
    let (status, body) = answer(json_body).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_request");
}

#[tokio::test]
async fn a_client_without_direct_access_grants_cannot_use_the_password_grant() {
    let app = TestApp::spawn().await;
    let response = app
        .token_request(&[
            ("grant_type", "password"),
            ("client_id", ACCOUNT),
            ("client_secret", &account_secret()),
            ("username", "tommy"),
            ("password", "garrison_1918"),
        ])
        .await;
    assert_eq!(
        answer(response).await,
        (
            StatusCode::BAD_REQUEST,
            json!({"error": "unauthorized_client", "error_description": "Client not allowed for direct access grants"})
        )
    );
}

#[tokio::test]
async fn a_disabled_user_cannot_log_in_until_enabled_again() {
    let app = TestApp::spawn().await;
    app.set_enabled(TOMMY_ID, false).await;
    let (status, body) = answer(app.password_grant("tommy", "garrison_1918").await).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body,
        json!({"error": "invalid_grant", "error_description": "Account disabled"})
    );
    app.set_enabled(TOMMY_ID, true).await;
    app.login("tommy", "garrison_1918").await;
}

#[tokio::test]
async fn the_refresh_grant_issues_new_tokens_after_the_access_token_expired() {
    let app = TestApp::spawn_with(Options {
        access_token_lifespan: Some(Duration::from_secs(1)),
        ..Options::default()
    })
    .await;
    let auth = app.authenticator();
    let first = app.login("tommy", "garrison_1918").await;
    assert_eq!(first["expires_in"], 1);
    let access = first["access_token"].as_str().unwrap().to_owned();
    testkit::eventually("the access token to expire", DEADLINE, || {
        let auth = auth.clone();
        let access = access.clone();
        async move {
            matches!(auth.authenticate(&access).await, Err(AuthError::Invalid(_))).then_some(())
        }
    })
    .await;
    let refresh = first["refresh_token"].as_str().unwrap();
    let refresh_claims = claims(refresh);
    assert_eq!(refresh_claims["typ"], "Refresh");
    assert_eq!(refresh_claims["aud"], app.issuer());
    let response = app
        .token_request(&[
            ("grant_type", "refresh_token"),
            ("client_id", WEB),
            ("refresh_token", refresh),
        ])
        .await;
    let (status, second) = answer(response).await;
    assert_eq!(status, StatusCode::OK, "{second}");
    assert_eq!(
        second["session_state"], first["session_state"],
        "same session"
    );
    let user = auth
        .authenticate(second["access_token"].as_str().unwrap())
        .await
        .expect("the refreshed token validates");
    assert_eq!(user.id, TOMMY_ID);
    assert!(second["refresh_token"].is_string());
}

#[tokio::test]
async fn a_refresh_token_is_not_an_access_token_and_forgeries_are_refused() {
    let app = TestApp::spawn().await;
    let body = app.login("tommy", "garrison_1918").await;
    let refresh = body["refresh_token"].as_str().unwrap();
    let as_access = app.authenticator().authenticate(refresh).await;
    assert!(
        matches!(as_access, Err(AuthError::Invalid(_))),
        "{as_access:?}"
    );
    let invalid = json!({"error": "invalid_grant", "error_description": "Invalid refresh token"});
    for token in ["garbage", body["access_token"].as_str().unwrap()] {
        let response = app
            .token_request(&[
                ("grant_type", "refresh_token"),
                ("client_id", WEB),
                ("refresh_token", token),
            ])
            .await;
        assert_eq!(
            answer(response).await,
            (StatusCode::BAD_REQUEST, invalid.clone())
        );
    }
    let other_client = app
        .token_request(&[
            ("grant_type", "refresh_token"),
            ("client_id", ACCOUNT),
            ("client_secret", &account_secret()),
            ("refresh_token", refresh),
        ])
        .await;
    let (status, body) = answer(other_client).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_grant");
}

#[tokio::test]
async fn a_refresh_token_of_a_user_disabled_since_is_refused() {
    let app = TestApp::spawn().await;
    let body = app.login("lorne", "sioux_falls").await;
    app.set_enabled(LORNE_ID, false).await;
    let response = app
        .token_request(&[
            ("grant_type", "refresh_token"),
            ("client_id", WEB),
            ("refresh_token", body["refresh_token"].as_str().unwrap()),
        ])
        .await;
    assert_eq!(
        answer(response).await,
        (
            StatusCode::BAD_REQUEST,
            json!({"error": "invalid_grant", "error_description": "User disabled"})
        )
    );
}

#[tokio::test]
async fn client_credentials_give_the_service_account_its_realm_management_roles() {
    let app = TestApp::spawn().await;
    let form = app
        .token_request(&[
            ("grant_type", "client_credentials"),
            ("client_id", ACCOUNT),
            ("client_secret", &account_secret()),
        ])
        .await;
    let basic = app
        .client
        .post(app.url("/realms/ironvessel/protocol/openid-connect/token"))
        .header(
            "authorization",
            format!(
                "Basic {}",
                STANDARD.encode(format!("{ACCOUNT}:{}", account_secret()))
            ),
        )
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    for response in [form, basic] {
        let (status, body) = answer(response).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert!(
            body.get("refresh_token").is_none(),
            "no refresh token: {body}"
        );
        assert_eq!(body["refresh_expires_in"], 0);
        let access = body["access_token"].as_str().unwrap();
        let claims = claims(access);
        assert_eq!(
            claims["resource_access"],
            json!({"realm-management": {"roles": ["manage-users", "view-users", "query-users"]}})
        );
        assert_eq!(
            claims["preferred_username"],
            "service-account-ironvessel-account"
        );
        assert_eq!(claims["azp"], ACCOUNT);
        assert_eq!(claims["client_id"], ACCOUNT);
        let user = app.authenticator().authenticate(access).await.unwrap();
        assert_eq!(
            user.id, "5a0e3f6c-2b1d-4c8e-9f7a-3d6b8e1c4a20",
            "the service-account user"
        );
    }
}

#[tokio::test]
async fn a_public_client_cannot_use_client_credentials() {
    let app = TestApp::spawn().await;
    let response = app
        .token_request(&[("grant_type", "client_credentials"), ("client_id", WEB)])
        .await;
    let (status, body) = answer(response).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "unauthorized_client");
}

#[tokio::test]
async fn the_openid_scope_adds_an_id_token_and_userinfo_answers_the_profile() {
    let app = TestApp::spawn().await;
    let response = app
        .token_request(&[
            ("grant_type", "password"),
            ("client_id", WEB),
            ("username", "vader"),
            ("password", "i_hate_sand"),
            ("scope", "openid"),
        ])
        .await;
    let (status, body) = answer(response).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["scope"], "openid profile email");
    let id = claims(body["id_token"].as_str().unwrap());
    assert_eq!(
        (id["typ"].as_str(), id["aud"].as_str()),
        (Some("ID"), Some(WEB))
    );
    let info = app
        .client
        .get(app.url("/realms/ironvessel/protocol/openid-connect/userinfo"))
        .bearer_auth(body["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    let (status, info) = answer(info).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(info["sub"], VADER_ID);
    assert_eq!(info["email"], "vader_666@mail.com");
    let anonymous = app
        .client
        .get(app.url("/realms/ironvessel/protocol/openid-connect/userinfo"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn introspection_tells_a_confidential_client_whether_a_token_is_active() {
    let app = TestApp::spawn().await;
    let token = app.login("tommy", "garrison_1918").await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let introspect = |token: String| {
        app.client
            .post(app.url("/realms/ironvessel/protocol/openid-connect/token/introspect"))
            .basic_auth(ACCOUNT, Some(account_secret()))
            .form(&[("token", token)])
            .send()
    };
    let (status, active) = answer(introspect(token.clone()).await.unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(active["active"], true);
    assert_eq!(active["sub"], TOMMY_ID);
    assert_eq!(active["username"], "tommy");
    let (_, inactive) = answer(introspect("garbage".to_owned()).await.unwrap()).await;
    assert_eq!(inactive, json!({"active": false}));
    app.set_enabled(TOMMY_ID, false).await;
    let (_, disabled) = answer(introspect(token).await.unwrap()).await;
    assert_eq!(
        disabled,
        json!({"active": false}),
        "a disabled user's token is inactive"
    );
}
