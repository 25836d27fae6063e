//! Load balancing over real inventory replicas: an even spread, a replica that dies
//! mid-run and comes back, and replicas found through DNS (issue 3, acceptance 3 and 4).

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use futures::StreamExt;
use reqwest::StatusCode;
use tokio::time::Instant;

use crate::helpers::{DEADLINE, HEALTH_INTERVAL, InventoryInfra, TestGateway};

fn instance(response: &reqwest::Response) -> String {
    response
        .headers()
        .get("x-instance")
        .and_then(|value| value.to_str().ok())
        .unwrap_or("none")
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_thousand_reads_spread_evenly_over_three_replicas() {
    let infra = InventoryInfra::new().await;
    let id = infra.product("Spanner").await;
    let mut replicas = Vec::new();
    for n in 1..=3 {
        replicas.push(infra.start(&format!("inventory-{n}"), 0).await);
    }
    let urls = replicas
        .iter()
        .map(|r| r.url())
        .collect::<Vec<_>>()
        .join(",");
    let gateway =
        TestGateway::spawn(infra.idp.auth_config(), &[("GATEWAY_INVENTORY_URLS", urls)]).await;
    gateway.wait_for_healthy("inventory", 3).await;

    let token = infra.customer();
    let path = format!("/inventory/product/{id}");
    let outcomes: Vec<(StatusCode, String)> = futures::stream::iter(0..3000)
        .map(|_| async {
            let response = gateway.get(&path, &token).await;
            (response.status(), instance(&response))
        })
        .buffer_unordered(32)
        .collect()
        .await;

    let mut per_instance: HashMap<String, usize> = HashMap::new();
    for (status, instance) in &outcomes {
        assert_eq!(*status, StatusCode::OK, "served by {instance}");
        *per_instance.entry(instance.clone()).or_default() += 1;
    }
    assert_eq!(per_instance.len(), 3, "{per_instance:?}");
    for n in 1..=3 {
        let count = per_instance[&format!("inventory-{n}")];
        assert!(
            (900..=1100).contains(&count),
            "inventory-{n} served {count} of 3000 (expected 1000 ± 10 %): {per_instance:?}"
        );
    }
    let metrics = gateway.metrics().await;
    assert!(
        metrics.contains(r#"gateway_requests_total{pool="inventory",status="200"} 3000"#),
        "{metrics}"
    );
    assert!(
        metrics.contains(
            r#"http_requests_total{method="GET",route="/inventory/*",status="200"} 3000"#
        ),
        "{metrics}"
    );
    for replica in &replicas {
        let gauge = format!(
            r#"gateway_replica_healthy{{pool="inventory",replica="{}"}} 1"#,
            replica.addr
        );
        assert!(metrics.contains(&gauge), "{gauge} in {metrics}");
    }
}

/// One request of the background load: when it started, and who answered or what failed.
struct Outcome {
    started: Instant,
    finished: Instant,
    result: Result<String, String>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_that_dies_mid_run_costs_no_request_and_rejoins_when_it_is_back() {
    let infra = InventoryInfra::new().await;
    let id = infra.product("Hammer").await;
    let mut replicas = Vec::new();
    for n in 1..=3 {
        replicas.push(infra.start(&format!("inventory-{n}"), 0).await);
    }
    let urls = replicas
        .iter()
        .map(|r| r.url())
        .collect::<Vec<_>>()
        .join(",");
    let gateway = Arc::new(
        TestGateway::spawn(infra.idp.auth_config(), &[("GATEWAY_INVENTORY_URLS", urls)]).await,
    );
    gateway.wait_for_healthy("inventory", 3).await;

    // Background load: 8 clients reading in a loop until told to stop.
    let outcomes = Arc::new(Mutex::new(Vec::<Outcome>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let token = infra.customer();
    let path = format!("/inventory/product/{id}");
    let mut clients = Vec::new();
    for _ in 0..8 {
        let (gateway, outcomes, stop, token, path) = (
            gateway.clone(),
            outcomes.clone(),
            stop.clone(),
            token.clone(),
            path.clone(),
        );
        clients.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let started = Instant::now();
                let result = match gateway
                    .client
                    .get(gateway.url(&path))
                    .bearer_auth(&token)
                    .send()
                    .await
                {
                    Ok(response) if response.status() == StatusCode::OK => Ok(instance(&response)),
                    Ok(response) => Err(format!(
                        "{} {}",
                        response.status(),
                        response.text().await.unwrap_or_default()
                    )),
                    Err(err) => Err(err.to_string()),
                };
                outcomes.lock().unwrap().push(Outcome {
                    started,
                    finished: Instant::now(),
                    result,
                });
            }
        }));
    }
    let served_by = |instance: &str, after: Instant| {
        let outcomes = outcomes.clone();
        let instance = instance.to_owned();
        move || {
            let served = outcomes
                .lock()
                .unwrap()
                .iter()
                .filter(|o| o.started >= after && o.result.as_deref() == Ok(instance.as_str()))
                .count();
            async move { (served > 0).then_some(()) }
        }
    };
    let began = Instant::now();
    testkit::eventually(
        "inventory-2 to serve",
        DEADLINE,
        served_by("inventory-2", began),
    )
    .await;

    // Kill inventory-2 mid-run.
    // A graceful stop drains in-flight requests first; the replica is gone when it returns.
    let port = replicas[1].addr.port();
    replicas[1].stop().await;
    let killed_at = Instant::now();
    let settled = killed_at + HEALTH_INTERVAL + Duration::from_millis(300);
    let completed_after = |at: Instant, count: usize| {
        let outcomes = outcomes.clone();
        move || {
            let done = outcomes
                .lock()
                .unwrap()
                .iter()
                .filter(|o| o.started >= at)
                .count();
            async move { (done >= count).then_some(()) }
        }
    };
    testkit::eventually(
        "300 requests started after the next health check",
        DEADLINE,
        completed_after(settled, 300),
    )
    .await;

    // Bring it back on the same address.
    let restarted_at = Instant::now();
    replicas[1] = infra.start("inventory-2", port).await;
    testkit::eventually(
        "the restarted inventory-2 to serve again",
        DEADLINE,
        served_by("inventory-2", restarted_at),
    )
    .await;
    testkit::eventually(
        "100 more requests after the restart",
        DEADLINE,
        completed_after(Instant::now(), 100),
    )
    .await;
    stop.store(true, Ordering::Relaxed);
    for client in clients {
        client.await.expect("load client");
    }

    let outcomes = outcomes.lock().unwrap();
    let early_failures: Vec<&String> = outcomes
        .iter()
        .filter(|o| o.started < settled)
        .filter_map(|o| o.result.as_ref().err())
        .collect();
    let late: Vec<&Outcome> = outcomes.iter().filter(|o| o.started >= settled).collect();
    let late_failures: Vec<&String> = late
        .iter()
        .filter_map(|o| o.result.as_ref().err())
        .collect();
    assert!(
        late_failures.is_empty(),
        "{} of {} requests after the health-check interval failed (and {} before it): {:?}",
        late_failures.len(),
        late.len(),
        early_failures.len(),
        late_failures.iter().take(5).collect::<Vec<_>>()
    );
    let served_while_dead = outcomes
        .iter()
        .filter(|o| o.started >= killed_at && o.finished < restarted_at)
        .filter(|o| o.result.as_deref() == Ok("inventory-2"))
        .count();
    assert_eq!(served_while_dead, 0, "a stopped replica cannot answer");
    let mut after_restart: HashMap<&str, usize> = HashMap::new();
    for outcome in outcomes.iter().filter(|o| o.started >= restarted_at) {
        if let Ok(instance) = &outcome.result {
            *after_restart.entry(instance.as_str()).or_default() += 1;
        }
    }
    assert_eq!(
        after_restart.len(),
        3,
        "all three replicas serve after the restart: {after_restart:?}"
    );
}

#[tokio::test]
async fn a_pool_found_through_dns_serves_from_the_addresses_the_name_resolves_to() {
    let infra = InventoryInfra::new().await;
    let id = infra.product("Saw").await;
    let replica = infra.start("inventory-dns", 0).await;
    let gateway = TestGateway::spawn(
        infra.idp.auth_config(),
        &[
            (
                "GATEWAY_INVENTORY_DNS",
                format!("localhost:{}", replica.addr.port()),
            ),
            ("GATEWAY_DNS_REFRESH_MS", "200".to_owned()),
        ],
    )
    .await;

    gateway.wait_for_healthy("inventory", 1).await;
    let report = gateway.ready().await;
    let replicas = report["pools"]["inventory"]["replicas"]
        .as_array()
        .expect("replica list");
    assert!(
        replicas
            .iter()
            .any(|r| r["address"] == replica.addr.to_string() && r["healthy"] == true),
        "{report}"
    );
    let response = gateway
        .get(&format!("/inventory/product/{id}"), &infra.customer())
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(instance(&response), "inventory-dns");
}
