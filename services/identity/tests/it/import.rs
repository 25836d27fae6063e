//! The realm import at start-up is idempotent: a restart keeps one copy of each user
//! and never resets what changed since (passwords, names, enabled).

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TOMMY_ID, TestApp, answer};

#[tokio::test]
async fn a_restart_re_imports_the_realm_without_duplicating_users_or_resetting_passwords() {
    let mut app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let count = |app: &TestApp, admin: String| {
        let request = app.admin(Method::GET, "/users/count", Some(&admin));
        async move { request.send().await.unwrap().json::<Value>().await.unwrap() }
    };
    assert_eq!(count(&app, admin.clone()).await, 3);
    let response = app
        .admin(Method::PUT, &format!("/users/{TOMMY_ID}/reset-password"), Some(&admin))
        .json(&json!({"type": "password", "value": "by_order_of_the_peaky_blinders", "temporary": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let response = app
        .admin(Method::PUT, &format!("/users/{TOMMY_ID}"), Some(&admin))
        .json(&json!({"firstName": "Tommy"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);

    app.restart().await;
    app.restart().await;

    let admin = app.admin_token().await;
    assert_eq!(count(&app, admin.clone()).await, 3, "one copy of each user");
    let (status, _) = answer(app.password_grant("tommy", "garrison_1918").await).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "the old password stays replaced"
    );
    app.login("tommy", "by_order_of_the_peaky_blinders").await;
    app.login("vader", "i_hate_sand").await;
    let tommy: Value = app
        .admin(Method::GET, &format!("/users/{TOMMY_ID}"), Some(&admin))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(tommy["firstName"], "Tommy");
}
