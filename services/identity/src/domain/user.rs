//! Users: what the token issuer and the admin API know about them, and the rules for
//! creating and changing them (Keycloak lower-cases usernames and emails).

use std::collections::BTreeMap;

use uuid::Uuid;

use super::brute_force::LoginFailures;

/// Custom attributes (`birthDate`, `phoneNumber`, ...): Keycloak's map of string lists.
pub type Attributes = BTreeMap<String, Vec<String>>;

/// Client roles by client (`realm-management` → `[manage-users]`).
pub type ClientRoles = BTreeMap<String, Vec<String>>;

/// The longest username, email or name Keycloak accepts.
pub const MAX_LENGTH: usize = 255;

/// A user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// The id, the `sub` of their tokens.
    pub id: Uuid,
    /// Lower-case, unique in the realm.
    pub username: String,
    /// Lower-case, unique in the realm.
    pub email: Option<String>,
    /// Whether the email was verified.
    pub email_verified: bool,
    /// Given name.
    pub first_name: Option<String>,
    /// Family name.
    pub last_name: Option<String>,
    /// A disabled user gets no tokens.
    pub enabled: bool,
    /// Creation time, milliseconds since the epoch.
    pub created_timestamp: i64,
    /// Custom attributes.
    pub attributes: Attributes,
    /// Directly granted realm roles (composites not expanded).
    pub realm_roles: Vec<String>,
    /// Directly granted client roles.
    pub client_roles: ClientRoles,
    /// The client whose service account this user is.
    pub service_account_client: Option<String>,
}

impl User {
    /// `name`: "first last", as Keycloak builds it.
    pub fn full_name(&self) -> Option<String> {
        match (self.first_name.as_deref(), self.last_name.as_deref()) {
            (Some(first), Some(last)) => Some(format!("{first} {last}")),
            (Some(one), None) | (None, Some(one)) => Some(one.to_owned()),
            (None, None) => None,
        }
    }
}

/// A user together with what a password login needs.
#[derive(Debug, Clone)]
pub struct LoginRecord {
    /// The user.
    pub user: User,
    /// The argon2id PHC string, if the user has a password.
    pub password_hash: Option<String>,
    /// A temporary password must be changed before the user gets tokens.
    pub password_temporary: bool,
    /// Failed logins so far.
    pub failures: LoginFailures,
}

/// Why a user cannot be created or changed; `field` names the attribute as Keycloak does.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValidationError {
    /// A required attribute is missing.
    #[error("{0}: required")]
    Required(&'static str),
    /// An attribute is malformed or too long.
    #[error("{field}: {message}")]
    Invalid {
        /// The attribute.
        field: &'static str,
        /// What is wrong.
        message: &'static str,
    },
}

impl ValidationError {
    /// The attribute at fault.
    pub fn field(&self) -> &'static str {
        match self {
            Self::Required(field) | Self::Invalid { field, .. } => field,
        }
    }

    /// Keycloak's message key (`error-user-attribute-required`, ...).
    pub fn keycloak_message(&self) -> &'static str {
        match self {
            Self::Required(_) => "error-user-attribute-required",
            Self::Invalid { field: "email", .. } => "error-invalid-email",
            Self::Invalid { .. } => "error-invalid-length",
        }
    }
}

/// A username as stored: trimmed, lower-case, 1..=255 characters.
pub fn username(raw: &str) -> Result<String, ValidationError> {
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Err(ValidationError::Required("username"));
    }
    if trimmed.chars().count() > MAX_LENGTH {
        return Err(ValidationError::Invalid {
            field: "username",
            message: "at most 255 characters",
        });
    }
    Ok(trimmed.to_lowercase())
}

/// An email as stored: trimmed, lower-case, `local@domain`; empty means none.
pub fn email(raw: Option<&str>) -> Result<Option<String>, ValidationError> {
    let Some(trimmed) = raw.map(str::trim).filter(|e| !e.is_empty()) else {
        return Ok(None);
    };
    let invalid = ValidationError::Invalid {
        field: "email",
        message: "not a valid email address",
    };
    if trimmed.chars().count() > MAX_LENGTH || trimmed.chars().any(char::is_whitespace) {
        return Err(invalid);
    }
    match trimmed.split_once('@') {
        Some((local, domain))
            if !local.is_empty() && !domain.is_empty() && !domain.contains('@') =>
        {
            Ok(Some(trimmed.to_lowercase()))
        }
        _ => Err(invalid),
    }
}

