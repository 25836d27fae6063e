//! The admin REST subset: list, search, page, count, get, update, create and reset a
//! password, guarded by the realm-management roles of a service-account token.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{LORNE_ID, TOMMY_ID, TestApp, VADER_ID, answer};

async fn get(app: &TestApp, path: &str, token: &str) -> Value {
    let response = app
        .admin(Method::GET, path, Some(token))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK, "{path}");
    response.json().await.unwrap()
}

fn usernames(users: &Value) -> Vec<&str> {
    users
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn listing_users_returns_representations_in_username_order_without_service_accounts() {
    let app = TestApp::spawn().await;
    let token = app.admin_token().await;
    let users = get(&app, "/users", &token).await;
    assert_eq!(usernames(&users), ["lorne", "tommy", "vader"]);
    let vader = &users[2];
    assert_eq!(vader["id"], VADER_ID);
    assert_eq!(vader["firstName"], "Anakin");
    assert_eq!(vader["lastName"], "Skywalker");
    assert_eq!(vader["email"], "vader_666@mail.com");
    assert_eq!(vader["emailVerified"], true);
    assert_eq!(vader["enabled"], true);
    assert!(vader["createdTimestamp"].as_i64().unwrap() > 0);
    assert_eq!(
        vader["attributes"],
        json!({"birthDate": ["1980-10-23"], "phoneNumber": ["5738593748"]})
    );
    assert!(users[0].get("attributes").is_none(), "lorne has none");
}

#[tokio::test]
async fn first_and_max_page_the_listing() {
    let app = TestApp::spawn().await;
    let token = app.admin_token().await;
    assert_eq!(
        usernames(&get(&app, "/users?first=1&max=1", &token).await),
        ["tommy"]
    );
    assert_eq!(
        usernames(&get(&app, "/users?first=2", &token).await),
        ["vader"]
    );
    assert_eq!(
        usernames(&get(&app, "/users?max=2", &token).await),
        ["lorne", "tommy"]
    );
    assert_eq!(
        usernames(&get(&app, "/users?first=5", &token).await),
        Vec::<&str>::new()
    );
}

#[tokio::test]
async fn search_matches_username_email_and_names_like_keycloak() {
    let app = TestApp::spawn().await;
    let token = app.admin_token().await;
    let search = |q: &'static str| {
        let token = token.clone();
        let app = &app;
        async move { usernames(&get(app, &format!("/users?{q}"), &token).await).join(",") }
    };
    assert_eq!(search("search=to").await, "tommy", "username prefix");
    assert_eq!(search("search=peaky").await, "tommy", "email prefix");
    assert_eq!(search("search=walker").await, "", "prefix, not infix");
    assert_eq!(search("search=*walk*").await, "vader", "infix");
    assert_eq!(
        search("search=Anakin").await,
        "vader",
        "first name, any case"
    );
    assert_eq!(search("search=\"tom\"").await, "", "exact");
    assert_eq!(search("search=\"tommy\"").await, "tommy", "exact");
    assert_eq!(search("search=*").await, "lorne,tommy,vader");
    assert_eq!(search("username=o").await, "lorne,tommy", "contains");
    assert_eq!(search("username=tom&exact=true").await, "");
    assert_eq!(search("username=TOMMY&exact=true").await, "tommy");
    assert_eq!(search("email=malvo_lrn@mail.com&exact=true").await, "lorne");
    assert_eq!(search("lastName=shelby").await, "tommy");
}

#[tokio::test]
async fn count_answers_a_bare_number() {
    let app = TestApp::spawn().await;
    let token = app.admin_token().await;
    assert_eq!(get(&app, "/users/count", &token).await, json!(3));
    assert_eq!(get(&app, "/users/count?search=v", &token).await, json!(1));
    assert_eq!(
        get(&app, "/users/count?search=nobody", &token).await,
        json!(0)
    );
}

#[tokio::test]
async fn getting_a_user_answers_the_representation_or_404() {
    let app = TestApp::spawn().await;
    let token = app.admin_token().await;
    let tommy = get(&app, &format!("/users/{TOMMY_ID}"), &token).await;
    assert_eq!(tommy["username"], "tommy");
    assert_eq!(tommy["attributes"], json!({"birthDate": ["1890-01-12"]}));
    for id in ["00000000-0000-0000-0000-000000000000", "not-a-uuid"] {
        let response = app
            .admin(Method::GET, &format!("/users/{id}"), Some(&token))
            .send()
            .await
            .unwrap();
        assert_eq!(
            answer(response).await,
            (StatusCode::NOT_FOUND, json!({"error": "User not found"}))
        );
    }
}

