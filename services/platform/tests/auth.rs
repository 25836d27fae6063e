//! Bearer-token validation against a JWKS served over HTTP, with and without the cache of
//! tokens verified before.

use std::time::Duration;

use platform::auth::{AuthConfig, AuthError, Authenticator};
use testkit::tokens::{TestIdp, TokenSpec};

fn authenticator(idp: &TestIdp, token_cache_size: usize) -> Authenticator {
    Authenticator::new(AuthConfig {
        // Every unknown kid fetches the JWKS again, so a rotation is seen at once.
        min_refresh_interval: Duration::ZERO,
        token_cache_size,
        ..idp.auth_config()
    })
}

fn assert_invalid(result: Result<platform::auth::CurrentUser, AuthError>, what: &str) {
    match result {
        Err(AuthError::Invalid(_)) => {}
        other => panic!("{what}: expected an invalid-token error, got {other:?}"),
    }
}

#[tokio::test]
async fn a_token_seen_before_gives_the_same_user_as_its_first_validation() {
    let idp = TestIdp::start().await;
    let token = idp.manager("alice");
    for size in [0, 100] {
        let auth = authenticator(&idp, size);
        let first = auth.authenticate(&token).await.expect("valid token");
        let again = auth.authenticate(&token).await.expect("valid token");
        assert_eq!(first, again, "cache size {size}");
        assert_eq!(again.id, "alice");
        assert_eq!(again.username.as_deref(), Some("user-alice"));
        assert!(again.roles.contains("MANAGER") && again.roles.contains("CUSTOMER"));
        assert_eq!(&*again.token, token);
    }
}

#[tokio::test]
async fn a_forged_token_is_refused_after_the_genuine_one_with_the_same_claims_was_accepted() {
    let idp = TestIdp::start().await;
    let auth = authenticator(&idp, 100);
    let genuine = idp.customer("bob");
    auth.authenticate(&genuine).await.expect("valid token");
    let forged = idp.token(&TokenSpec {
        rogue_signature: true,
        ..TokenSpec::customer("bob")
    });
    assert_invalid(auth.authenticate(&forged).await, "forged token");
    // The genuine one is still good.
    assert_eq!(auth.authenticate(&genuine).await.expect("valid").id, "bob");
}

#[tokio::test]
async fn an_expired_token_is_refused_with_or_without_the_cache() {
    let idp = TestIdp::start().await;
    let expired = idp.token(&TokenSpec {
        expires_in: -60,
        ..TokenSpec::customer("carol")
    });
    for size in [0, 100] {
        let auth = authenticator(&idp, size);
        assert_invalid(auth.authenticate(&expired).await, "expired token");
        assert_invalid(auth.authenticate(&expired).await, "expired token, again");
    }
}

#[tokio::test]
async fn a_remembered_token_stops_validating_once_its_key_has_left_the_jwks() {
    let idp = TestIdp::start().await;
    let auth = authenticator(&idp, 100);
    let old = idp.customer("dave");
    auth.authenticate(&old)
        .await
        .expect("valid before the rotation");
    auth.authenticate(&old).await.expect("remembered");

    idp.rotate().await;
    let new = idp.token(&TokenSpec {
        next_key: true,
        ..TokenSpec::customer("erin")
    });
    // The new kid makes the service fetch the keys: the old key is gone.
    assert_eq!(auth.authenticate(&new).await.expect("new key").id, "erin");
    assert_invalid(auth.authenticate(&old).await, "token of a retired key");
}

#[tokio::test]
async fn a_remembered_token_changed_in_one_character_is_verified_again_and_refused() {
    let idp = TestIdp::start().await;
    let auth = authenticator(&idp, 100);
    let genuine = idp.customer("frank");
    auth.authenticate(&genuine).await.expect("valid token");
    // Same header and signature, one character of the claims changed: the cache must
    // not answer for it (it compares whole tokens), and the signature check refuses it.
    let (header, rest) = genuine.split_once('.').expect("a JWT");
    let (claims, signature) = rest.split_once('.').expect("a JWT");
    let mut changed: Vec<char> = claims.chars().collect();
    changed[10] = if changed[10] == 'A' { 'B' } else { 'A' };
    let altered = format!(
        "{header}.{}.{signature}",
        changed.into_iter().collect::<String>()
    );
    assert_invalid(auth.authenticate(&altered).await, "altered token");
    assert_eq!(
        auth.authenticate(&genuine).await.expect("valid").id,
        "frank"
    );
}
