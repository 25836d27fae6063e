//! Outbound calls that fail well (SPEC §6): a timeout, a circuit breaker, a bulkhead and,
//! for idempotent calls only, retries with jittered backoff.
//!
//! A [`Breaker`] guards one dependency (the order service, the identity provider, ...).
//! Every call through it gets at most [`ResilienceConfig::timeout`], including the time
//! spent waiting for one of the [`ResilienceConfig::max_concurrent`] slots (the bulkhead:
//! a slow dependency cannot tie up every task of the service). When the failure policy
//! trips, the breaker *opens*: calls fail at once with [`CallError::Open`] without
//! touching the dependency. After [`ResilienceConfig::open_for`] it is *half-open*: one
//! probe call is let through; its success closes the breaker, its failure opens it again.
//!
//! The failure policies are failsafe's (`consecutive_failures`, or an exponentially
//! weighted success rate over a time window). The open/half-open/closed state machine is
//! ours rather than failsafe's `StateMachine`, for two reasons: it runs on tokio's clock,
//! so tests drive it with `tokio::time::pause` instead of real sleeps, and it lets exactly
//! one probe through when half-open (failsafe lets every concurrent caller probe).
//!
//! The breaker never invents a result: the **fallback** belongs to the caller, which gets
//! a [`CallError`] saying why there is no answer (timeout, open, or the call's own error)
//! and documents what it answers instead (an empty list, a cached value, a 503). Fallback
//! values must never be cached as if they were real answers.
//!
//! Metrics ride on logs: every state change is logged with `breaker.name` (`warn` when it
//! opens, `info` when it half-opens or closes), rejected calls at `debug`.

use std::{
    future::Future,
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use failsafe::{FailurePolicy, backoff, failure_policy};
use tokio::{sync::Semaphore, time::Instant};

use crate::{
    config::{ConfigError, Env},
    messaging::broker::backoff as jittered_backoff,
};

/// When the breaker opens.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum BreakerPolicy {
    /// After `threshold` failures in a row.
    ConsecutiveFailures {
        /// Failures in a row that open the breaker (≥ 1).
        threshold: u32,
    },
    /// When the (exponentially weighted) failure rate over `window` exceeds
    /// `max_failure_rate`, once at least `min_calls` calls were seen in the window. As in
    /// failsafe, it cannot trip before one full `window` has passed since start-up or the
    /// last recovery, and the window runs on the real clock (failsafe's), not tokio's.
    FailureRate {
        /// 0 < rate ≤ 1.
        max_failure_rate: f64,
        /// Calls needed in the window before the rate counts.
        min_calls: u32,
        /// The window (whole seconds, ≥ 1 s).
        window: Duration,
    },
}

/// Retries of idempotent calls: `retries` more attempts after the first, waiting a random
/// delay between half and all of `min(cap, base·2^attempt)` in between.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Extra attempts after the first (0: no retries).
    pub retries: u32,
    /// Base delay.
    pub base: Duration,
    /// Longest delay.
    pub cap: Duration,
}

impl RetryPolicy {
    /// No retries.
    pub const NONE: Self = Self {
        retries: 0,
        base: Duration::from_millis(50),
        cap: Duration::from_secs(1),
    };
}

/// The settings of one guarded dependency.
///
/// Read by [`ResilienceConfig::from_env`] from `<P>_<SECTION>_*`:
///
/// | variable | default |
/// |---|---|
/// | `<P>_<S>_TIMEOUT_MS` | the caller's default |
/// | `<P>_<S>_BREAKER_POLICY` | `consecutive` (or `rate`) |
/// | `<P>_<S>_BREAKER_FAILURES` | `5`: failures in a row that open the breaker (`consecutive`) |
/// | `<P>_<S>_BREAKER_FAILURE_RATE` | `0.5`: failure rate that opens it (`rate`) |
/// | `<P>_<S>_BREAKER_MIN_CALLS` | `10`: calls in the window before the rate counts (`rate`) |
/// | `<P>_<S>_BREAKER_WINDOW_MS` | `30000`: the rate's window, whole seconds (`rate`) |
/// | `<P>_<S>_BREAKER_OPEN_MS` | `30000`: how long it stays open before a probe |
/// | `<P>_<S>_MAX_CONCURRENT` | `64`: concurrent calls (bulkhead) |
/// | `<P>_<S>_RETRIES` | `1`: extra attempts of idempotent calls on transient errors |
/// | `<P>_<S>_RETRY_BASE_MS` | `50`: first retry delay, doubled per attempt, with jitter |
#[derive(Debug, Clone, PartialEq)]
pub struct ResilienceConfig {
    /// Longest time one call may take, waiting for a bulkhead slot included.
    pub timeout: Duration,
    /// When the breaker opens.
    pub policy: BreakerPolicy,
    /// How long it stays open before letting a probe through.
    pub open_for: Duration,
    /// Concurrent calls (the bulkhead).
    pub max_concurrent: usize,
    /// Retries of idempotent calls.
    pub retry: RetryPolicy,
}

