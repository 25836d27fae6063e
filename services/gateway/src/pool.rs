//! Replica pools: which replicas serve a service, which of them are in rotation, which
//! one takes the next request, and the pool's circuit breaker.
//!
//! A replica is in rotation while it is healthy. It leaves when an active health check
//! fails ([`crate::probe`]) or, passively, after `eject_after` consecutive failed
//! requests (connect errors, timeouts, 502/503/504); only a passing health check brings
//! it back. A request goes to the replica in rotation with the fewest requests in
//! flight, ties broken round robin: equal replicas share requests evenly (with nothing
//! in flight it is plain round robin), and a replica that slows down (CPU-throttled,
//! pausing, overloaded) gets fewer requests until it catches up instead of an equal
//! share that queues behind it, as Envoy's and Linkerd's least-request balancers do.
//!
//! The circuit breaker (failsafe, consecutive failures, constant back-off) watches the
//! pool as a whole: when every replica is failing, it answers 503 at once for a while
//! instead of letting each request wait for its timeout. After the open period it is
//! half open: requests go through again, the first success closes it and the first
//! failure opens it for another period.

use std::sync::{
    Arc, PoisonError, RwLock,
    atomic::{AtomicBool, AtomicU8, AtomicU32, AtomicUsize, Ordering},
};

use failsafe::{
    Instrument, StateMachine, backoff,
    failure_policy::{self, ConsecutiveFailures},
};
use http::uri::Authority;
use prometheus_client::metrics::gauge::Gauge;
use serde::Serialize;

use crate::{
    config::{BreakerConfig, HealthConfig, PoolConfig, PoolName},
    metrics::{GatewayMetrics, PoolLabels},
};

/// One upstream replica.
#[derive(Debug)]
pub struct Replica {
    authority: Authority,
    healthy: AtomicBool,
    failures: AtomicU32,
    in_flight: AtomicUsize,
}

/// A request sent to a replica and not answered yet; counted in its `in_flight` until
/// dropped.
#[derive(Debug)]
pub struct InFlight(Arc<Replica>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Replica {
    /// A replica assumed healthy until a check or a request says otherwise, so a fresh
    /// gateway serves at once (retries and ejection cover a replica that is down).
    pub fn new(authority: Authority) -> Self {
        Self {
            authority,
            healthy: AtomicBool::new(true),
            failures: AtomicU32::new(0),
            in_flight: AtomicUsize::new(0),
        }
    }

    /// Counts a request to this replica until the guard is dropped.
    pub fn start(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        InFlight(Arc::clone(self))
    }

    /// Requests sent and not answered yet.
    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Relaxed)
    }

    /// `host:port`.
    pub fn authority(&self) -> &Authority {
        &self.authority
    }

    /// Whether it is in rotation.
    pub fn is_healthy(&self) -> bool {
        self.healthy.load(Ordering::Relaxed)
    }
}

/// Circuit states, as failsafe reports them.
const CLOSED: u8 = 0;
const OPEN: u8 = 1;
const HALF_OPEN: u8 = 2;

/// Logs circuit transitions and keeps the state where the health report can read it.
#[derive(Debug)]
struct CircuitInstrument {
    pool: PoolName,
    state: Arc<AtomicU8>,
    gauge: Gauge,
}

impl Instrument for CircuitInstrument {
    fn on_call_rejected(&self) {}

    fn on_open(&self) {
        self.state.store(OPEN, Ordering::Relaxed);
        self.gauge.set(1);
        tracing::warn!(pool = %self.pool, "circuit opened: the pool keeps failing");
    }

    fn on_half_open(&self) {
        self.state.store(HALF_OPEN, Ordering::Relaxed);
        tracing::info!(pool = %self.pool, "circuit half open: letting requests try again");
    }

    fn on_closed(&self) {
        // Also called once when the breaker is built; only a real recovery is news.
        if self.state.swap(CLOSED, Ordering::Relaxed) != CLOSED {
            tracing::info!(pool = %self.pool, "circuit closed: the pool answers again");
        }
        self.gauge.set(0);
    }
}

type Breaker = StateMachine<ConsecutiveFailures<backoff::Constant>, CircuitInstrument>;

/// A pool's state in the gateway's readiness report.
#[derive(Debug, Clone, Serialize)]
pub struct PoolReport {
    /// `UP` with at least one replica in rotation, else `DOWN`.
    pub status: &'static str,
    /// Replicas in rotation.
    pub healthy: usize,
    /// `closed`, `open` or `half_open`.
    pub circuit: &'static str,
    /// Every replica.
    pub replicas: Vec<ReplicaReport>,
}