/// A first or last name: trimmed, empty means none, at most 255 characters.
pub fn name(field: &'static str, raw: Option<&str>) -> Result<Option<String>, ValidationError> {
    let Some(trimmed) = raw.map(str::trim).filter(|n| !n.is_empty()) else {
        return Ok(None);
    };
    if trimmed.chars().count() > MAX_LENGTH {
        return Err(ValidationError::Invalid {
            field,
            message: "at most 255 characters",
        });
    }
    Ok(Some(trimmed.to_owned()))
}

/// A user to create (through the admin API or the realm import); the password is
/// hashed by the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUser {
    /// The user as it will be stored.
    pub user: User,
    /// The argon2id PHC string of their password, if they have one.
    pub password_hash: Option<String>,
    /// Whether that password is temporary.
    pub password_temporary: bool,
}

/// A partial update from the admin API: only the given fields change.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserUpdate {
    /// New `enabled`.
    pub enabled: Option<bool>,
    /// New `emailVerified`.
    pub email_verified: Option<bool>,
    /// New given name (`Some(None)` clears it).
    pub first_name: Option<Option<String>>,
    /// New family name (`Some(None)` clears it).
    pub last_name: Option<Option<String>>,
    /// New email (`Some(None)` clears it).
    pub email: Option<Option<String>>,
    /// Replaces every attribute.
    pub attributes: Option<Attributes>,
}

impl UserUpdate {
    /// Applies the update to `user`.
    pub fn apply(&self, user: &mut User) {
        if let Some(enabled) = self.enabled {
            user.enabled = enabled;
        }
        if let Some(verified) = self.email_verified {
            user.email_verified = verified;
        }
        if let Some(first) = &self.first_name {
            user.first_name.clone_from(first);
        }
        if let Some(last) = &self.last_name {
            user.last_name.clone_from(last);
        }
        if let Some(email) = &self.email {
            user.email.clone_from(email);
        }
        if let Some(attributes) = &self.attributes {
            user.attributes.clone_from(attributes);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_are_trimmed_and_lower_cased() {
        assert_eq!(username("  Vader ").unwrap(), "vader");
        assert_eq!(
            username(" ").unwrap_err(),
            ValidationError::Required("username")
        );
        assert!(username(&"x".repeat(256)).is_err());
    }

    #[test]
    fn emails_need_a_local_part_and_a_domain() {
        assert_eq!(
            email(Some("Vader_666@Mail.com")).unwrap().as_deref(),
            Some("vader_666@mail.com")
        );
        assert_eq!(email(Some("")).unwrap(), None);
        assert_eq!(email(None).unwrap(), None);
        for bad in ["vader", "@mail.com", "vader@", "a@b@c", "a b@c"] {
            let err = email(Some(bad)).unwrap_err();
            assert_eq!(err.field(), "email", "{bad}");
            assert_eq!(err.keycloak_message(), "error-invalid-email");
        }
    }

    #[test]
    fn the_full_name_joins_first_and_last() {
        let mut user = User {
            id: Uuid::nil(),
            username: "tommy".to_owned(),
            email: None,
            email_verified: false,
            first_name: Some("Thomas".to_owned()),
            last_name: Some("Shelby".to_owned()),
            enabled: true,
            created_timestamp: 0,
            attributes: Attributes::new(),
            realm_roles: Vec::new(),
            client_roles: ClientRoles::new(),
            service_account_client: None,
        };
        assert_eq!(user.full_name().as_deref(), Some("Thomas Shelby"));
        user.first_name = None;
        assert_eq!(user.full_name().as_deref(), Some("Shelby"));
    }

    #[test]
    fn an_update_changes_only_the_given_fields() {
        let mut user = User {
            id: Uuid::nil(),
            username: "lorne".to_owned(),
            email: Some("malvo_lrn@mail.com".to_owned()),
            email_verified: true,
            first_name: Some("Lorne".to_owned()),
            last_name: Some("Malvo".to_owned()),
            enabled: true,
            created_timestamp: 0,
            attributes: Attributes::new(),
            realm_roles: Vec::new(),
            client_roles: ClientRoles::new(),
            service_account_client: None,
        };
        UserUpdate {
            enabled: Some(false),
            last_name: Some(None),
            ..UserUpdate::default()
        }
        .apply(&mut user);
        assert!(!user.enabled);
        assert_eq!(user.first_name.as_deref(), Some("Lorne"));
        assert_eq!(user.last_name, None);
        assert_eq!(user.email.as_deref(), Some("malvo_lrn@mail.com"));
    }
}
