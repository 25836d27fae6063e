//! The part of Keycloak's realm-export JSON (`RealmRepresentation`) we import: realm
//! settings, realm roles, clients and users with credentials, attributes and roles.
//! Unknown fields are ignored, so a full Keycloak export imports too.
//!
//! As Keycloak's `--import-realm` does, string values may hold `${VAR}` or
//! `${VAR:default}` placeholders, resolved from the environment before parsing; an
//! unresolvable placeholder without a default stays as written (Keycloak's own
//! `${role_...}` message keys pass through that way).

use std::{collections::BTreeMap, time::Duration};

use secrecy::SecretString;
use serde::Deserialize;
use uuid::Uuid;

use super::{
    BruteForcePolicy, Client, Realm, RealmSettings, Role,
    user::{self, Attributes, ClientRoles, User, ValidationError},
};

/// Why a realm file cannot be imported.
#[derive(Debug, thiserror::Error)]
pub enum RealmFileError {
    /// Not JSON, or not a realm representation.
    #[error("not a Keycloak realm representation: {0}")]
    Format(#[from] serde_json::Error),
    /// A value breaks a rule.
    #[error("{0}")]
    Invalid(String),
}

/// `roles`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RolesRepresentation {
    /// Realm roles.
    #[serde(default)]
    pub realm: Vec<RoleRepresentation>,
}

/// A role.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoleRepresentation {
    /// Name.
    pub name: String,
    /// Free text.
    pub description: Option<String>,
    /// What it includes.
    pub composites: Option<CompositesRepresentation>,
}

/// A role's composites (client composites are not imported).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CompositesRepresentation {
    /// Realm roles.
    #[serde(default)]
    pub realm: Vec<String>,
}

/// A protocol mapper of a client.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProtocolMapperRepresentation {
    /// Mapper type, e.g. `oidc-audience-mapper`.
    pub protocol_mapper: String,
    /// Its settings.
    #[serde(default)]
    pub config: BTreeMap<String, String>,
}

/// A client.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClientRepresentation {
    /// `clientId`.
    pub client_id: String,
    /// Default true.
    pub enabled: Option<bool>,
    /// Default false.
    pub public_client: Option<bool>,
    /// Confidential clients' secret.
    pub secret: Option<String>,
    /// Default false.
    pub direct_access_grants_enabled: Option<bool>,
    /// Default false.
    pub service_accounts_enabled: Option<bool>,
    /// Default true.
    pub standard_flow_enabled: Option<bool>,
    /// Redirect URIs.
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    /// Protocol mappers.
    #[serde(default)]
    pub protocol_mappers: Vec<ProtocolMapperRepresentation>,
}

/// A credential of a user.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CredentialRepresentation {
    /// Only `password` is imported.
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// The plain password.
    pub value: Option<String>,
    /// Must be changed at first login.
    pub temporary: Option<bool>,
}

/// A user.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserRepresentation {
    /// Id; generated when absent.
    pub id: Option<String>,
    /// Username.
    pub username: String,
    /// Email.
    pub email: Option<String>,
    /// Default false.
    pub email_verified: Option<bool>,
    /// First name.
    pub first_name: Option<String>,
    /// Last name.
    pub last_name: Option<String>,
    /// Default false, as in Keycloak.
    pub enabled: Option<bool>,
    /// Milliseconds since the epoch.
    pub created_timestamp: Option<i64>,
    /// Attributes.
    #[serde(default)]
    pub attributes: Attributes,
    /// Credentials.
    #[serde(default)]
    pub credentials: Vec<CredentialRepresentation>,
    /// Realm roles; absent means the realm's default role.
    pub realm_roles: Option<Vec<String>>,
    /// Client roles.
    #[serde(default)]
    pub client_roles: ClientRoles,
    /// Set on the service-account user of a client.
    pub service_account_client_id: Option<String>,
}

/// `RealmRepresentation`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RealmRepresentation {
    /// Name.
    pub realm: String,
    /// Default false, as in Keycloak.
    pub enabled: Option<bool>,
    /// Seconds; default 300.
    pub access_token_lifespan: Option<u64>,
    /// Seconds; default 1800.
    pub sso_session_idle_timeout: Option<u64>,
    /// Default true.
    pub login_with_email_allowed: Option<bool>,
    /// Default false.
    pub brute_force_protected: Option<bool>,
    /// Default 30.
    pub failure_factor: Option<u32>,
    /// Default 60.
    pub wait_increment_seconds: Option<u64>,
    /// Default 900.
    pub max_failure_wait_seconds: Option<u64>,
    /// Default 43200.
    pub max_delta_time_seconds: Option<u64>,
    /// Roles.
    #[serde(default)]
    pub roles: RolesRepresentation,
    /// The default role; default `default-roles-<realm>`.
    pub default_role: Option<RoleRepresentation>,
    /// Clients.
    #[serde(default)]
    pub clients: Vec<ClientRepresentation>,
    /// Users.
    #[serde(default)]
    pub users: Vec<UserRepresentation>,
}

