//! Load tests on goose: user journeys through the gateway, SLO gates on exact latencies,
//! scaling and caching experiments.
//!
//! goose drives the virtual users and writes its HTML report; everything it lacks is
//! here. Each journey step is timed by us into an HdrHistogram ([`recorder`]), so the
//! percentiles the thresholds ([`thresholds`]) judge are exact rather than goose's
//! bucketed ones. A run's [`results`] serialize those histograms, so the results of
//! several workers (each on a disjoint range of seeded users, [`dataset`]) merge into
//! one before the thresholds are judged on the whole.

pub mod baseline;
pub mod cache_experiment;
pub mod dataset;
pub mod journeys;
pub mod recorder;
pub mod results;
pub mod run;
pub mod staleness;
pub mod thresholds;
