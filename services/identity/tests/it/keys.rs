//! Key rotation: the new key signs, the previous one stays published, so tokens issued
//! before the rotation keep validating until they expire.

use identity::signing::SigningKey;
use secrecy::ExposeSecret;
use serde_json::Value;

use crate::helpers::{DEADLINE, Options, TestApp, header};

async fn published_kids(app: &TestApp) -> Vec<String> {
    let jwks: Value = app
        .client
        .get(app.url("/realms/ironvessel/protocol/openid-connect/certs"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_token_issued_before_rotation_still_validates_and_new_tokens_use_the_new_key() {
    let app = TestApp::spawn().await;
    let auth = app.authenticator();
    let before = app.login("tommy", "garrison_1918").await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    auth.authenticate(&before)
        .await
        .expect("valid before rotation");
    let old_kid = header(&before)["kid"].as_str().unwrap().to_owned();

    let new_kid = app.identity.rotate_signing_key().await.expect("rotation");
    assert_ne!(new_kid, old_kid);
    assert_eq!(
        published_kids(&app).await,
        [new_kid.clone(), old_kid.clone()],
        "current first, then previous"
    );

    let after = app.login("tommy", "garrison_1918").await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(header(&after)["kid"], new_kid.as_str());
    auth.authenticate(&after)
        .await
        .expect("the new key is fetched");
    auth.authenticate(&before)
        .await
        .expect("the old token still validates");
    app.authenticator()
        .authenticate(&before)
        .await
        .expect("a fresh authenticator finds the previous key in the JWKS");

    // A second rotation retires the oldest key from the JWKS.
    let second = app
        .identity
        .rotate_signing_key()
        .await
        .expect("second rotation");
    assert_eq!(
        published_kids(&app).await,
        [second, new_kid],
        "only the current and the previous key"
    );
}

#[tokio::test]
async fn a_key_rotated_by_another_process_reaches_the_running_service() {
    let app = TestApp::spawn().await;
    let old = published_kids(&app).await;
    // What `identity --rotate-key` does, from its own connection pool.
    let new_kid = identity::startup::rotate_signing_key(app.config())
        .await
        .expect("rotation");
    let kids = testkit::eventually(
        "the running service to publish the new key",
        DEADLINE,
        || async {
            let kids = published_kids(&app).await;
            (kids.first() == Some(&new_kid)).then_some(kids)
        },
    )
    .await;
    assert_eq!(kids[1..], old[..], "the previous key stays published");
    let token = app.login("tommy", "garrison_1918").await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(header(&token)["kid"], new_kid.as_str());
    app.authenticator()
        .authenticate(&token)
        .await
        .expect("valid");
}

#[tokio::test]
async fn a_configured_signing_key_signs_the_tokens() {
    let key = SigningKey::generate().expect("RSA key");
    let app = TestApp::spawn_with(Options {
        signing_key_pem: Some(key.private_pem().expose_secret().to_owned()),
        ..Options::default()
    })
    .await;
    assert_eq!(published_kids(&app).await, [key.kid()]);
    let token = app.login("vader", "i_hate_sand").await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(header(&token)["kid"], key.kid());
    app.authenticator()
        .authenticate(&token)
        .await
        .expect("valid");
}