impl ResilienceConfig {
    /// Sensible defaults around `timeout`: 5 failures in a row open the breaker for 30 s,
    /// 64 concurrent calls, one retry.
    pub fn with_timeout(timeout: Duration) -> Self {
        Self {
            timeout,
            policy: BreakerPolicy::ConsecutiveFailures { threshold: 5 },
            open_for: Duration::from_secs(30),
            max_concurrent: 64,
            retry: RetryPolicy {
                retries: 1,
                ..RetryPolicy::NONE
            },
        }
    }

    /// Reads `<P>_<section>_*` (see the type's table); `default_timeout` is the
    /// dependency's default.
    pub fn from_env(
        env: &Env,
        section: &str,
        default_timeout: Duration,
    ) -> Result<Self, ConfigError> {
        let name = |suffix: &str| format!("{section}_{suffix}");
        let invalid = |suffix: &str, message: &str| ConfigError {
            var: env.var(&name(suffix)),
            message: message.to_owned(),
        };
        let defaults = Self::with_timeout(default_timeout);
        let timeout = env.millis(&name("TIMEOUT_MS"), default_timeout)?;
        if timeout.is_zero() {
            return Err(invalid("TIMEOUT_MS", "must be at least 1"));
        }
        let policy = match env.string(&name("BREAKER_POLICY"), "consecutive").as_str() {
            "consecutive" => {
                let threshold: u32 = env.get(&name("BREAKER_FAILURES"), 5)?;
                if threshold == 0 {
                    return Err(invalid("BREAKER_FAILURES", "must be at least 1"));
                }
                BreakerPolicy::ConsecutiveFailures { threshold }
            }
            "rate" => {
                let max_failure_rate: f64 = env.get(&name("BREAKER_FAILURE_RATE"), 0.5)?;
                if !(max_failure_rate > 0.0 && max_failure_rate <= 1.0) {
                    return Err(invalid(
                        "BREAKER_FAILURE_RATE",
                        "must be greater than 0 and at most 1",
                    ));
                }
                let window = env.millis(&name("BREAKER_WINDOW_MS"), Duration::from_secs(30))?;
                if window < Duration::from_secs(1) {
                    return Err(invalid("BREAKER_WINDOW_MS", "must be at least 1000"));
                }
                BreakerPolicy::FailureRate {
                    max_failure_rate,
                    min_calls: env.get(&name("BREAKER_MIN_CALLS"), 10)?,
                    window,
                }
            }
            other => {
                return Err(invalid(
                    "BREAKER_POLICY",
                    &format!("expected consecutive or rate, got {other:?}"),
                ));
            }
        };
        let open_for = env.millis(&name("BREAKER_OPEN_MS"), defaults.open_for)?;
        if open_for.is_zero() {
            return Err(invalid("BREAKER_OPEN_MS", "must be at least 1"));
        }
        let max_concurrent: usize = env.get(&name("MAX_CONCURRENT"), defaults.max_concurrent)?;
        if max_concurrent == 0 {
            return Err(invalid("MAX_CONCURRENT", "must be at least 1"));
        }
        Ok(Self {
            timeout,
            policy,
            open_for,
            max_concurrent,
            retry: RetryPolicy {
                retries: env.get(&name("RETRIES"), defaults.retry.retries)?,
                base: env.millis(&name("RETRY_BASE_MS"), defaults.retry.base)?,
                cap: defaults.retry.cap,
            },
        })
    }
}

/// Why a guarded call produced no answer.
#[derive(Debug, thiserror::Error)]
pub enum CallError<E> {
    /// No answer within the timeout (or no bulkhead slot within it).
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    /// The breaker is open: the dependency was not called.
    #[error("circuit breaker open")]
    Open,
    /// The call itself failed.
    #[error("{0}")]
    Inner(E),
}

