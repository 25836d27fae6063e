//! The admin API's user search, with Keycloak's semantics turned into lower-case SQL
//! `LIKE` patterns (backslash escapes):
//!
//! - `search`: every whitespace-separated term must match the username, email, first or
//!   last name; `foo` and `foo*` match by prefix, `*foo*` anywhere, `"foo"` exactly.
//! - `username`, `email`, `firstName`, `lastName`: contain the value, or equal it when
//!   `exact=true`.
//!
//! Service-account users are never listed, as in Keycloak.

/// The default and largest page (`max`).
pub const DEFAULT_MAX: i64 = 100;

/// A user listing or count.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserQuery {
    /// Patterns that must each match one of username, email, first or last name.
    pub search: Vec<String>,
    /// Pattern on the username.
    pub username: Option<String>,
    /// Pattern on the email.
    pub email: Option<String>,
    /// Pattern on the first name.
    pub first_name: Option<String>,
    /// Pattern on the last name.
    pub last_name: Option<String>,
    /// Only enabled (or disabled) users.
    pub enabled: Option<bool>,
    /// Users to skip.
    pub first: i64,
    /// Users to return.
    pub max: i64,
}

/// The raw query parameters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchParams {
    /// `search`.
    pub search: Option<String>,
    /// `username`.
    pub username: Option<String>,
    /// `email`.
    pub email: Option<String>,
    /// `firstName`.
    pub first_name: Option<String>,
    /// `lastName`.
    pub last_name: Option<String>,
    /// `enabled`.
    pub enabled: Option<bool>,
    /// `exact`.
    pub exact: Option<bool>,
    /// `first` (negative means 0).
    pub first: Option<i64>,
    /// `max` (negative means the default).
    pub max: Option<i64>,
}

impl SearchParams {
    /// The query these parameters ask for.
    pub fn query(&self) -> UserQuery {
        let exact = self.exact.unwrap_or(false);
        let attribute =
            |value: &Option<String>| value.as_deref().map(|v| attribute_pattern(v, exact));
        UserQuery {
            search: self
                .search
                .as_deref()
                .map(search_patterns)
                .unwrap_or_default(),
            username: attribute(&self.username),
            email: attribute(&self.email),
            first_name: attribute(&self.first_name),
            last_name: attribute(&self.last_name),
            enabled: self.enabled,
            first: self.first.unwrap_or(0).max(0),
            max: match self.max {
                Some(max) if max >= 0 => max,
                _ => DEFAULT_MAX,
            },
        }
    }
}

fn escape(value: &str) -> String {
    value
        .to_lowercase()
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

/// The patterns of a `search` value: one per whitespace-separated term.
pub fn search_patterns(search: &str) -> Vec<String> {
    search
        .split_whitespace()
        .map(|term| {
            if term.len() >= 2 && term.starts_with('"') && term.ends_with('"') {
                return escape(&term[1..term.len() - 1]);
            }
            let mut pattern = escape(term).replace('*', "%");
            if !pattern.ends_with('%') {
                pattern.push('%');
            }
            pattern
        })
        .collect()
}

/// The pattern of an attribute filter: the value anywhere, or exactly.
pub fn attribute_pattern(value: &str, exact: bool) -> String {
    let escaped = escape(value.trim());
    if exact {
        escaped
    } else {
        format!("%{escaped}%")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_terms_match_by_prefix_infix_or_exactly() {
        assert_eq!(search_patterns("Vad"), ["vad%"]);
        assert_eq!(search_patterns("vad*"), ["vad%"]);
        assert_eq!(search_patterns("*ade*"), ["%ade%"]);
        assert_eq!(search_patterns("\"vader\""), ["vader"]);
        assert_eq!(search_patterns(" anakin  sky "), ["anakin%", "sky%"]);
    }

    #[test]
    fn like_wildcards_in_input_are_escaped() {
        assert_eq!(search_patterns("vader_666"), ["vader\\_666%"]);
        assert_eq!(attribute_pattern("100%", false), "%100\\%%");
        assert_eq!(attribute_pattern("Tommy", true), "tommy");
    }

    #[test]
    fn paging_defaults_to_the_first_hundred() {
        let query = SearchParams::default().query();
        assert_eq!((query.first, query.max), (0, DEFAULT_MAX));
        let query = SearchParams {
            first: Some(-3),
            max: Some(-1),
            ..SearchParams::default()
        }
        .query();
        assert_eq!((query.first, query.max), (0, DEFAULT_MAX));
    }
}