/// A replica in the readiness report.
#[derive(Debug, Clone, Serialize)]
pub struct ReplicaReport {
    /// `host:port`.
    pub address: String,
    /// Whether it is in rotation.
    pub healthy: bool,
}

/// The replicas of one service.
#[derive(Debug)]
pub struct Pool {
    config: PoolConfig,
    eject_after: u32,
    replicas: RwLock<Arc<[Arc<Replica>]>>,
    next: AtomicUsize,
    breaker: Breaker,
    circuit: Arc<AtomicU8>,
    metrics: GatewayMetrics,
}

impl Pool {
    /// A pool of `initial` replicas.
    pub fn new(
        config: PoolConfig,
        initial: Vec<Authority>,
        health: &HealthConfig,
        breaker: &BreakerConfig,
        metrics: GatewayMetrics,
    ) -> Self {
        let circuit = Arc::new(AtomicU8::new(CLOSED));
        let gauge = metrics
            .circuit_open
            .get_or_create(&PoolLabels {
                pool: config.name.as_str().to_owned(),
            })
            .clone();
        let breaker = failsafe::Config::new()
            .failure_policy(failure_policy::consecutive_failures(
                breaker.failures,
                backoff::constant(breaker.open_for),
            ))
            .instrument(CircuitInstrument {
                pool: config.name,
                state: circuit.clone(),
                gauge,
            })
            .build();
        let pool = Self {
            config,
            eject_after: health.eject_after_failures,
            replicas: RwLock::new(Arc::from(Vec::new())),
            next: AtomicUsize::new(0),
            breaker,
            circuit,
            metrics,
        };
        pool.set_replicas(initial);
        pool
    }

    /// Which pool.
    pub fn name(&self) -> PoolName {
        self.config.name
    }

    /// Its settings.
    pub fn config(&self) -> &PoolConfig {
        &self.config
    }

