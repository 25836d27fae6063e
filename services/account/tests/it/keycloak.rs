//! The Keycloak compatibility test: the admin-API adapter against recorded Keycloak
//! responses. Every test takes the provider as [`IdpSettings`], so the same checks can
//! run against any provider holding the same realm export.

use std::time::Duration;

use account::{
    domain::UserRange,
    keycloak::KeycloakDirectory,
    ports::{CustomerDirectory, DirectoryError},
};
use chrono::NaiveDate;
use platform::resilience::{Breaker, ResilienceConfig};

use crate::fake_keycloak::{FakeKeycloak, IdpSettings, LORNE, NOBODY, TOMMY, VADER};

fn directory(idp: &IdpSettings) -> KeycloakDirectory {
    let resilience = ResilienceConfig::with_timeout(Duration::from_secs(2));
    KeycloakDirectory::new(
        reqwest::Client::new(),
        &idp.config(resilience.clone()),
        Breaker::new("identity", &resilience),
    )
}

#[tokio::test]
async fn the_user_list_maps_users_with_and_without_attributes() {
    let keycloak = FakeKeycloak::start().await;
    let users = directory(&keycloak.settings())
        .list(UserRange { first: 0, max: 100 })
        .await
        .unwrap();
    let vader = users.iter().find(|u| u.customer.id == VADER).unwrap();
    assert_eq!(vader.username, "vader");
    assert_eq!(vader.customer.first_name.as_deref(), Some("Anakin"));
    assert_eq!(vader.customer.last_name.as_deref(), Some("Skywalker"));
    assert_eq!(vader.customer.email.as_deref(), Some("vader_666@mail.com"));
    assert_eq!(
        vader.customer.birth_date,
        NaiveDate::from_ymd_opt(1980, 10, 23)
    );
    assert_eq!(vader.customer.phone_number.as_deref(), Some("5738593748"));
    let lorne = users.iter().find(|u| u.customer.id == LORNE).unwrap();
    assert_eq!(lorne.customer.birth_date, None, "no attributes at all");
    assert_eq!(lorne.customer.phone_number, None);
    let tommy = users.iter().find(|u| u.customer.id == TOMMY).unwrap();
    assert_eq!(
        tommy.customer.birth_date,
        NaiveDate::from_ymd_opt(1890, 1, 12)
    );
    assert_eq!(tommy.customer.phone_number, None, "only a birth date");
    assert!(
        users
            .iter()
            .any(|u| u.username.starts_with("service-account-")),
        "the adapter reports service accounts; the use case leaves them out"
    );
}

#[tokio::test]
async fn the_list_passes_first_and_max_as_keycloak_names_them() {
    let keycloak = FakeKeycloak::start().await;
    let users = directory(&keycloak.settings())
        .list(UserRange { first: 1, max: 2 })
        .await
        .unwrap();
    assert_eq!(users.len(), 2);
    assert_eq!(users[0].customer.id, LORNE);
    let requests = keycloak
        .requests("GET", "/admin/realms/ironvessel/users")
        .await;
    assert_eq!(requests[0].url.query(), Some("first=1&max=2"));
}

#[tokio::test]
async fn a_single_user_is_found_by_id_and_an_unknown_id_is_none() {
    let keycloak = FakeKeycloak::start().await;
    let directory = directory(&keycloak.settings());
    let tommy = directory.get(TOMMY).await.unwrap().unwrap();
    assert_eq!(tommy.customer.first_name.as_deref(), Some("Thomas"));
    assert!(directory.get(NOBODY).await.unwrap().is_none());
}

#[tokio::test]
async fn enabling_and_disabling_sends_the_enabled_flag_and_reports_unknown_users() {
    let keycloak = FakeKeycloak::start().await;
    let directory = directory(&keycloak.settings());
    assert!(directory.set_enabled(VADER, false).await.unwrap());
    assert_eq!(keycloak.enabled(VADER), Some(false));
    let put = keycloak
        .requests("PUT", &format!("/admin/realms/ironvessel/users/{VADER}"))
        .await;
    let sent = put[0].body_json::<serde_json::Value>().unwrap();
    assert_eq!(sent["enabled"], false);
    assert_eq!(sent["id"], VADER);
    assert_eq!(sent["username"], "vader");
    assert!(directory.set_enabled(VADER, true).await.unwrap());
    assert_eq!(keycloak.enabled(VADER), Some(true));
    assert!(!directory.set_enabled(NOBODY, true).await.unwrap());
}

#[tokio::test]
async fn disabling_a_user_keeps_their_profile_under_keycloaks_full_replacement_put() {
    let keycloak = FakeKeycloak::start().await;
    let directory = directory(&keycloak.settings());
    let before = directory.get(VADER).await.unwrap().unwrap();
    directory.set_enabled(VADER, false).await.unwrap();
    let after = directory.get(VADER).await.unwrap().unwrap();
    assert_eq!(after, before, "names, e-mail and attributes survive");
    assert_eq!(after.customer.phone_number.as_deref(), Some("5738593748"));
}

#[tokio::test]
async fn the_service_token_comes_from_client_credentials_and_is_reused() {
    let keycloak = FakeKeycloak::start().await;
    let directory = directory(&keycloak.settings());
    directory.get(TOMMY).await.unwrap();
    directory.get(VADER).await.unwrap();
    directory
        .list(UserRange { first: 0, max: 10 })
        .await
        .unwrap();
    let tokens = keycloak.requests("POST", "/realms/").await;
    assert_eq!(tokens.len(), 1, "one token for three calls");
    let form = String::from_utf8(tokens[0].body.clone()).unwrap();
    assert!(form.contains("grant_type=client_credentials"), "{form}");
    assert!(form.contains("client_id=ironvessel-account"), "{form}");
}

#[tokio::test]
async fn a_rejected_service_token_is_replaced_and_the_call_retried_once() {
    let keycloak = FakeKeycloak::start().await;
    let directory = directory(&keycloak.settings());
    directory.get(TOMMY).await.unwrap();
    keycloak.revoke_token();
    let tommy = directory.get(TOMMY).await.unwrap();
    assert!(tommy.is_some(), "answered with the new token");
    assert_eq!(keycloak.token_requests().await, 2);
}

#[tokio::test]
async fn wrong_client_credentials_make_the_provider_unavailable_not_a_crash() {
    let keycloak = FakeKeycloak::start().await;
    let settings = IdpSettings {
        client_secret: "wrong".to_owned(),
        ..keycloak.settings()
    };
    let err = directory(&settings).get(TOMMY).await.unwrap_err();
    assert!(
        matches!(&err, DirectoryError::Unavailable(message) if message.contains("refused the service credentials")),
        "{err}"
    );
}
