//! Brute-force protection: the realm's `failureFactor` (10) consecutive wrong passwords
//! lock the user for the wait (2 s here); Keycloak hides the lock behind "Invalid user
//! credentials".

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{DEADLINE, Options, TestApp, answer};

async fn spawn() -> TestApp {
    TestApp::spawn_with(Options {
        brute_force_wait: Some(Duration::from_secs(2)),
        ..Options::default()
    })
    .await
}

async fn fail(app: &TestApp, username: &str, times: usize) {
    for attempt in 1..=times {
        let response = app.password_grant(username, "wrong-password").await;
        assert_eq!(
            response.status(),
            StatusCode::UNAUTHORIZED,
            "attempt {attempt}"
        );
    }
}

#[tokio::test]
async fn ten_wrong_passwords_lock_the_user_until_the_wait_is_over() {
    let app = spawn().await;
    fail(&app, "tommy", 10).await;
    let (status, body) = answer(app.password_grant("tommy", "garrison_1918").await).await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "the right password fails during the lock"
    );
    assert_eq!(
        body,
        json!({"error": "invalid_grant", "error_description": "Invalid user credentials"})
    );
    app.login("vader", "i_hate_sand").await;
    testkit::eventually("the lock to end", DEADLINE, || async {
        (app.password_grant("tommy", "garrison_1918").await.status() == StatusCode::OK)
            .then_some(())
    })
    .await;
}

#[tokio::test]
async fn a_successful_login_resets_the_failure_count() {
    let app = spawn().await;
    fail(&app, "lorne", 9).await;
    app.login("lorne", "sioux_falls").await;
    fail(&app, "lorne", 9).await;
    app.login("lorne", "sioux_falls").await;
}
