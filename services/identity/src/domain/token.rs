//! The claims of the tokens we issue, shaped like Keycloak's: the access token (`typ`
//! `Bearer`), the refresh token (`typ` `Refresh`, audience = the issuer, so no service
//! accepts it as an access token) and the ID token (`typ` `ID`, audience = the client).

use std::{collections::BTreeMap, time::Duration};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use uuid::Uuid;

use super::{Client, User};

/// `typ` of access tokens.
pub const BEARER: &str = "Bearer";
/// `typ` of refresh tokens.
pub const REFRESH: &str = "Refresh";
/// `typ` of ID tokens.
pub const ID: &str = "ID";

/// `aud`: one audience is written as a string, several as an array (Keycloak's form).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Audience(pub Vec<String>);

impl Audience {
    /// No audience (the claim is left out).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether `aud` names `audience`.
    pub fn contains(&self, audience: &str) -> bool {
        self.0.iter().any(|a| a == audience)
    }
}

impl Serialize for Audience {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.0.as_slice() {
            [one] => serializer.serialize_str(one),
            many => many.serialize(serializer),
        }
    }
}

impl<'de> Deserialize<'de> for Audience {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum OneOrMany {
            One(String),
            Many(Vec<String>),
        }
        Ok(match OneOrMany::deserialize(deserializer)? {
            OneOrMany::One(one) => Self(vec![one]),
            OneOrMany::Many(many) => Self(many),
        })
    }
}

/// `{"roles": [...]}` in `realm_access` and `resource_access`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Roles {
    /// Role names.
    #[serde(default)]
    pub roles: Vec<String>,
}

/// The profile claims of access and ID tokens (the `profile` and `email` scopes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Profile {
    /// Whether the email was verified.
    pub email_verified: bool,
    /// "first last".
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub name: Option<String>,
    /// The username.
    pub preferred_username: String,
    /// First name.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub given_name: Option<String>,
    /// Last name.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub family_name: Option<String>,
    /// Email.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub email: Option<String>,
}

impl Profile {
    fn of(user: &User) -> Self {
        Self {
            email_verified: user.email_verified,
            name: user.full_name(),
            preferred_username: user.username.clone(),
            given_name: user.first_name.clone(),
            family_name: user.last_name.clone(),
            email: user.email.clone(),
        }
    }
}

/// An access token's claims.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    /// Expiry, seconds since the epoch.
    pub exp: i64,
    /// Issued at.
    pub iat: i64,
    /// Token id.
    pub jti: String,
    /// Issuer: the realm URL.
    pub iss: String,
    /// The audiences of the client's audience mappers; absent when there are none.
    #[serde(skip_serializing_if = "Audience::is_empty", default)]
    pub aud: Audience,
    /// The user id.
    pub sub: String,
    /// `Bearer`.
    pub typ: String,
    /// The client the token was issued to.
    pub azp: String,
    /// The session (Keycloak 26 name).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub sid: Option<String>,
    /// The session (pre-26 name, still read by some clients).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub session_state: Option<String>,
    /// Authentication context class.
    pub acr: String,
    /// Effective realm roles.
    pub realm_access: Roles,
    /// Client roles by client; absent when there are none.
    #[serde(skip_serializing_if = "BTreeMap::is_empty", default)]
    pub resource_access: BTreeMap<String, Roles>,
    /// Granted scopes, space-separated.
    pub scope: String,
    /// The client, on service-account tokens.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub client_id: Option<String>,
    /// Profile.
    #[serde(flatten)]
    pub profile: Profile,
}

/// A refresh token's claims.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefreshClaims {
    /// Expiry.
    pub exp: i64,
    /// Issued at.
    pub iat: i64,
    /// Token id.
    pub jti: String,
    /// Issuer.
    pub iss: String,
    /// The issuer again: a refresh token is for the provider only.
    pub aud: Audience,
    /// The user id.
    pub sub: String,
    /// `Refresh`.
    pub typ: String,
    /// The client it was issued to; only that client may use it.
    pub azp: String,
    /// The session.
    pub sid: String,
    /// Granted scopes.
    pub scope: String,
}

/// An ID token's claims (issued when the `openid` scope is asked for).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdClaims {
    /// Expiry.
    pub exp: i64,
    /// Issued at.
    pub iat: i64,
    /// Token id.
    pub jti: String,
    /// Issuer.
    pub iss: String,
    /// The client.
    pub aud: Audience,
    /// The user id.
    pub sub: String,
    /// `ID`.
    pub typ: String,
    /// The client.
    pub azp: String,
    /// The session.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub sid: Option<String>,
    /// Authentication context class.
    pub acr: String,
    /// Profile.
    #[serde(flatten)]
    pub profile: Profile,
}