/// A user to import, with their plain password (hashed by the caller).
#[derive(Debug, Clone)]
pub struct ImportedUser {
    /// The user.
    pub user: User,
    /// Their password.
    pub password: Option<SecretString>,
    /// Whether it is temporary.
    pub temporary: bool,
}

/// A parsed realm file.
#[derive(Debug, Clone)]
pub struct RealmImport {
    /// Settings, roles and clients.
    pub realm: Realm,
    /// Users, service-account users included (one is made up for each client that
    /// has service accounts enabled and none in the file).
    pub users: Vec<ImportedUser>,
}

/// Replaces `${VAR}` and `${VAR:default}` in `text` using `lookup`.
pub fn substitute(text: &str, lookup: &dyn Fn(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            out.push_str(&rest[start..]);
            return out;
        };
        let inner = &after[..end];
        let (name, default) = match inner.split_once(':') {
            Some((name, default)) => (name, Some(default)),
            None => (inner, None),
        };
        match lookup(name).or_else(|| default.map(str::to_owned)) {
            Some(value) => out.push_str(&value),
            None => out.push_str(&rest[start..start + 2 + end + 1]),
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    out
}

fn substitute_all(value: &mut serde_json::Value, lookup: &dyn Fn(&str) -> Option<String>) {
    match value {
        serde_json::Value::String(text) if text.contains("${") => {
            *text = substitute(text, lookup);
        }
        serde_json::Value::Array(items) => {
            for item in items {
                substitute_all(item, lookup);
            }
        }
        serde_json::Value::Object(fields) => {
            for field in fields.values_mut() {
                substitute_all(field, lookup);
            }
        }
        _ => {}
    }
}

fn invalid(context: &str, err: &ValidationError) -> RealmFileError {
    RealmFileError::Invalid(format!("{context}: {err}"))
}

/// Parses a realm file, resolving placeholders with `lookup`; `now_ms` stamps users
/// without a `createdTimestamp`.
pub fn parse(
    json: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
    now_ms: i64,
) -> Result<RealmImport, RealmFileError> {
    let mut value: serde_json::Value = serde_json::from_str(json)?;
    substitute_all(&mut value, lookup);
    let representation: RealmRepresentation = serde_json::from_value(value)?;
    convert(representation, now_ms)
}

fn audiences(client: &ClientRepresentation) -> Vec<String> {
    let mut audiences = Vec::new();
    for mapper in &client.protocol_mappers {
        if mapper.protocol_mapper != "oidc-audience-mapper"
            || mapper.config.get("access.token.claim").map(String::as_str) != Some("true")
        {
            continue;
        }
        for key in ["included.custom.audience", "included.client.audience"] {
            if let Some(audience) = mapper.config.get(key).filter(|a| !a.is_empty())
                && !audiences.contains(audience)
            {
                audiences.push(audience.clone());
            }
        }
    }
    audiences
}

/// Turns a representation into the realm and its users, applying Keycloak's defaults.
pub fn convert(rep: RealmRepresentation, now_ms: i64) -> Result<RealmImport, RealmFileError> {
    let name = rep.realm.trim().to_owned();
    if name.is_empty() || name.contains('/') {
        return Err(RealmFileError::Invalid(format!(
            "realm: {:?} is not a realm name",
            rep.realm
        )));
    }
    let default_role = rep
        .default_role
        .as_ref()
        .map_or_else(|| format!("default-roles-{name}"), |role| role.name.clone());
    let secs = Duration::from_secs;
    let defaults = BruteForcePolicy::default();
    let settings = RealmSettings {
        name: name.clone(),
        enabled: rep.enabled.unwrap_or(false),
        access_token_lifespan: secs(rep.access_token_lifespan.unwrap_or(300).max(1)),
        sso_session_idle_timeout: secs(rep.sso_session_idle_timeout.unwrap_or(1800).max(1)),
        login_with_email_allowed: rep.login_with_email_allowed.unwrap_or(true),
        brute_force: BruteForcePolicy {
            enabled: rep.brute_force_protected.unwrap_or(false),
            failure_factor: rep.failure_factor.unwrap_or(defaults.failure_factor),
            wait_increment: rep
                .wait_increment_seconds
                .map_or(defaults.wait_increment, secs),
            max_failure_wait: rep
                .max_failure_wait_seconds
                .map_or(defaults.max_failure_wait, secs),
            max_delta_time: rep
                .max_delta_time_seconds
                .map_or(defaults.max_delta_time, secs),
        },
        default_role: default_role.clone(),
    };
    let mut roles: BTreeMap<String, Role> = rep
        .roles
        .realm
        .iter()
        .map(|role| {
            (
                role.name.clone(),
                Role {
                    name: role.name.clone(),
                    description: role.description.clone(),
                    composites: role
                        .composites
                        .as_ref()
                        .map(|c| c.realm.clone())
                        .unwrap_or_default(),
                },
            )
        })
        .collect();
    // Keycloak creates the default role with every realm.
    roles.entry(default_role.clone()).or_insert_with(|| Role {
        name: default_role.clone(),
        description: None,
        composites: vec!["offline_access".to_owned(), "uma_authorization".to_owned()],
    });

    let mut clients = BTreeMap::new();
    for client in &rep.clients {
        let public_client = client.public_client.unwrap_or(false);
        let secret = client.secret.clone().filter(|s| !s.is_empty());
        if !public_client && secret.is_none() {
            return Err(RealmFileError::Invalid(format!(
                "clients[{}]: a confidential client needs a secret",
                client.client_id
            )));
        }
        clients.insert(
            client.client_id.clone(),
            Client {
                client_id: client.client_id.clone(),
                enabled: client.enabled.unwrap_or(true),
                public_client,
                secret: if public_client {
                    None
                } else {
                    secret.map(SecretString::from)
                },
                direct_access_grants_enabled: client.direct_access_grants_enabled.unwrap_or(false),
                service_accounts_enabled: client.service_accounts_enabled.unwrap_or(false),
                standard_flow_enabled: client.standard_flow_enabled.unwrap_or(true),
                redirect_uris: client.redirect_uris.clone(),
                audiences: audiences(client),
            },
        );
    }

    let mut users = Vec::with_capacity(rep.users.len());
    for rep_user in rep.users {
        let context = format!("users[{}]", rep_user.username);
        let id = match rep_user.id.as_deref() {
            Some(id) => id.parse::<Uuid>().map_err(|err| {
                RealmFileError::Invalid(format!("{context}: id {id:?} is not a UUID: {err}"))
            })?,
            None => Uuid::new_v4(),
        };
        let password = rep_user
            .credentials
            .iter()
            .find(|c| c.kind.as_deref().unwrap_or("password") == "password" && c.value.is_some());
        users.push(ImportedUser {
            user: User {
                id,
                username: user::username(&rep_user.username).map_err(|e| invalid(&context, &e))?,
                email: user::email(rep_user.email.as_deref()).map_err(|e| invalid(&context, &e))?,
                email_verified: rep_user.email_verified.unwrap_or(false),
                first_name: user::name("firstName", rep_user.first_name.as_deref())
                    .map_err(|e| invalid(&context, &e))?,
                last_name: user::name("lastName", rep_user.last_name.as_deref())
                    .map_err(|e| invalid(&context, &e))?,
                enabled: rep_user.enabled.unwrap_or(false),
                created_timestamp: rep_user.created_timestamp.unwrap_or(now_ms),
                attributes: rep_user.attributes,
                realm_roles: rep_user
                    .realm_roles
                    .unwrap_or_else(|| vec![default_role.clone()]),
                client_roles: rep_user.client_roles,
                service_account_client: rep_user.service_account_client_id,
            },
            password: password
                .and_then(|c| c.value.clone())
                .map(SecretString::from),
            temporary: password.and_then(|c| c.temporary).unwrap_or(false),
        });
    }
    // Keycloak gives every client with service accounts a user of its own.
    for client in clients.values().filter(|c| c.service_accounts_enabled) {
        let has_one = users
            .iter()
            .any(|u| u.user.service_account_client.as_deref() == Some(&client.client_id));
        if !has_one {
            users.push(ImportedUser {
                user: User {
                    id: Uuid::new_v4(),
                    username: format!("service-account-{}", client.client_id).to_lowercase(),
                    email: None,
                    email_verified: false,
                    first_name: None,
                    last_name: None,
                    enabled: true,
                    created_timestamp: now_ms,
                    attributes: Attributes::new(),
                    realm_roles: vec![default_role.clone()],
                    client_roles: ClientRoles::new(),
                    service_account_client: Some(client.client_id.clone()),
                },
                password: None,
                temporary: false,
            });
        }
    }
    Ok(RealmImport {
        realm: Realm {
            settings,
            roles,
            clients,
        },
        users,
    })
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use super::*;

    const BUNDLED: &str = include_str!("../../realms/ironvessel-realm.json");

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn placeholders_take_the_variable_or_the_default() {
        let env = |name: &str| (name == "SET").then(|| "value".to_owned());
        assert_eq!(substitute("a${SET}b", &env), "avalueb");
        assert_eq!(substitute("${UNSET:fallback}", &env), "fallback");
        assert_eq!(substitute("${SET:fallback}", &env), "value");
        assert_eq!(substitute("${UNSET:}", &env), "");
        assert_eq!(
            substitute("${role_default-roles}", &env),
            "${role_default-roles}"
        );
        assert_eq!(substitute("x ${SET} ${SET}", &env), "x value value");
        assert_eq!(substitute("${unterminated", &env), "${unterminated");
    }

    #[test]
    fn the_bundled_realm_imports_with_its_clients_roles_and_users() {
        let import = parse(BUNDLED, &no_env, 0).unwrap();
        let realm = &import.realm;
        assert_eq!(realm.name(), "ironvessel");
        assert!(realm.settings.enabled);
        assert_eq!(
            realm.settings.access_token_lifespan,
            Duration::from_secs(300)
        );
        assert!(realm.settings.brute_force.enabled);
        assert_eq!(realm.settings.brute_force.failure_factor, 10);
        let web = realm.client("ironvessel-web").unwrap();
        assert!(web.public_client && web.direct_access_grants_enabled);
        assert_eq!(web.audiences, ["ironvessel"]);
        let account = realm.client("ironvessel-account").unwrap();
        assert!(account.secret_matches("dev-account-secret"));
        assert!(account.service_accounts_enabled && !account.direct_access_grants_enabled);
        let usernames: Vec<&str> = import
            .users
            .iter()
            .map(|u| u.user.username.as_str())
            .collect();
        assert_eq!(
            usernames,
            [
                "vader",
                "tommy",
                "lorne",
                "service-account-ironvessel-account"
            ]
        );
        let vader = &import.users[0];
        assert_eq!(
            vader.password.as_ref().unwrap().expose_secret(),
            "i_hate_sand"
        );
        assert_eq!(vader.user.attributes["phoneNumber"], ["5738593748"]);
        assert_eq!(
            realm.effective_realm_roles(&vader.user.realm_roles),
            [
                "CUSTOMER",
                "MANAGER",
                "default-roles-ironvessel",
                "offline_access",
                "uma_authorization"
            ]
        );
        let service = &import.users[3];
        assert_eq!(
            service.user.client_roles["realm-management"],
            ["manage-users", "view-users", "query-users"]
        );
    }

    #[test]
    fn the_client_secret_comes_from_the_environment_when_set() {
        let env = |name: &str| {
            (name == "IRONVESSEL_ACCOUNT_CLIENT_SECRET").then(|| "from-env".to_owned())
        };
        let import = parse(BUNDLED, &env, 0).unwrap();
        let account = import.realm.client("ironvessel-account").unwrap();
        assert!(account.secret_matches("from-env"));
        assert!(!account.secret_matches("dev-account-secret"));
    }

    #[test]
    fn keycloak_defaults_apply_and_service_accounts_are_made_up() {
        let import = parse(
            r#"{"realm": "r", "clients": [{"clientId": "svc", "secret": "s", "serviceAccountsEnabled": true}],
                "users": [{"username": "Bob"}]}"#,
            &no_env,
            42,
        )
        .unwrap();
        assert!(!import.realm.settings.enabled);
        assert_eq!(import.realm.settings.brute_force.failure_factor, 30);
        assert_eq!(import.realm.settings.default_role, "default-roles-r");
        let bob = &import.users[0].user;
        assert_eq!(bob.username, "bob");
        assert!(!bob.enabled);
        assert_eq!(bob.realm_roles, ["default-roles-r"]);
        assert_eq!(bob.created_timestamp, 42);
        let service = &import.users[1].user;
        assert_eq!(service.username, "service-account-svc");
        assert_eq!(service.service_account_client.as_deref(), Some("svc"));
    }

    #[test]
    fn a_confidential_client_without_a_secret_is_refused() {
        let err = parse(
            r#"{"realm": "r", "clients": [{"clientId": "svc"}]}"#,
            &no_env,
            0,
        )
        .unwrap_err();
        assert!(err.to_string().contains("needs a secret"), "{err}");
    }

    #[test]
    fn malformed_files_are_refused() {
        assert!(parse("{", &no_env, 0).is_err());
        assert!(parse(r#"{"realm": ""}"#, &no_env, 0).is_err());
        assert!(
            parse(
                r#"{"realm": "r", "users": [{"id": "nope", "username": "u"}]}"#,
                &no_env,
                0
            )
            .is_err()
        );
    }
}