    /// The current replicas.
    pub fn replicas(&self) -> Arc<[Arc<Replica>]> {
        self.replicas
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The replica in rotation with the fewest requests in flight (round robin among
    /// equals), or `None` when none is healthy.
    pub fn pick(&self) -> Option<Arc<Replica>> {
        let replicas = self.replicas();
        let least = replicas
            .iter()
            .filter(|r| r.is_healthy())
            .map(|r| r.in_flight())
            .min()?;
        let candidates = || {
            replicas
                .iter()
                .filter(move |r| r.is_healthy() && r.in_flight() == least)
        };
        // Counts move under our feet; whoever is still among the least busy is as good.
        let count = candidates().count().max(1);
        let ticket = self.next.fetch_add(1, Ordering::Relaxed) % count;
        candidates()
            .nth(ticket)
            .or_else(|| candidates().next())
            .or_else(|| replicas.iter().find(|r| r.is_healthy()))
            .cloned()
    }

    /// A healthy replica other than `failed`, for a retry; the one after it in order,
    /// so retries of different requests spread too.
    pub fn pick_other(&self, failed: &Replica) -> Option<Arc<Replica>> {
        let replicas = self.replicas();
        let start = replicas
            .iter()
            .position(|r| r.authority == failed.authority)
            .map_or(0, |i| i + 1);
        (0..replicas.len())
            .map(|offset| &replicas[(start + offset) % replicas.len()])
            .find(|r| r.authority != failed.authority && r.is_healthy())
            .cloned()
    }

    /// A request to `replica` got an answer that was not a failure.
    pub fn record_success(&self, replica: &Replica) {
        replica.failures.store(0, Ordering::Relaxed);
    }

    /// A request to `replica` failed; enough failures in a row eject it.
    pub fn record_failure(&self, replica: &Replica) {
        let failures = replica.failures.fetch_add(1, Ordering::Relaxed) + 1;
        if failures >= self.eject_after && replica.healthy.swap(false, Ordering::Relaxed) {
            tracing::warn!(
                pool = %self.name(),
                replica = %replica.authority,
                failures,
                "replica ejected after consecutive failures; waiting for a health check to pass"
            );
            self.gauge(replica, false);
        }
    }

    /// The outcome of an active health check of `replica`.
    pub fn record_check(&self, replica: &Replica, result: Result<(), String>) {
        match result {
            Ok(()) => {
                replica.failures.store(0, Ordering::Relaxed);
                if !replica.healthy.swap(true, Ordering::Relaxed) {
                    tracing::info!(pool = %self.name(), replica = %replica.authority, "replica back in rotation");
                    self.gauge(replica, true);
                }
            }
            Err(error) => {
                if replica.healthy.swap(false, Ordering::Relaxed) {
                    tracing::warn!(pool = %self.name(), replica = %replica.authority, error, "replica failed its health check");
                    self.gauge(replica, false);
                }
            }
        }
    }

    /// Replaces the replica set (DNS discovery), keeping the state of replicas that stay.
    pub fn set_replicas(&self, authorities: Vec<Authority>) {
        let mut slot = self
            .replicas
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        let old = slot.clone();
        let new: Vec<Arc<Replica>> = authorities
            .into_iter()
            .map(|authority| {
                old.iter()
                    .find(|r| r.authority == authority)
                    .cloned()
                    .unwrap_or_else(|| {
                        let replica = Arc::new(Replica::new(authority));
                        if !old.is_empty() {
                            tracing::info!(pool = %self.name(), replica = %replica.authority, "replica discovered");
                        }
                        self.gauge(&replica, true);
                        replica
                    })
            })
            .collect();
        for gone in old
            .iter()
            .filter(|r| !new.iter().any(|n| n.authority == r.authority))
        {
            tracing::info!(pool = %self.name(), replica = %gone.authority, "replica left the pool");
            self.metrics
                .forget_replica(self.name().as_str(), gone.authority.as_str());
        }
        *slot = Arc::from(new);
    }

    /// Whether the circuit lets a request through.
    pub fn circuit_permits(&self) -> bool {
        self.breaker.is_call_permitted()
    }

    /// Tells the circuit a request succeeded.
    pub fn circuit_success(&self) {
        self.breaker.on_success();
    }

    /// Tells the circuit a request failed.
    pub fn circuit_failure(&self) {
        self.breaker.on_error();
    }

    /// The pool's state for the readiness report.
    pub fn report(&self) -> PoolReport {
        let replicas: Vec<ReplicaReport> = self
            .replicas()
            .iter()
            .map(|r| ReplicaReport {
                address: r.authority.to_string(),
                healthy: r.is_healthy(),
            })
            .collect();
        let healthy = replicas.iter().filter(|r| r.healthy).count();
        PoolReport {
            status: if healthy > 0 { "UP" } else { "DOWN" },
            healthy,
            circuit: match self.circuit.load(Ordering::Relaxed) {
                OPEN => "open",
                HALF_OPEN => "half_open",
                _ => "closed",
            },
            replicas,
        }
    }

    fn gauge(&self, replica: &Replica, healthy: bool) {
        self.metrics
            .set_replica_health(self.name().as_str(), replica.authority.as_str(), healthy);
    }
}

#[cfg(test)]
mod tests {
    use std::{collections::HashMap, time::Duration};

    use super::*;
    use crate::config::Replicas;

    fn pool(addresses: &[&str]) -> Pool {
        let authorities: Vec<Authority> = addresses.iter().map(|a| a.parse().unwrap()).collect();
        Pool::new(
            PoolConfig {
                name: PoolName::Inventory,
                replicas: Replicas::Static(authorities.clone()),
                timeout: Duration::from_secs(1),
                health_path: "/health/ready".to_owned(),
            },
            authorities,
            &HealthConfig {
                interval: Duration::from_secs(1),
                timeout: Duration::from_secs(1),
                eject_after_failures: 3,
            },
            &BreakerConfig {
                failures: 2,
                open_for: Duration::from_secs(60),
            },
            GatewayMetrics::new(),
        )
    }

    fn spread(pool: &Pool, requests: usize) -> HashMap<String, usize> {
        let mut counts = HashMap::new();
        for _ in 0..requests {
            let replica = pool.pick().expect("a healthy replica");
            *counts.entry(replica.authority().to_string()).or_default() += 1;
        }
        counts
    }

    fn replica(pool: &Pool, address: &str) -> Arc<Replica> {
        pool.replicas()
            .iter()
            .find(|r| r.authority().as_str() == address)
            .cloned()
            .unwrap()
    }

    #[test]
    fn round_robin_spreads_requests_evenly_over_healthy_replicas() {
        let pool = pool(&["a:1", "b:1", "c:1"]);
        let counts = spread(&pool, 300);
        assert_eq!(counts.values().copied().collect::<Vec<_>>(), vec![100; 3]);

        pool.record_check(&replica(&pool, "b:1"), Err("503".to_owned()));
        let counts = spread(&pool, 300);
        assert_eq!(counts.get("b:1"), None, "an unhealthy replica gets nothing");
        assert_eq!(counts["a:1"], 150);
        assert_eq!(counts["c:1"], 150);
    }

    #[test]
    fn a_replica_with_requests_in_flight_gets_the_next_ones_only_when_the_others_are_as_busy() {
        let pool = pool(&["a:1", "b:1", "c:1"]);
        let slow = replica(&pool, "a:1");
        let stuck: Vec<_> = (0..2).map(|_| slow.start()).collect();
        assert_eq!(slow.in_flight(), 2);

        // b and c take turns while a is busier than both.
        let mut guards = Vec::new();
        let mut order = Vec::new();
        for _ in 0..4 {
            let picked = pool.pick().unwrap();
            order.push(picked.authority().to_string());
            guards.push(picked.start());
        }
        assert_eq!(order.iter().filter(|a| *a == "a:1").count(), 0, "{order:?}");
        assert_eq!(order.iter().filter(|a| *a == "b:1").count(), 2, "{order:?}");
        // Now all three have two in flight: round robin over all of them again.
        let counts = spread(&pool, 300);
        assert_eq!(counts.values().copied().collect::<Vec<_>>(), vec![100; 3]);

        // Answers come back: the counts follow.
        drop(stuck);
        assert_eq!(slow.in_flight(), 0);
        assert_eq!(pool.pick().unwrap().authority().as_str(), "a:1");
        drop(guards);
        assert!(pool.replicas().iter().all(|r| r.in_flight() == 0));
    }

    #[test]
    fn no_healthy_replica_means_no_pick() {
        let pool = pool(&["a:1"]);
        pool.record_check(&replica(&pool, "a:1"), Err("refused".to_owned()));
        assert!(pool.pick().is_none());
        assert!(pool.pick_other(&replica(&pool, "a:1")).is_none());
        assert_eq!(pool.report().status, "DOWN");
    }

    #[test]
    fn a_retry_goes_to_another_healthy_replica() {
        let pool = pool(&["a:1", "b:1", "c:1"]);
        let a = replica(&pool, "a:1");
        assert_eq!(pool.pick_other(&a).unwrap().authority().as_str(), "b:1");
        pool.record_check(&replica(&pool, "b:1"), Err("down".to_owned()));
        assert_eq!(pool.pick_other(&a).unwrap().authority().as_str(), "c:1");
        let c = replica(&pool, "c:1");
        assert_eq!(pool.pick_other(&c).unwrap().authority().as_str(), "a:1");
    }

    #[test]
    fn consecutive_failures_eject_a_replica_until_a_health_check_passes() {
        let pool = pool(&["a:1", "b:1"]);
        let a = replica(&pool, "a:1");
        pool.record_failure(&a);
        pool.record_failure(&a);
        pool.record_success(&a);
        pool.record_failure(&a);
        pool.record_failure(&a);
        assert!(a.is_healthy(), "a success in between resets the count");
        pool.record_failure(&a);
        assert!(!a.is_healthy(), "three in a row eject it");
        assert_eq!(pool.report().healthy, 1);

        pool.record_success(&a);
        assert!(!a.is_healthy(), "only a health check brings it back");
        pool.record_check(&a, Ok(()));
        assert!(a.is_healthy());
        pool.record_failure(&a);
        assert!(a.is_healthy(), "the count started over");
    }

    #[test]
    fn new_replica_sets_keep_the_state_of_replicas_that_stay() {
        let pool = pool(&["10.0.0.1:80", "10.0.0.2:80"]);
        pool.record_check(&replica(&pool, "10.0.0.2:80"), Err("down".to_owned()));
        pool.set_replicas(vec![
            "10.0.0.2:80".parse().unwrap(),
            "10.0.0.3:80".parse().unwrap(),
        ]);
        let report = pool.report();
        let states: Vec<(String, bool)> = report
            .replicas
            .iter()
            .map(|r| (r.address.clone(), r.healthy))
            .collect();
        assert_eq!(
            states,
            vec![
                ("10.0.0.2:80".to_owned(), false),
                ("10.0.0.3:80".to_owned(), true)
            ]
        );
    }

    #[test]
    fn the_circuit_opens_after_consecutive_failures() {
        let pool = pool(&["a:1"]);
        assert!(pool.circuit_permits());
        pool.circuit_failure();
        pool.circuit_success();
        pool.circuit_failure();
        assert!(
            pool.circuit_permits(),
            "a success in between resets the count"
        );
        pool.circuit_failure();
        assert!(!pool.circuit_permits());
        assert_eq!(pool.report().circuit, "open");
    }
}