/// The scopes every token gets (Keycloak's default client scopes that emit a scope).
pub const DEFAULT_SCOPES: &str = "profile email";

/// The `scope` of a token for the requested `scope` parameter: `openid` if asked
/// for, then the default scopes. Other requested scopes are ignored.
pub fn granted_scope(requested: Option<&str>) -> String {
    let openid = requested.is_some_and(|s| s.split_whitespace().any(|s| s == "openid"));
    if openid {
        format!("openid {DEFAULT_SCOPES}")
    } else {
        DEFAULT_SCOPES.to_owned()
    }
}

/// Everything a token set is made from.
#[derive(Debug, Clone)]
pub struct Grant<'a> {
    /// The realm URL.
    pub issuer: &'a str,
    /// The client the tokens are for.
    pub client: &'a Client,
    /// The user they speak for.
    pub user: &'a User,
    /// Effective realm roles.
    pub realm_roles: Vec<String>,
    /// The session: new at login, kept on refresh; none for service accounts.
    pub session: Option<Uuid>,
    /// The granted scope.
    pub scope: String,
    /// Now.
    pub now: DateTime<Utc>,
    /// Access token lifespan.
    pub access_lifespan: Duration,
    /// Refresh token lifespan; none: no refresh token.
    pub refresh_lifespan: Option<Duration>,
}

/// The claims of one token response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenClaims {
    /// The access token.
    pub access: AccessClaims,
    /// The refresh token, if one is issued.
    pub refresh: Option<RefreshClaims>,
    /// The ID token, if `openid` was asked for.
    pub id: Option<IdClaims>,
}

fn seconds(duration: Duration) -> i64 {
    i64::try_from(duration.as_secs()).unwrap_or(i64::MAX)
}

