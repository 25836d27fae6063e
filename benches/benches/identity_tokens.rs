//! The identity provider's token hot paths: issuing a password-grant token set (build
//! the claims, RS256-sign access and refresh token), argon2id password verification at
//! the configured cost (measured apart, it dominates a login), and validating an access
//! token with the platform's `Authenticator` as every service does (keys already cached).

use std::{hint::black_box, sync::Arc, time::Duration};

use chrono::Utc;
use criterion::{Criterion, criterion_group, criterion_main};
use identity::{
    domain::{
        Realm, User,
        realm_export::{self, RealmImport},
        token::{self, Grant},
    },
    password::{PasswordHashConfig, PasswordHasher},
    signing::{KeyRing, SigningKey},
};
use platform::auth::{AuthConfig, Authenticator};
use uuid::Uuid;
use wiremock::{Mock, MockServer, ResponseTemplate, matchers::path};

const ISSUER: &str = "http://127.0.0.1:9876/realms/ironvessel";
const JWKS_PATH: &str = "/realms/ironvessel/protocol/openid-connect/certs";

fn bundled_realm() -> RealmImport {
    let json = std::fs::read_to_string(identity::config::bundled_realm_file())
        .expect("the bundled realm file");
    realm_export::parse(&json, &|_| None, 0).expect("the bundled realm parses")
}

fn tommy(import: &RealmImport) -> User {
    import
        .users
        .iter()
        .find(|u| u.user.username == "tommy")
        .expect("tommy is in the realm")
        .user
        .clone()
}

fn grant<'a>(realm: &'a Realm, user: &'a User) -> Grant<'a> {
    Grant {
        issuer: ISSUER,
        client: realm.client("ironvessel-web").expect("the web client"),
        user,
        realm_roles: realm.effective_realm_roles(&user.realm_roles),
        session: Some(Uuid::new_v4()),
        scope: token::granted_scope(None),
        now: Utc::now(),
        access_lifespan: Duration::from_secs(3600),
        refresh_lifespan: Some(realm.settings.sso_session_idle_timeout),
    }
}

fn issuance(c: &mut Criterion) {
    let import = bundled_realm();
    let user = tommy(&import);
    let realm = &import.realm;
    let key = SigningKey::generate().expect("RSA key");
    let mut group = c.benchmark_group("identity_token_issuance");
    group.bench_function("build_claims", |b| {
        b.iter(|| black_box(grant(realm, &user)).claims());
    });
    let claims = grant(realm, &user).claims();
    group.bench_function("sign_access_token_rs256", |b| {
        b.iter(|| key.sign(black_box(&claims.access)));
    });
    // What the password grant does after the password matched.
    group.bench_function("password_grant_token_set", |b| {
        b.iter(|| {
            let claims = black_box(grant(realm, &user)).claims();
            let access = key.sign(&claims.access);
            let refresh = claims.refresh.as_ref().map(|c| key.sign(c));
            (access, refresh)
        });
    });
    group.finish();

    let mut group = c.benchmark_group("identity_password");
    // Each verification costs tens of milliseconds by design.
    group.sample_size(10);
    let config = PasswordHashConfig::default();
    let hasher = PasswordHasher::new(config).expect("argon2 parameters");
    let hash = hasher.hash("garrison_1918").expect("hash");
    group.bench_function(
        format!(
            "argon2id_verify_{}kib_{}iterations",
            config.memory_kib, config.iterations
        ),
        |b| b.iter(|| hasher.verify(black_box("garrison_1918"), &hash)),
    );
    group.finish();
}

fn validation(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let import = bundled_realm();
    let user = tommy(&import);
    let key = Arc::new(SigningKey::generate().expect("RSA key"));
    let token = key
        .sign(&grant(&import.realm, &user).claims().access)
        .expect("token");
    let jwks = KeyRing::new(vec![key]).jwks();
    let (_server, uncached, cached) = runtime.block_on(async {
        let server = MockServer::start().await;
        Mock::given(path(JWKS_PATH))
            .respond_with(ResponseTemplate::new(200).set_body_json(&jwks))
            .mount(&server)
            .await;
        let authenticator = |token_cache_size| {
            Authenticator::new(AuthConfig {
                issuer: ISSUER.to_owned(),
                jwks_url: format!("{}{JWKS_PATH}", server.uri()),
                audience: "ironvessel".to_owned(),
                leeway: Duration::from_secs(5),
                min_refresh_interval: Duration::from_secs(10),
                token_cache_size,
            })
        };
        let (uncached, cached) = (authenticator(0), authenticator(10_000));
        // Warm the key caches (and the token cache): the benchmark measures validation,
        // not the JWKS fetch.
        for auth in [&uncached, &cached] {
            auth.authenticate(&token)
                .await
                .expect("the token validates");
        }
        (server, uncached, cached)
    });
    let mut group = c.benchmark_group("identity_token_validation");
    // Signature and claims checked on every call.
    group.bench_function("platform_authenticator_rs256", |b| {
        b.iter(|| runtime.block_on(uncached.authenticate(black_box(&token))));
    });
    // The same token again, as every request of a session after its first sends it.
    group.bench_function("platform_authenticator_rs256_seen_before", |b| {
        b.iter(|| runtime.block_on(cached.authenticate(black_box(&token))));
    });
    group.finish();
}

criterion_group!(benches, issuance, validation);
criterion_main!(benches);
