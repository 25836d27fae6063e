//! Password hashing with argon2id (PHC strings, so each hash records its own cost and a
//! cost change applies to new passwords without breaking old ones).
//!
//! Hashing and verifying are deliberately slow and memory-hard (19 MiB each by default).
//! Request handlers run them through [`PasswordHasher::offload`], which bounds how many
//! run at once (a login storm queues instead of spawning one 19 MiB hash per request on
//! the blocking pool) and reuses the hashes' memory: the work area is a few buffers
//! allocated once, so the service's memory stays at `concurrency × memory` above its
//! base however many users log in.

use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use argon2::{
    Algorithm, Argon2, Block, Params, PasswordHash, Version,
    password_hash::{Output, ParamsString, SaltString},
};
use tokio::sync::Semaphore;

/// argon2id cost, and how many hashes may run at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordHashConfig {
    /// Memory in KiB (OWASP's 19 MiB by default).
    pub memory_kib: u32,
    /// Passes over the memory.
    pub iterations: u32,
    /// Hashes computed at once through [`PasswordHasher::offload`]; each holds
    /// `memory_kib` while it runs.
    pub concurrency: usize,
}

impl Default for PasswordHashConfig {
    /// OWASP's recommendation: 19 MiB, 2 iterations, 1 lane; one hash per CPU.
    fn default() -> Self {
        Self {
            memory_kib: 19_456,
            iterations: 2,
            concurrency: std::thread::available_parallelism().map_or(2, |n| n.get()),
        }
    }
}

impl PasswordHashConfig {
    /// The cheapest cost argon2 allows, for tests.
    pub fn cheapest() -> Self {
        Self {
            memory_kib: Params::MIN_M_COST,
            iterations: 1,
            ..Self::default()
        }
    }
}

/// Why a password could not be hashed.
#[derive(Debug, thiserror::Error)]
#[error("password hashing failed: {0}")]
pub struct HashError(String);

impl From<argon2::password_hash::Error> for HashError {
    fn from(err: argon2::password_hash::Error) -> Self {
        Self(err.to_string())
    }
}

impl From<argon2::Error> for HashError {
    fn from(err: argon2::Error) -> Self {
        Self(err.to_string())
    }
}

/// Hashes and verifies passwords; cheap to clone (clones share the permits and the
/// work areas).
#[derive(Clone)]
pub struct PasswordHasher {
    params: Params,
    // A hash of nothing, verified against when the user is unknown, so that an unknown
    // username takes as long to reject as a wrong password.
    decoy: Arc<OnceLock<Option<String>>>,
    permits: Arc<Semaphore>,
    // Work areas not in use; at most `concurrency` are kept.
    idle: Arc<Mutex<Vec<Vec<Block>>>>,
    concurrency: usize,
}

impl std::fmt::Debug for PasswordHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordHasher")
            .field("memory_kib", &self.params.m_cost())
            .field("iterations", &self.params.t_cost())
            .field("concurrency", &self.concurrency)
            .finish()
    }
}

impl PasswordHasher {
    /// A hasher with the given cost.
    pub fn new(config: PasswordHashConfig) -> Result<Self, HashError> {
        let params = Params::new(config.memory_kib, config.iterations, 1, None)
            .map_err(|err| HashError(format!("invalid argon2 cost: {err}")))?;
        if config.concurrency == 0 {
            return Err(HashError(
                "the hashing concurrency must be at least 1".to_owned(),
            ));
        }
        Ok(Self {
            params,
            decoy: Arc::new(OnceLock::new()),
            permits: Arc::new(Semaphore::new(config.concurrency)),
            idle: Arc::new(Mutex::new(Vec::new())),
            concurrency: config.concurrency,
        })
    }

