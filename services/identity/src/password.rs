//! Password hashing with argon2id (PHC strings, so each hash records its own cost and a
//! cost change applies to new passwords without breaking old ones).
//!
//! Hashing and verifying are deliberately slow; callers run them on
//! `tokio::task::spawn_blocking`.

use std::sync::{Arc, OnceLock};

use argon2::{
    Algorithm, Argon2, Params, PasswordHash, PasswordHasher as _, PasswordVerifier as _, Version,
    password_hash::SaltString,
};

/// argon2id cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordHashConfig {
    /// Memory in KiB (OWASP's 19 MiB by default).
    pub memory_kib: u32,
    /// Passes over the memory.
    pub iterations: u32,
}

impl Default for PasswordHashConfig {
    /// OWASP's recommendation: 19 MiB, 2 iterations, 1 lane.
    fn default() -> Self {
        Self {
            memory_kib: 19_456,
            iterations: 2,
        }
    }
}

impl PasswordHashConfig {
    /// The cheapest cost argon2 allows, for tests.
    pub fn cheapest() -> Self {
        Self {
            memory_kib: Params::MIN_M_COST,
            iterations: 1,
        }
    }
}

/// Why a password could not be hashed.
#[derive(Debug, thiserror::Error)]
#[error("password hashing failed: {0}")]
pub struct HashError(String);

/// Hashes and verifies passwords; cheap to clone.
#[derive(Clone)]
pub struct PasswordHasher {
    params: Params,
    // A hash of nothing, verified against when the user is unknown, so that an unknown
    // username takes as long to reject as a wrong password.
    decoy: Arc<OnceLock<Option<String>>>,
}

impl std::fmt::Debug for PasswordHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordHasher")
            .field("memory_kib", &self.params.m_cost())
            .field("iterations", &self.params.t_cost())
            .finish()
    }
}

impl PasswordHasher {
    /// A hasher with the given cost.
    pub fn new(config: PasswordHashConfig) -> Result<Self, HashError> {
        let params = Params::new(config.memory_kib, config.iterations, 1, None)
            .map_err(|err| HashError(format!("invalid argon2 cost: {err}")))?;
        Ok(Self {
            params,
            decoy: Arc::new(OnceLock::new()),
        })
    }

    fn argon2(&self) -> Argon2<'static> {
        Argon2::new(Algorithm::Argon2id, Version::V0x13, self.params.clone())
    }

    /// The PHC string of `password` with a fresh random salt.
    pub fn hash(&self, password: &str) -> Result<String, HashError> {
        let salt_bytes: [u8; 16] = rand::random();
        let salt = SaltString::encode_b64(&salt_bytes).map_err(|err| HashError(err.to_string()))?;
        self.argon2()
            .hash_password(password.as_bytes(), &salt)
            .map(|hash| hash.to_string())
            .map_err(|err| HashError(err.to_string()))
    }

    /// Whether `password` matches `phc` (a malformed hash matches nothing).
    pub fn verify(&self, password: &str, phc: &str) -> bool {
        match PasswordHash::new(phc) {
            Ok(parsed) => self
                .argon2()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok(),
            Err(err) => {
                tracing::warn!(error = %err, "stored password hash is malformed");
                false
            }
        }
    }

    /// Spends the time of one verification and fails (for unknown users).
    pub fn verify_decoy(&self, password: &str) -> bool {
        if let Some(decoy) = self.decoy.get_or_init(|| self.hash("").ok()) {
            let _ = self.verify(password, decoy);
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hasher() -> PasswordHasher {
        PasswordHasher::new(PasswordHashConfig::cheapest()).unwrap()
    }

    #[test]
    fn a_hash_verifies_its_password_only() {
        let hasher = hasher();
        let hash = hasher.hash("garrison_1918").unwrap();
        assert!(hash.starts_with("$argon2id$v=19$"), "{hash}");
        assert!(hasher.verify("garrison_1918", &hash));
        assert!(!hasher.verify("garrison_1919", &hash));
        assert!(!hasher.verify("garrison_1918", "not a hash"));
    }

    #[test]
    fn hashes_are_salted() {
        let hasher = hasher();
        assert_ne!(hasher.hash("x").unwrap(), hasher.hash("x").unwrap());
    }

    #[test]
    fn a_hash_made_at_one_cost_verifies_at_another() {
        let hash = hasher().hash("sioux_falls").unwrap();
        let other = PasswordHasher::new(PasswordHashConfig {
            memory_kib: 64,
            iterations: 2,
        })
        .unwrap();
        assert!(other.verify("sioux_falls", &hash));
    }

    #[test]
    fn the_decoy_never_matches() {
        assert!(!hasher().verify_decoy(""));
    }

    #[test]
    fn an_impossible_cost_is_refused() {
        let err = PasswordHasher::new(PasswordHashConfig {
            memory_kib: 1,
            iterations: 0,
        })
        .unwrap_err();
        assert!(err.to_string().contains("invalid argon2 cost"));
    }
}