/// The breaker's state, as observed from outside.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    /// Calls go through.
    Closed,
    /// Calls are rejected without touching the dependency.
    Open,
    /// The open period is over: the next call probes the dependency.
    HalfOpen,
}

enum State {
    Closed,
    Open { until: Instant },
    HalfOpen { probing: bool },
}

struct Shared {
    state: State,
    policy: Box<dyn FailurePolicy + Send>,
}

struct Inner {
    name: String,
    timeout: Duration,
    open_for: Duration,
    retry: RetryPolicy,
    bulkhead: Semaphore,
    shared: Mutex<Shared>,
}

/// A circuit breaker with a timeout and a bulkhead around one dependency; cheap to clone
/// (clones share the state).
#[derive(Clone)]
pub struct Breaker {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Breaker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Breaker")
            .field("name", &self.inner.name)
            .field("state", &self.state())
            .field("timeout", &self.inner.timeout)
            .finish_non_exhaustive()
    }
}

/// How a call was let through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Admission {
    /// Closed: a normal call.
    Call,
    /// Half-open: the one probe.
    Probe,
}

/// Puts a half-open breaker back to "awaiting a probe" if the probe is dropped before it
/// finished (the caller gave up), so the breaker cannot stay stuck half-open.
struct ProbeGuard<'a> {
    breaker: &'a Breaker,
    armed: bool,
}

impl Drop for ProbeGuard<'_> {
    fn drop(&mut self) {
        if self.armed {
            let mut shared = self.breaker.lock();
            if let State::HalfOpen { probing } = &mut shared.state {
                *probing = false;
            }
        }
    }
}

fn failure_policy(config: &ResilienceConfig) -> Box<dyn FailurePolicy + Send> {
    let open_for = backoff::constant(config.open_for);
    match config.policy {
        BreakerPolicy::ConsecutiveFailures { threshold } => Box::new(
            failure_policy::consecutive_failures(threshold.max(1), open_for),
        ),
        BreakerPolicy::FailureRate {
            max_failure_rate,
            min_calls,
            window,
        } => Box::new(failure_policy::success_rate_over_time_window(
            (1.0 - max_failure_rate).clamp(0.0, 1.0),
            min_calls,
            window.max(Duration::from_secs(1)),
            open_for,
        )),
    }
}

impl Breaker {
    /// A closed breaker named `name` (the dependency, in logs).
    pub fn new(name: &str, config: &ResilienceConfig) -> Self {
        Self {
            inner: Arc::new(Inner {
                name: name.to_owned(),
                timeout: config.timeout,
                open_for: config.open_for,
                retry: config.retry,
                bulkhead: Semaphore::new(config.max_concurrent.max(1)),
                shared: Mutex::new(Shared {
                    state: State::Closed,
                    policy: failure_policy(config),
                }),
            }),
        }
    }

    /// The dependency's name.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The timeout of one call.
    pub fn timeout(&self) -> Duration {
        self.inner.timeout
    }

    /// The current state.
    pub fn state(&self) -> BreakerState {
        match self.lock().state {
            State::Closed => BreakerState::Closed,
            State::Open { until } if Instant::now() < until => BreakerState::Open,
            State::Open { .. } | State::HalfOpen { .. } => BreakerState::HalfOpen,
        }
    }

