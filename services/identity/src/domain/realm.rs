//! A realm as the token issuer sees it: its settings, realm roles (with composites) and
//! clients (with their secrets and the audiences their mappers add).

use std::{
    collections::{BTreeMap, BTreeSet},
    time::Duration,
};

use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

use super::brute_force::BruteForcePolicy;

/// Realm-wide settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RealmSettings {
    /// The realm's name (`ironvessel`), part of every path and of the issuer.
    pub name: String,
    /// A disabled realm issues nothing.
    pub enabled: bool,
    /// `accessTokenLifespan`.
    pub access_token_lifespan: Duration,
    /// `ssoSessionIdleTimeout`: the refresh token's lifespan.
    pub sso_session_idle_timeout: Duration,
    /// `loginWithEmailAllowed`.
    pub login_with_email_allowed: bool,
    /// The brute-force settings.
    pub brute_force: BruteForcePolicy,
    /// `defaultRole`: granted to users created through the admin API.
    pub default_role: String,
}

/// A realm role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Role {
    /// Its name, as it appears in `realm_access.roles`.
    pub name: String,
    /// Free text.
    pub description: Option<String>,
    /// The realm roles it includes.
    pub composites: Vec<String>,
}

/// An OIDC client.
#[derive(Debug, Clone)]
pub struct Client {
    /// `clientId`, the `azp` of its tokens.
    pub client_id: String,
    /// A disabled client gets no tokens.
    pub enabled: bool,
    /// Public clients have no secret.
    pub public_client: bool,
    /// Confidential clients' secret.
    pub secret: Option<SecretString>,
    /// May use the password grant.
    pub direct_access_grants_enabled: bool,
    /// May use the client-credentials grant (as its service-account user).
    pub service_accounts_enabled: bool,
    /// May use the browser flow (recorded; the flow itself is not implemented).
    pub standard_flow_enabled: bool,
    /// Allowed redirect URIs (recorded for the browser flow).
    pub redirect_uris: Vec<String>,
    /// What its `oidc-audience-mapper`s put in the access token's `aud`.
    pub audiences: Vec<String>,
}

impl Client {
    /// Whether `secret` is this confidential client's secret.
    pub fn secret_matches(&self, secret: &str) -> bool {
        let Some(expected) = &self.secret else {
            return false;
        };
        // Comparing digests keeps the comparison's time independent of the secret.
        Sha256::digest(expected.expose_secret().as_bytes()) == Sha256::digest(secret.as_bytes())
    }
}

/// A realm: settings, roles and clients.
#[derive(Debug, Clone)]
pub struct Realm {
    /// Settings.
    pub settings: RealmSettings,
    /// Realm roles by name.
    pub roles: BTreeMap<String, Role>,
    /// Clients by `clientId`.
    pub clients: BTreeMap<String, Client>,
}

impl Realm {
    /// The realm's name.
    pub fn name(&self) -> &str {
        &self.settings.name
    }

    /// `<public url>/realms/<name>`, the `iss` of its tokens.
    pub fn issuer(&self, public_url: &str) -> String {
        format!(
            "{}/realms/{}",
            public_url.trim_end_matches('/'),
            self.name()
        )
    }

    /// A client by `clientId`.
    pub fn client(&self, client_id: &str) -> Option<&Client> {
        self.clients.get(client_id)
    }

    /// The roles `direct` grants, composites expanded (recursively, cycles tolerated),
    /// sorted by name. Unknown names are kept: the user has them, the realm just does
    /// not describe them.
    pub fn effective_realm_roles(&self, direct: &[String]) -> Vec<String> {
        let mut seen = BTreeSet::new();
        let mut pending: Vec<&str> = direct.iter().map(String::as_str).collect();
        while let Some(name) = pending.pop() {
            if !seen.insert(name.to_owned()) {
                continue;
            }
            if let Some(role) = self.roles.get(name) {
                pending.extend(role.composites.iter().map(String::as_str));
            }
        }
        seen.into_iter().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn role(name: &str, composites: &[&str]) -> (String, Role) {
        (
            name.to_owned(),
            Role {
                name: name.to_owned(),
                description: None,
                composites: composites.iter().map(|c| (*c).to_owned()).collect(),
            },
        )
    }

    fn realm() -> Realm {
        Realm {
            settings: RealmSettings {
                name: "ironvessel".to_owned(),
                enabled: true,
                access_token_lifespan: Duration::from_secs(300),
                sso_session_idle_timeout: Duration::from_secs(1800),
                login_with_email_allowed: true,
                brute_force: BruteForcePolicy::default(),
                default_role: "default-roles-ironvessel".to_owned(),
            },
            roles: [
                role(
                    "default-roles-ironvessel",
                    &["CUSTOMER", "offline_access", "uma_authorization"],
                ),
                role("CUSTOMER", &[]),
                role("MANAGER", &[]),
                role("offline_access", &[]),
                role("uma_authorization", &[]),
                role("loop-a", &["loop-b"]),
                role("loop-b", &["loop-a"]),
            ]
            .into_iter()
            .collect(),
            clients: BTreeMap::new(),
        }
    }

    #[test]
    fn the_default_role_expands_to_customer() {
        let roles = realm().effective_realm_roles(&["default-roles-ironvessel".to_owned()]);
        assert_eq!(
            roles,
            [
                "CUSTOMER",
                "default-roles-ironvessel",
                "offline_access",
                "uma_authorization"
            ]
        );
    }

    #[test]
    fn composite_cycles_terminate() {
        let roles = realm().effective_realm_roles(&["loop-a".to_owned()]);
        assert_eq!(roles, ["loop-a", "loop-b"]);
    }

    #[test]
    fn the_issuer_is_the_realm_url() {
        assert_eq!(
            realm().issuer("http://127.0.0.1:9876/"),
            "http://127.0.0.1:9876/realms/ironvessel"
        );
    }

    #[test]
    fn only_the_right_secret_matches() {
        let client = Client {
            client_id: "c".to_owned(),
            enabled: true,
            public_client: false,
            secret: Some(SecretString::from("s3cret")),
            direct_access_grants_enabled: false,
            service_accounts_enabled: true,
            standard_flow_enabled: false,
            redirect_uris: Vec::new(),
            audiences: Vec::new(),
        };
        assert!(client.secret_matches("s3cret"));
        assert!(!client.secret_matches("s3cret "));
        assert!(
            !Client {
                secret: None,
                ..client
            }
            .secret_matches("")
        );
    }
}