    /// Runs `work` (hashing or verifying) on the blocking pool once one of the
    /// `concurrency` permits is free.
    pub async fn offload<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Self) -> T + Send + 'static,
    ) -> Result<T, HashError> {
        let permit = Arc::clone(&self.permits)
            .acquire_owned()
            .await
            .map_err(|err| HashError(err.to_string()))?;
        let hasher = self.clone();
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            work(&hasher)
        })
        .await
        .map_err(|err| HashError(format!("hashing task failed: {err}")))
    }

    /// Runs `compute` with a work area of at least `blocks` blocks, reusing an idle one.
    fn with_memory<T>(&self, blocks: usize, compute: impl FnOnce(&mut [Block]) -> T) -> T {
        let idle = || self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        let mut memory = idle().pop().unwrap_or_default();
        if memory.len() < blocks {
            memory.resize(blocks, Block::default());
        }
        let result = compute(&mut memory[..blocks]);
        let mut idle = idle();
        if idle.len() < self.concurrency {
            idle.push(memory);
        }
        result
    }

    /// Computes the argon2 output of `password` with the given algorithm and salt.
    fn compute(
        &self,
        argon2: &Argon2<'_>,
        params: &Params,
        password: &str,
        salt: &[u8],
        output_len: usize,
    ) -> Result<Output, HashError> {
        self.with_memory(params.block_count(), |memory| {
            Output::init_with(output_len, |out| {
                argon2
                    .hash_password_into_with_memory(password.as_bytes(), salt, out, &mut *memory)
                    .map_err(Into::into)
            })
        })
        .map_err(Into::into)
    }

    /// The PHC string of `password` with a fresh random salt.
    pub fn hash(&self, password: &str) -> Result<String, HashError> {
        let salt_bytes: [u8; 16] = rand::random();
        let salt = SaltString::encode_b64(&salt_bytes)?;
        let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, self.params.clone());
        let output = self.compute(
            &argon2,
            &self.params,
            password,
            &salt_bytes,
            Params::DEFAULT_OUTPUT_LEN,
        )?;
        let hash = PasswordHash {
            algorithm: Algorithm::Argon2id.ident(),
            version: Some(Version::V0x13.into()),
            params: ParamsString::try_from(&self.params)?,
            salt: Some(salt.as_salt()),
            hash: Some(output),
        };
        Ok(hash.to_string())
    }

    /// Whether `password` matches `phc` (a malformed hash matches nothing). The hash's
    /// own algorithm, version and cost are used, so older hashes keep verifying.
    pub fn verify(&self, password: &str, phc: &str) -> bool {
        match self.matches(password, phc) {
            Ok(matches) => matches,
            Err(err) => {
                tracing::warn!(error = %err, "stored password hash is malformed");
                false
            }
        }
    }

    fn matches(&self, password: &str, phc: &str) -> Result<bool, HashError> {
        let parsed = PasswordHash::new(phc)?;
        let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
            return Err(HashError("the hash has no salt or no output".to_owned()));
        };
        let algorithm = Algorithm::try_from(parsed.algorithm)?;
        let version = parsed
            .version
            .map(Version::try_from)
            .transpose()?
            .unwrap_or_default();
        let params = Params::try_from(&parsed)?;
        let mut salt_buffer = [0u8; 64];
        let salt = salt.decode_b64(&mut salt_buffer)?;
        let argon2 = Argon2::new(algorithm, version, params.clone());
        let computed = self.compute(&argon2, &params, password, salt, expected.len())?;
        // `Output`'s equality is constant-time.
        Ok(computed == expected)
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
            concurrency: 1,
        })
        .unwrap();
        assert!(other.verify("sioux_falls", &hash));
    }

    #[test]
    fn hashes_interoperate_with_the_argon2_crates_own_hashing() {
        use argon2::{PasswordHasher as _, PasswordVerifier as _};
        let ours = hasher().hash("garrison_1918").unwrap();
        let upstream = Argon2::default();
        upstream
            .verify_password(b"garrison_1918", &PasswordHash::new(&ours).unwrap())
            .expect("the argon2 crate verifies our hash");
        let salt = SaltString::encode_b64(b"sixteen byte salt").unwrap();
        let theirs = upstream
            .hash_password(b"sioux_falls", &salt)
            .unwrap()
            .to_string();
        assert!(hasher().verify("sioux_falls", &theirs));
        assert!(!hasher().verify("sioux_fall", &theirs));
    }

    #[test]
    fn a_hash_without_output_matches_nothing() {
        let hash = hasher().hash("x").unwrap();
        let (without, _) = hash.rsplit_once('$').unwrap();
        assert!(!hasher().verify("x", without));
    }

    #[test]
    fn work_areas_are_reused_not_reallocated() {
        let hasher = hasher();
        for _ in 0..3 {
            hasher.hash("x").unwrap();
        }
        assert_eq!(hasher.idle.lock().unwrap().len(), 1);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn offloaded_hashes_run_at_most_concurrency_at_once() {
        use std::sync::{
            Barrier,
            atomic::{AtomicUsize, Ordering},
        };
        let hasher = PasswordHasher::new(PasswordHashConfig {
            concurrency: 2,
            ..PasswordHashConfig::cheapest()
        })
        .unwrap();
        let running = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        // Two must be able to run together (the barrier waits for a pair), and no more.
        let pairs = Arc::new(Barrier::new(2));
        let tasks: Vec<_> = (0..8)
            .map(|i| {
                let (hasher, running, peak, pairs) = (
                    hasher.clone(),
                    Arc::clone(&running),
                    Arc::clone(&peak),
                    Arc::clone(&pairs),
                );
                tokio::spawn(async move {
                    hasher
                        .offload(move |h| {
                            let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                            peak.fetch_max(now, Ordering::SeqCst);
                            pairs.wait();
                            let hash = h.hash(&format!("password {i}")).unwrap();
                            running.fetch_sub(1, Ordering::SeqCst);
                            h.verify(&format!("password {i}"), &hash)
                        })
                        .await
                        .unwrap()
                })
            })
            .collect();
        for task in tasks {
            assert!(task.await.unwrap());
        }
        assert_eq!(peak.load(Ordering::SeqCst), 2);
        assert!(hasher.idle.lock().unwrap().len() <= 2);
    }

    #[test]
    fn no_concurrency_is_refused() {
        let err = PasswordHasher::new(PasswordHashConfig {
            concurrency: 0,
            ..PasswordHashConfig::cheapest()
        })
        .unwrap_err();
        assert!(err.to_string().contains("concurrency"), "{err}");
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
            concurrency: 1,
        })
        .unwrap_err();
        assert!(err.to_string().contains("invalid argon2 cost"));
    }
}