    /// Whether calls are currently rejected without touching the dependency.
    pub fn is_open(&self) -> bool {
        self.state() == BreakerState::Open
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Shared> {
        // The lock is never held across an await or a panic point that leaves the state
        // half-written, so a poisoned lock still holds a consistent state.
        self.inner
            .shared
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn admit(&self) -> Option<Admission> {
        let mut shared = self.lock();
        match shared.state {
            State::Closed => Some(Admission::Call),
            State::Open { until } if Instant::now() >= until => {
                shared.state = State::HalfOpen { probing: true };
                drop(shared);
                tracing::info!(breaker.name = %self.inner.name, "circuit breaker half-open, probing");
                Some(Admission::Probe)
            }
            State::HalfOpen { probing: false } => {
                shared.state = State::HalfOpen { probing: true };
                Some(Admission::Probe)
            }
            State::Open { .. } | State::HalfOpen { probing: true } => None,
        }
    }

    fn record(&self, admission: Admission, failed: bool) {
        let mut shared = self.lock();
        match (admission, &shared.state) {
            (Admission::Call, State::Closed) => {
                if !failed {
                    shared.policy.record_success();
                } else if let Some(open_for) = shared.policy.mark_dead_on_failure() {
                    shared.state = State::Open {
                        until: Instant::now() + open_for,
                    };
                    drop(shared);
                    tracing::warn!(
                        breaker.name = %self.inner.name,
                        open_for_ms = u64::try_from(open_for.as_millis()).unwrap_or(u64::MAX),
                        "circuit breaker opened"
                    );
                }
            }
            (Admission::Probe, State::HalfOpen { .. }) => {
                if failed {
                    let open_for = shared
                        .policy
                        .mark_dead_on_failure()
                        .unwrap_or(self.inner.open_for);
                    shared.state = State::Open {
                        until: Instant::now() + open_for,
                    };
                    drop(shared);
                    tracing::warn!(
                        breaker.name = %self.inner.name,
                        open_for_ms = u64::try_from(open_for.as_millis()).unwrap_or(u64::MAX),
                        "circuit breaker probe failed, open again"
                    );
                } else {
                    shared.policy.revived();
                    shared.state = State::Closed;
                    drop(shared);
                    tracing::info!(breaker.name = %self.inner.name, "circuit breaker closed");
                }
            }
            // A call admitted before the state changed under it: its outcome says nothing
            // about the new state.
            _ => {}
        }
    }

    /// Runs `call` through the breaker; every error counts as a failure.
    pub async fn call<T, E, F>(&self, call: F) -> Result<T, CallError<E>>
    where
        F: Future<Output = Result<T, E>>,
    {
        self.call_with(|_: &E| true, call).await
    }

    /// Runs `call` through the breaker; only errors for which `counts_as_failure` is true
    /// count against the dependency (a 404 is an answer, not an outage). Timeouts always
    /// count.
    pub async fn call_with<T, E, F>(
        &self,
        counts_as_failure: impl Fn(&E) -> bool,
        call: F,
    ) -> Result<T, CallError<E>>
    where
        F: Future<Output = Result<T, E>>,
    {
        let deadline = Instant::now() + self.inner.timeout;
        let Ok(Ok(_permit)) =
            tokio::time::timeout_at(deadline, self.inner.bulkhead.acquire()).await
        else {
            tracing::warn!(breaker.name = %self.inner.name, "bulkhead full until the timeout");
            return Err(CallError::Timeout(self.inner.timeout));
        };
        let Some(admission) = self.admit() else {
            tracing::debug!(breaker.name = %self.inner.name, "call rejected: circuit breaker open");
            return Err(CallError::Open);
        };
        let mut guard = ProbeGuard {
            breaker: self,
            armed: admission == Admission::Probe,
        };
        let result = tokio::time::timeout_at(deadline, call).await;
        guard.armed = false;
        match result {
            Ok(Ok(value)) => {
                self.record(admission, false);
                Ok(value)
            }
            Ok(Err(err)) => {
                self.record(admission, counts_as_failure(&err));
                Err(CallError::Inner(err))
            }
            Err(_) => {
                self.record(admission, true);
                Err(CallError::Timeout(self.inner.timeout))
            }
        }
    }

    /// For **idempotent** calls only: [`call_with`](Self::call_with), retried with the
    /// configured jittered backoff while the error is `retryable` (e.g. a refused
    /// connection or a 503). Timeouts and an open breaker are never retried: the time
    /// budget is spent, or the dependency is known to be down.
    pub async fn call_idempotent<T, E, F, Fut>(
        &self,
        counts_as_failure: impl Fn(&E) -> bool,
        retryable: impl Fn(&E) -> bool,
        mut call: F,
    ) -> Result<T, CallError<E>>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let policy = self.inner.retry;
        retry(
            &policy,
            |err: &CallError<E>| matches!(err, CallError::Inner(inner) if retryable(inner)),
            || self.call_with(&counts_as_failure, call()),
        )
        .await
    }
}

/// Runs `attempt` until it succeeds, fails with an error that is not `retryable`, or
/// `policy.retries` retries are used up, sleeping a jittered backoff in between. Only for
/// idempotent operations.
pub async fn retry<T, E, F, Fut>(
    policy: &RetryPolicy,
    retryable: impl Fn(&E) -> bool,
    mut attempt: F,
) -> Result<T, E>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let mut retries = 0;
    loop {
        match attempt().await {
            Ok(value) => return Ok(value),
            Err(err) if retries < policy.retries && retryable(&err) => {
                let delay = jittered_backoff(policy.base, retries, policy.cap);
                retries += 1;
                tracing::debug!(
                    retry = retries,
                    delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                    "retrying an idempotent call"
                );
                tokio::time::sleep(delay).await;
            }
            Err(err) => return Err(err),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::{
        collections::HashMap,
        sync::atomic::{AtomicU32, Ordering},
    };

    use super::*;

    fn config(threshold: u32) -> ResilienceConfig {
        ResilienceConfig {
            timeout: Duration::from_millis(100),
            policy: BreakerPolicy::ConsecutiveFailures { threshold },
            open_for: Duration::from_secs(10),
            max_concurrent: 8,
            retry: RetryPolicy {
                retries: 2,
                base: Duration::from_millis(10),
                cap: Duration::from_millis(100),
            },
        }
    }

    async fn fail(breaker: &Breaker) -> Result<(), CallError<&'static str>> {
        breaker.call(async { Err::<(), _>("boom") }).await
    }

    async fn succeed(breaker: &Breaker) -> Result<u32, CallError<&'static str>> {
        breaker.call(async { Ok::<_, &str>(7) }).await
    }

