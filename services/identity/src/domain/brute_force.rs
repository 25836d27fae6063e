//! Brute-force protection as Keycloak does it: after `failureFactor` consecutive failed
//! logins a user is locked for `waitIncrementSeconds`, longer with every further
//! multiple of the factor (up to `maxFailureWaitSeconds`); a failure older than
//! `maxDeltaTimeSeconds` no longer counts, and a successful login resets the count.

use std::time::Duration;

use chrono::{DateTime, Utc};

/// A realm's brute-force settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BruteForcePolicy {
    /// `bruteForceProtected`.
    pub enabled: bool,
    /// `failureFactor`: failures that lock the user.
    pub failure_factor: u32,
    /// `waitIncrementSeconds`: the first lock's length.
    pub wait_increment: Duration,
    /// `maxFailureWaitSeconds`: the longest lock.
    pub max_failure_wait: Duration,
    /// `maxDeltaTimeSeconds`: after this long without a failure the count starts again.
    pub max_delta_time: Duration,
}

impl Default for BruteForcePolicy {
    /// Keycloak's defaults (protection off).
    fn default() -> Self {
        Self {
            enabled: false,
            failure_factor: 30,
            wait_increment: Duration::from_secs(60),
            max_failure_wait: Duration::from_secs(900),
            max_delta_time: Duration::from_secs(43_200),
        }
    }
}

impl BruteForcePolicy {
    /// How long to lock a user whose consecutive failures just reached `failures`, if at all.
    pub fn lock_duration(&self, failures: u32) -> Option<Duration> {
        if !self.enabled || self.failure_factor == 0 || failures == 0 {
            return None;
        }
        if !failures.is_multiple_of(self.failure_factor) {
            return None;
        }
        let multiple = failures / self.failure_factor;
        Some(
            self.wait_increment
                .saturating_mul(multiple)
                .min(self.max_failure_wait.max(self.wait_increment)),
        )
    }

    /// Failures before this instant are forgotten when the next one is counted.
    pub fn forget_failures_before(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        let delta =
            chrono::Duration::from_std(self.max_delta_time).unwrap_or(chrono::Duration::MAX);
        now.checked_sub_signed(delta)
            .unwrap_or(DateTime::<Utc>::MIN_UTC)
    }
}

/// A user's failed-login record.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoginFailures {
    /// Consecutive failures.
    pub count: u32,
    /// The lock, if one was imposed.
    pub locked_until: Option<DateTime<Utc>>,
}

impl LoginFailures {
    /// Whether logins are refused at `now`.
    pub fn is_locked(&self, now: DateTime<Utc>) -> bool {
        self.locked_until.is_some_and(|until| now < until)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> BruteForcePolicy {
        BruteForcePolicy {
            enabled: true,
            failure_factor: 10,
            wait_increment: Duration::from_secs(60),
            max_failure_wait: Duration::from_secs(150),
            max_delta_time: Duration::from_secs(3600),
        }
    }

    #[test]
    fn the_tenth_failure_locks_for_the_wait_increment() {
        assert_eq!(policy().lock_duration(9), None);
        assert_eq!(policy().lock_duration(10), Some(Duration::from_secs(60)));
        assert_eq!(policy().lock_duration(11), None);
    }

    #[test]
    fn every_further_multiple_locks_longer_up_to_the_maximum() {
        assert_eq!(policy().lock_duration(20), Some(Duration::from_secs(120)));
        assert_eq!(policy().lock_duration(30), Some(Duration::from_secs(150)));
    }

    #[test]
    fn nothing_locks_when_protection_is_off() {
        let off = BruteForcePolicy {
            enabled: false,
            ..policy()
        };
        assert_eq!(off.lock_duration(10), None);
    }

    #[test]
    fn a_lock_holds_until_its_end() {
        let now = Utc::now();
        let failures = LoginFailures {
            count: 10,
            locked_until: Some(now + chrono::Duration::seconds(5)),
        };
        assert!(failures.is_locked(now));
        assert!(!failures.is_locked(now + chrono::Duration::seconds(5)));
    }
}