impl Grant<'_> {
    /// The claims of the tokens this grant issues.
    pub fn claims(&self) -> TokenClaims {
        let iat = self.now.timestamp();
        let sid = self.session.map(|s| s.to_string());
        let resource_access = self
            .user
            .client_roles
            .iter()
            .filter(|(_, roles)| !roles.is_empty())
            .map(|(client, roles)| {
                (
                    client.clone(),
                    Roles {
                        roles: roles.clone(),
                    },
                )
            })
            .collect();
        let access = AccessClaims {
            exp: iat.saturating_add(seconds(self.access_lifespan)),
            iat,
            jti: Uuid::new_v4().to_string(),
            iss: self.issuer.to_owned(),
            aud: Audience(self.client.audiences.clone()),
            sub: self.user.id.to_string(),
            typ: BEARER.to_owned(),
            azp: self.client.client_id.clone(),
            sid: sid.clone(),
            session_state: sid.clone(),
            acr: "1".to_owned(),
            realm_access: Roles {
                roles: self.realm_roles.clone(),
            },
            resource_access,
            scope: self.scope.clone(),
            client_id: self
                .user
                .service_account_client
                .as_ref()
                .map(|_| self.client.client_id.clone()),
            profile: Profile::of(self.user),
        };
        let refresh = match (self.refresh_lifespan, &sid) {
            (Some(lifespan), Some(sid)) => Some(RefreshClaims {
                exp: iat.saturating_add(seconds(lifespan)),
                iat,
                jti: Uuid::new_v4().to_string(),
                iss: self.issuer.to_owned(),
                aud: Audience(vec![self.issuer.to_owned()]),
                sub: access.sub.clone(),
                typ: REFRESH.to_owned(),
                azp: access.azp.clone(),
                sid: sid.clone(),
                scope: self.scope.clone(),
            }),
            _ => None,
        };
        let id = self
            .scope
            .split_whitespace()
            .any(|s| s == "openid")
            .then(|| IdClaims {
                exp: access.exp,
                iat,
                jti: Uuid::new_v4().to_string(),
                iss: self.issuer.to_owned(),
                aud: Audience(vec![access.azp.clone()]),
                sub: access.sub.clone(),
                typ: ID.to_owned(),
                azp: access.azp.clone(),
                sid,
                acr: "1".to_owned(),
                profile: access.profile.clone(),
            });
        TokenClaims {
            access,
            refresh,
            id,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::json;

    use super::*;
    use crate::domain::user::Attributes;

    fn client(audiences: &[&str]) -> Client {
        Client {
            client_id: "ironvessel-web".to_owned(),
            enabled: true,
            public_client: true,
            secret: None,
            direct_access_grants_enabled: true,
            service_accounts_enabled: false,
            standard_flow_enabled: true,
            redirect_uris: Vec::new(),
            audiences: audiences.iter().map(|a| (*a).to_owned()).collect(),
        }
    }

    fn tommy() -> User {
        User {
            id: "c908ce9d-faec-4570-b84d-71a4e77f2f4a".parse().unwrap(),
            username: "tommy".to_owned(),
            email: Some("peaky_blinder@mail.com".to_owned()),
            email_verified: true,
            first_name: Some("Thomas".to_owned()),
            last_name: Some("Shelby".to_owned()),
            enabled: true,
            created_timestamp: 0,
            attributes: Attributes::new(),
            realm_roles: Vec::new(),
            client_roles: BTreeMap::new(),
            service_account_client: None,
        }
    }

    fn grant<'a>(client: &'a Client, user: &'a User, scope: &str) -> Grant<'a> {
        Grant {
            issuer: "http://127.0.0.1:9876/realms/ironvessel",
            client,
            user,
            realm_roles: vec!["CUSTOMER".to_owned()],
            session: Some(Uuid::nil()),
            scope: scope.to_owned(),
            now: DateTime::from_timestamp(1_700_000_000, 0).unwrap(),
            access_lifespan: Duration::from_secs(300),
            refresh_lifespan: Some(Duration::from_secs(1800)),
        }
    }

    #[test]
    fn an_access_token_carries_keycloaks_claims() {
        let client = client(&["ironvessel"]);
        let user = tommy();
        let claims = grant(&client, &user, DEFAULT_SCOPES).claims();
        let mut access = serde_json::to_value(&claims.access).unwrap();
        let object = access.as_object_mut().unwrap();
        assert!(object.remove("jti").unwrap().is_string());
        assert_eq!(
            access,
            json!({
                "exp": 1_700_000_300, "iat": 1_700_000_000,
                "iss": "http://127.0.0.1:9876/realms/ironvessel", "aud": "ironvessel",
                "sub": "c908ce9d-faec-4570-b84d-71a4e77f2f4a", "typ": "Bearer",
                "azp": "ironvessel-web", "sid": Uuid::nil().to_string(),
                "session_state": Uuid::nil().to_string(), "acr": "1",
                "realm_access": {"roles": ["CUSTOMER"]}, "scope": "profile email",
                "email_verified": true, "name": "Thomas Shelby", "preferred_username": "tommy",
                "given_name": "Thomas", "family_name": "Shelby", "email": "peaky_blinder@mail.com",
            })
        );
        assert!(claims.id.is_none(), "no ID token without openid");
    }

    #[test]
    fn several_audiences_are_an_array_and_none_leaves_aud_out() {
        let user = tommy();
        let two = client(&["ironvessel", "other"]);
        let access =
            serde_json::to_value(grant(&two, &user, DEFAULT_SCOPES).claims().access).unwrap();
        assert_eq!(access["aud"], json!(["ironvessel", "other"]));
        let none = client(&[]);
        let access =
            serde_json::to_value(grant(&none, &user, DEFAULT_SCOPES).claims().access).unwrap();
        assert!(access.get("aud").is_none());
    }

    #[test]
    fn the_refresh_token_is_addressed_to_the_issuer_and_lives_for_the_idle_timeout() {
        let client = client(&["ironvessel"]);
        let user = tommy();
        let refresh = grant(&client, &user, DEFAULT_SCOPES)
            .claims()
            .refresh
            .unwrap();
        assert_eq!(refresh.typ, REFRESH);
        assert_eq!(refresh.aud, Audience(vec![refresh.iss.clone()]));
        assert_eq!(refresh.exp - refresh.iat, 1800);
    }

    #[test]
    fn openid_adds_an_id_token_for_the_client() {
        let client = client(&["ironvessel"]);
        let user = tommy();
        let scope = granted_scope(Some("openid"));
        assert_eq!(scope, "openid profile email");
        let id = grant(&client, &user, &scope).claims().id.unwrap();
        assert_eq!(id.aud, Audience(vec!["ironvessel-web".to_owned()]));
        assert_eq!(id.typ, ID);
    }

    #[test]
    fn audiences_read_back_from_string_or_array() {
        let one: Audience = serde_json::from_value(json!("a")).unwrap();
        let many: Audience = serde_json::from_value(json!(["a", "b"])).unwrap();
        assert!(one.contains("a"));
        assert_eq!(many.0.len(), 2);
    }
}