#[tokio::test]
async fn updating_a_user_changes_only_the_given_fields() {
    let app = TestApp::spawn().await;
    let token = app.admin_token().await;
    let response = app
        .admin(Method::PUT, &format!("/users/{LORNE_ID}"), Some(&token))
        .json(&json!({
            "firstName": "Lester",
            "email": "Lester@Mail.com",
            "attributes": {"phoneNumber": ["555"]},
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let lorne = get(&app, &format!("/users/{LORNE_ID}"), &token).await;
    assert_eq!(lorne["firstName"], "Lester");
    assert_eq!(lorne["lastName"], "Malvo", "untouched");
    assert_eq!(lorne["email"], "lester@mail.com");
    assert_eq!(lorne["attributes"], json!({"phoneNumber": ["555"]}));
    assert_eq!(lorne["enabled"], true);
    app.login("lester@mail.com", "sioux_falls").await;

    let taken = app
        .admin(Method::PUT, &format!("/users/{LORNE_ID}"), Some(&token))
        .json(&json!({"email": "vader_666@mail.com"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        answer(taken).await,
        (
            StatusCode::CONFLICT,
            json!({"errorMessage": "User exists with same email"})
        )
    );
    let invalid = app
        .admin(Method::PUT, &format!("/users/{LORNE_ID}"), Some(&token))
        .json(&json!({"email": "not-an-email"}))
        .send()
        .await
        .unwrap();
    let (status, body) = answer(invalid).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["field"], "email");
    let missing = app
        .admin(
            Method::PUT,
            "/users/00000000-0000-0000-0000-000000000000",
            Some(&token),
        )
        .json(&json!({"enabled": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn creating_a_user_answers_201_with_its_location_and_the_user_can_log_in() {
    let app = TestApp::spawn().await;
    let token = app.admin_token().await;
    let response = app
        .admin(Method::POST, "/users", Some(&token))
        .json(&json!({
            "username": "Gus",
            "email": "gus@mail.com",
            "firstName": "Gus",
            "lastName": "Grimly",
            "enabled": true,
            "attributes": {"birthDate": ["1970-01-01"]},
            "credentials": [{"type": "password", "value": "duluth", "temporary": false}],
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let prefix = app.url("/admin/realms/ironvessel/users/");
    assert!(location.starts_with(&prefix), "{location}");
    let id = &location[prefix.len()..];
    let gus = get(&app, &format!("/users/{id}"), &token).await;
    assert_eq!(gus["username"], "gus");
    assert_eq!(gus["attributes"], json!({"birthDate": ["1970-01-01"]}));
    let body = app.login("gus", "duluth").await;
    let user = app
        .authenticator()
        .authenticate(body["access_token"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(user.id, id);
    assert!(
        user.roles.contains("CUSTOMER"),
        "the default role is granted"
    );
    assert_eq!(get(&app, "/users/count", &token).await, json!(4));
}

#[tokio::test]
async fn a_created_user_without_enabled_is_disabled_as_in_keycloak() {
    let app = TestApp::spawn().await;
    let token = app.admin_token().await;
    let response = app
        .admin(Method::POST, "/users", Some(&token))
        .json(&json!({"username": "molly", "credentials": [{"value": "bemidji"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let (status, body) = answer(app.password_grant("molly", "bemidji").await).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error_description"], "Account disabled");
}

#[tokio::test]
async fn creating_a_duplicate_username_or_email_is_409() {
    let app = TestApp::spawn().await;
    let token = app.admin_token().await;
    for (body, message) in [
        (
            json!({"username": "TOMMY"}),
            "User exists with same username",
        ),
        (
            json!({"username": "thomas", "email": "peaky_blinder@mail.com"}),
            "User exists with same email",
        ),
    ] {
        let response = app
            .admin(Method::POST, "/users", Some(&token))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(
            answer(response).await,
            (StatusCode::CONFLICT, json!({ "errorMessage": message }))
        );
    }
    let nameless = app
        .admin(Method::POST, "/users", Some(&token))
        .json(&json!({"email": "x@mail.com"}))
        .send()
        .await
        .unwrap();
    let (status, body) = answer(nameless).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["field"], "username");
    assert_eq!(body["errorMessage"], "error-user-attribute-required");
}

#[tokio::test]
async fn the_admin_api_without_a_valid_token_is_401() {
    let app = TestApp::spawn().await;
    for token in [None, Some("garbage")] {
        let response = app
            .admin(Method::GET, "/users", token)
            .send()
            .await
            .unwrap();
        assert_eq!(
            answer(response).await,
            (
                StatusCode::UNAUTHORIZED,
                json!({"error": "HTTP 401 Unauthorized"})
            )
        );
    }
    let refresh = app.login("tommy", "garrison_1918").await["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let response = app
        .admin(Method::GET, "/users", Some(&refresh))
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        StatusCode::UNAUTHORIZED,
        "a refresh token is no bearer token"
    );
}

#[tokio::test]
async fn the_admin_api_with_a_customer_token_is_403() {
    let app = TestApp::spawn().await;
    let tommy = app.login("tommy", "garrison_1918").await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    for (method, path) in [
        (Method::GET, "/users".to_owned()),
        (Method::GET, "/users/count".to_owned()),
        (Method::GET, format!("/users/{TOMMY_ID}")),
        (Method::PUT, format!("/users/{TOMMY_ID}")),
        (Method::POST, "/users".to_owned()),
    ] {
        let response = app
            .admin(method.clone(), &path, Some(&tommy))
            .json(&json!({"enabled": true, "username": "x"}))
            .send()
            .await
            .unwrap();
        assert_eq!(
            answer(response).await,
            (
                StatusCode::FORBIDDEN,
                json!({"error": "HTTP 403 Forbidden"})
            ),
            "{method} {path}"
        );
    }
    let admin = app.admin_token().await;
    let response = app
        .client
        .get(app.url("/admin/realms/nope/users"))
        .bearer_auth(admin)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
}
