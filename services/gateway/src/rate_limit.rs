//! Per-client rate limiting (governor's GCRA, one bucket per client).
//!
//! A client is the token's `sub` when the request carries a valid token, so users behind
//! one NAT do not share a budget, else its IP address. A rejected request learns from
//! `Retry-After` when to come back.

use std::net::IpAddr;

use governor::{DefaultKeyedRateLimiter, Quota, clock::Clock};

use crate::config::RateLimitConfig;

/// Who a request is counted against.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ClientKey {
    /// An authenticated user.
    Subject(String),
    /// Anyone else, by address (`None` when the address is unknown).
    Address(Option<IpAddr>),
}

/// The limiter; cheap to share behind an `Arc`.
#[derive(Debug)]
pub struct RateLimiter {
    limiter: DefaultKeyedRateLimiter<ClientKey>,
}

impl RateLimiter {
    /// A limiter allowing `per_second` sustained and `burst` at once, per client.
    pub fn new(config: RateLimitConfig) -> Self {
        Self {
            limiter: DefaultKeyedRateLimiter::keyed(
                Quota::per_second(config.per_second).allow_burst(config.burst),
            ),
        }
    }

    /// `Ok` if `key` may send a request now, else the seconds to wait (at least 1, as
    /// `Retry-After` counts whole seconds).
    pub fn check(&self, key: &ClientKey) -> Result<(), u64> {
        self.limiter.check_key(key).map_err(|not_until| {
            let wait = not_until.wait_time_from(self.limiter.clock().now());
            wait.as_secs_f64().ceil().max(1.0) as u64
        })
    }

    /// Forgets clients whose buckets are full again, so memory follows active clients.
    pub fn forget_idle(&self) {
        self.limiter.retain_recent();
        self.limiter.shrink_to_fit();
    }
}

#[cfg(test)]
mod tests {
    use std::num::NonZeroU32;

    use super::*;

    fn limiter(per_second: u32, burst: u32) -> RateLimiter {
        RateLimiter::new(RateLimitConfig {
            per_second: NonZeroU32::new(per_second).unwrap(),
            burst: NonZeroU32::new(burst).unwrap(),
        })
    }

    #[test]
    fn a_client_gets_its_burst_then_a_retry_after_of_at_least_one_second() {
        let limiter = limiter(1, 3);
        let alice = ClientKey::Subject("alice".to_owned());
        for _ in 0..3 {
            assert_eq!(limiter.check(&alice), Ok(()));
        }
        let retry_after = limiter.check(&alice).unwrap_err();
        assert_eq!(retry_after, 1);
    }

    #[test]
    fn clients_have_separate_budgets() {
        let limiter = limiter(1, 1);
        let alice = ClientKey::Subject("alice".to_owned());
        assert!(limiter.check(&alice).is_ok());
        assert!(limiter.check(&alice).is_err());
        assert!(limiter.check(&ClientKey::Subject("bob".to_owned())).is_ok());
        assert!(
            limiter
                .check(&ClientKey::Address(Some("10.0.0.1".parse().unwrap())))
                .is_ok()
        );
    }
}