    #[tokio::test(start_paused = true)]
    async fn the_breaker_opens_after_the_configured_number_of_failures_in_a_row() {
        let breaker = Breaker::new("order", &config(3));
        fail(&breaker).await.unwrap_err();
        fail(&breaker).await.unwrap_err();
        // A success resets the count.
        assert_eq!(succeed(&breaker).await.unwrap(), 7);
        fail(&breaker).await.unwrap_err();
        fail(&breaker).await.unwrap_err();
        assert!(!breaker.is_open());
        assert!(matches!(
            fail(&breaker).await,
            Err(CallError::Inner("boom"))
        ));
        assert!(breaker.is_open());
        assert_eq!(breaker.state(), BreakerState::Open);
    }

    #[tokio::test(start_paused = true)]
    async fn an_open_breaker_rejects_calls_without_running_them() {
        let breaker = Breaker::new("order", &config(1));
        fail(&breaker).await.unwrap_err();
        let ran = AtomicU32::new(0);
        let result = breaker
            .call(async {
                ran.fetch_add(1, Ordering::SeqCst);
                Ok::<_, &str>(())
            })
            .await;
        assert!(matches!(result, Err(CallError::Open)));
        assert_eq!(
            ran.load(Ordering::SeqCst),
            0,
            "the dependency was not called"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn after_the_open_duration_one_successful_probe_closes_the_breaker() {
        let breaker = Breaker::new("order", &config(1));
        fail(&breaker).await.unwrap_err();
        tokio::time::advance(Duration::from_secs(9)).await;
        assert!(breaker.is_open(), "still open before the duration is over");
        assert!(matches!(succeed(&breaker).await, Err(CallError::Open)));
        tokio::time::advance(Duration::from_secs(1)).await;
        assert_eq!(breaker.state(), BreakerState::HalfOpen);
        assert_eq!(succeed(&breaker).await.unwrap(), 7);
        assert_eq!(breaker.state(), BreakerState::Closed);
        assert_eq!(succeed(&breaker).await.unwrap(), 7);
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_probe_opens_the_breaker_for_another_period() {
        let breaker = Breaker::new("order", &config(1));
        fail(&breaker).await.unwrap_err();
        tokio::time::advance(Duration::from_secs(10)).await;
        assert!(matches!(fail(&breaker).await, Err(CallError::Inner(_))));
        assert!(breaker.is_open());
        tokio::time::advance(Duration::from_secs(5)).await;
        assert!(matches!(succeed(&breaker).await, Err(CallError::Open)));
        tokio::time::advance(Duration::from_secs(5)).await;
        assert_eq!(succeed(&breaker).await.unwrap(), 7);
    }

    #[tokio::test(start_paused = true)]
    async fn half_open_lets_exactly_one_probe_through_at_a_time() {
        let breaker = Breaker::new("order", &config(1));
        fail(&breaker).await.unwrap_err();
        tokio::time::advance(Duration::from_secs(10)).await;
        let (release, released) = tokio::sync::oneshot::channel::<()>();
        let probe = {
            let breaker = breaker.clone();
            tokio::spawn(async move {
                breaker
                    .call(async {
                        let _ = released.await;
                        Ok::<_, &str>(1)
                    })
                    .await
            })
        };
        tokio::task::yield_now().await;
        assert!(matches!(succeed(&breaker).await, Err(CallError::Open)));
        release.send(()).unwrap();
        assert_eq!(probe.await.unwrap().unwrap(), 1);
        assert_eq!(breaker.state(), BreakerState::Closed);
    }

    #[tokio::test(start_paused = true)]
    async fn an_abandoned_probe_lets_the_next_call_probe() {
        let breaker = Breaker::new("order", &config(1));
        fail(&breaker).await.unwrap_err();
        tokio::time::advance(Duration::from_secs(10)).await;
        let abandoned = breaker.call(std::future::pending::<Result<(), &str>>());
        // Polled once (it becomes the probe), then dropped.
        assert!(
            tokio::time::timeout(Duration::from_millis(1), abandoned)
                .await
                .is_err()
        );
        assert_eq!(succeed(&breaker).await.unwrap(), 7);
        assert_eq!(breaker.state(), BreakerState::Closed);
    }

    #[tokio::test(start_paused = true)]
    async fn a_slow_call_times_out_and_counts_as_a_failure() {
        let breaker = Breaker::new("order", &config(1));
        let started = Instant::now();
        let result = breaker
            .call(async {
                tokio::time::sleep(Duration::from_secs(5)).await;
                Ok::<_, &str>(())
            })
            .await;
        assert!(matches!(result, Err(CallError::Timeout(t)) if t == Duration::from_millis(100)));
        assert_eq!(started.elapsed(), Duration::from_millis(100));
        assert!(breaker.is_open());
    }

    #[tokio::test(start_paused = true)]
    async fn errors_that_do_not_count_leave_the_breaker_closed() {
        let breaker = Breaker::new("identity", &config(1));
        for _ in 0..5 {
            let result = breaker
                .call_with(|err: &&str| *err != "not found", async {
                    Err::<(), _>("not found")
                })
                .await;
            assert!(matches!(result, Err(CallError::Inner("not found"))));
        }
        assert!(!breaker.is_open());
    }

    #[tokio::test(start_paused = true)]
    async fn a_full_bulkhead_times_the_caller_out_without_counting_a_failure() {
        // Two failures open it: the occupying call's own timeout is one.
        let breaker = Breaker::new(
            "order",
            &ResilienceConfig {
                max_concurrent: 1,
                ..config(2)
            },
        );
        let (release, released) = tokio::sync::oneshot::channel::<()>();
        let busy = {
            let breaker = breaker.clone();
            tokio::spawn(async move {
                breaker
                    .call(async {
                        let _ = released.await;
                        Ok::<_, &str>(())
                    })
                    .await
            })
        };
        tokio::task::yield_now().await;
        assert!(matches!(
            succeed(&breaker).await,
            Err(CallError::Timeout(_))
        ));
        assert!(
            !breaker.is_open(),
            "waiting for a slot is not the dependency's fault"
        );
        drop(release);
        // The occupying call itself timed out meanwhile, which does count.
        let _ = busy.await.unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn idempotent_calls_are_retried_on_transient_errors_only() {
        let breaker = Breaker::new("payment", &config(10));
        let attempts = AtomicU32::new(0);
        let result = breaker
            .call_idempotent(
                |_: &&str| true,
                |err: &&str| *err == "unavailable",
                || async {
                    let n = attempts.fetch_add(1, Ordering::SeqCst);
                    if n < 2 { Err("unavailable") } else { Ok(n) }
                },
            )
            .await;
        assert_eq!(result.unwrap(), 2, "two retries, third attempt succeeds");

        attempts.store(0, Ordering::SeqCst);
        let result = breaker
            .call_idempotent(
                |_: &&str| true,
                |err: &&str| *err == "unavailable",
                || async {
                    attempts.fetch_add(1, Ordering::SeqCst);
                    Err::<(), _>("bad request")
                },
            )
            .await;
        assert!(matches!(result, Err(CallError::Inner("bad request"))));
        assert_eq!(attempts.load(Ordering::SeqCst), 1, "not retried");
    }

    #[tokio::test(start_paused = true)]
    async fn timeouts_and_an_open_breaker_are_never_retried() {
        let breaker = Breaker::new("payment", &config(1));
        let attempts = AtomicU32::new(0);
        let result = breaker
            .call_idempotent(
                |_: &&str| true,
                |_: &&str| true,
                || async {
                    attempts.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    Ok::<_, &str>(())
                },
            )
            .await;
        assert!(matches!(result, Err(CallError::Timeout(_))));
        let result = breaker
            .call_idempotent(
                |_: &&str| true,
                |_: &&str| true,
                || async {
                    attempts.fetch_add(1, Ordering::SeqCst);
                    Ok::<_, &str>(())
                },
            )
            .await;
        assert!(matches!(result, Err(CallError::Open)));
        assert_eq!(attempts.load(Ordering::SeqCst), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn retry_waits_a_growing_jittered_delay_between_attempts() {
        let policy = RetryPolicy {
            retries: 3,
            base: Duration::from_millis(100),
            cap: Duration::from_secs(1),
        };
        let started = Instant::now();
        let result: Result<(), &str> = retry(&policy, |_| true, || async { Err("down") }).await;
        assert_eq!(result.unwrap_err(), "down");
        // 50..=100 + 100..=200 + 200..=400 ms.
        let waited = started.elapsed();
        assert!(
            waited >= Duration::from_millis(350) && waited <= Duration::from_millis(700),
            "{waited:?}"
        );
    }

    fn env(vars: &[(&str, &str)]) -> Env {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Env::with_lookup("SVC", move |name| map.get(name).cloned())
    }

    #[test]
    fn the_config_has_defaults_and_reads_its_section() {
        let defaults =
            ResilienceConfig::from_env(&env(&[]), "DOWNSTREAM", Duration::from_secs(1)).unwrap();
        assert_eq!(
            defaults,
            ResilienceConfig::with_timeout(Duration::from_secs(1))
        );
        let rate = ResilienceConfig::from_env(
            &env(&[
                ("SVC_DOWNSTREAM_TIMEOUT_MS", "250"),
                ("SVC_DOWNSTREAM_BREAKER_POLICY", "rate"),
                ("SVC_DOWNSTREAM_BREAKER_FAILURE_RATE", "0.25"),
                ("SVC_DOWNSTREAM_BREAKER_MIN_CALLS", "20"),
                ("SVC_DOWNSTREAM_BREAKER_WINDOW_MS", "60000"),
                ("SVC_DOWNSTREAM_BREAKER_OPEN_MS", "5000"),
                ("SVC_DOWNSTREAM_RETRIES", "0"),
            ]),
            "DOWNSTREAM",
            Duration::from_secs(1),
        )
        .unwrap();
        assert_eq!(rate.timeout, Duration::from_millis(250));
        assert_eq!(
            rate.policy,
            BreakerPolicy::FailureRate {
                max_failure_rate: 0.25,
                min_calls: 20,
                window: Duration::from_secs(60)
            }
        );
        assert_eq!(rate.open_for, Duration::from_secs(5));
        assert_eq!(rate.retry.retries, 0);
        // The failure-rate policy builds (failsafe asserts its arguments).
        let breaker = Breaker::new("x", &rate);
        assert_eq!(breaker.state(), BreakerState::Closed);
    }

    #[test]
    fn bad_values_name_the_variable() {
        let cases = [
            ("SVC_IDP_BREAKER_POLICY", "sometimes"),
            ("SVC_IDP_BREAKER_FAILURES", "0"),
            ("SVC_IDP_TIMEOUT_MS", "0"),
            ("SVC_IDP_MAX_CONCURRENT", "0"),
        ];
        for (var, value) in cases {
            let err =
                ResilienceConfig::from_env(&env(&[(var, value)]), "IDP", Duration::from_secs(1))
                    .unwrap_err();
            assert_eq!(err.var, var);
        }
        let err = ResilienceConfig::from_env(
            &env(&[
                ("SVC_IDP_BREAKER_POLICY", "rate"),
                ("SVC_IDP_BREAKER_FAILURE_RATE", "1.5"),
            ]),
            "IDP",
            Duration::from_secs(1),
        )
        .unwrap_err();
        assert_eq!(err.var, "SVC_IDP_BREAKER_FAILURE_RATE");
    }
}
