//! The monitoring custom resources (no schema in kubernetes-validate) checked by
//! structure, and every metric they and the dashboard use checked against what the
//! services really expose.

use std::collections::BTreeSet;

use ci::policy::{kind, name, selects};
use serde_json::Value;

use crate::support::{render, repo};

/// Metrics from outside the shop: kube-state-metrics and RabbitMQ's prometheus plugin.
const EXTERNAL_METRICS: [&str; 2] = [
    "kube_pod_container_status_restarts_total",
    "rabbitmq_queue_messages_ready",
];

/// The names the services register, with the suffixes Prometheus adds.
fn exposed_metrics() -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for (file, prefix) in [
        ("services/platform/src/metrics.rs", ""),
        ("services/gateway/src/metrics.rs", "gateway_"),
    ] {
        let source = std::fs::read_to_string(repo().join(file)).expect("the metrics module");
        for chunk in source.split("registry.register(").skip(1) {
            let Some(name) = chunk.split('"').nth(1) else {
                continue;
            };
            for suffix in ["", "_total", "_bucket", "_sum", "_count"] {
                names.insert(format!("{prefix}{name}{suffix}"));
            }
        }
    }
    names.extend(EXTERNAL_METRICS.map(str::to_owned));
    names
}

/// Metric names in a PromQL expression: identifiers with an underscore that are neither
/// functions, nor label names inside `{...}`, `by (...)` or `without (...)`.
fn metrics_in(expr: &str) -> BTreeSet<String> {
    let mut text = String::new();
    let mut depth = 0;
    for c in expr.chars() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            _ if depth == 0 => text.push(c),
            _ => {}
        }
    }
    let mut found = BTreeSet::new();
    let mut position = 0;
    while let Some(offset) = text[position..].find(|c: char| c.is_ascii_alphabetic() || c == '_') {
        let start = position + offset;
        let end = text[start..]
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
            .map_or(text.len(), |length| start + length);
        let word = &text[start..end];
        let after = text[end..].trim_start();
        // Inside `by (...)`/`without (...)`: the last `(` before the word follows one of them.
        let grouping = text[..start]
            .rfind('(')
            .filter(|&open| !text[open..start].contains(')'))
            .is_some_and(|open| {
                let keyword = text[..open].trim_end();
                keyword.ends_with(" by") || keyword.ends_with(" without")
            });
        if word.contains('_') && !after.starts_with('(') && !grouping {
            found.insert(word.to_owned());
        }
        position = end;
    }
    found
}

#[test]
fn alerts_cover_errors_latency_dead_letters_outbox_lag_and_restarts_with_real_metrics() {
    let exposed = exposed_metrics();
    for overlay in ["k8s/overlays/test", "k8s/overlays/prod"] {
        let objects = render(overlay);
        let rules: Vec<&Value> = objects
            .iter()
            .filter(|o| kind(o) == "PrometheusRule")
            .flat_map(|rule| rule["spec"]["groups"].as_array().into_iter().flatten())
            .flat_map(|group| group["rules"].as_array().into_iter().flatten())
            .collect();
        let mut used = BTreeSet::new();
        for rule in &rules {
            let alert = rule["alert"].as_str().expect("every rule is an alert");
            let expr = rule["expr"].as_str().expect("an expression");
            assert!(
                ["critical", "warning"]
                    .contains(&rule["labels"]["severity"].as_str().unwrap_or_default()),
                "{alert}"
            );
            assert!(
                rule["annotations"]["summary"].is_string()
                    && rule["annotations"]["description"].is_string(),
                "{alert}"
            );
            let metrics = metrics_in(expr);
            assert!(!metrics.is_empty(), "{alert}: no metric in {expr}");
            for metric in &metrics {
                assert!(
                    exposed.contains(metric),
                    "{alert} uses {metric}, which nothing exposes"
                );
            }
            used.extend(metrics);
        }
        for needed in [
            "http_requests_total",
            "http_request_duration_seconds_bucket",
            "rabbitmq_queue_messages_ready",
            "outbox_lag_seconds",
            "kube_pod_container_status_restarts_total",
        ] {
            assert!(used.contains(needed), "{overlay}: no alert on {needed}");
        }
    }
}

#[test]
fn the_grafana_dashboard_is_valid_json_over_real_metrics() {
    let objects = render("k8s/overlays/test");
    let dashboard = objects
        .iter()
        .find(|o| kind(o) == "ConfigMap" && o["metadata"]["labels"]["grafana_dashboard"] == "1")
        .expect("the dashboard ConfigMap");
    let json: Value = serde_json::from_str(
        dashboard["data"]["ironvessel.json"]
            .as_str()
            .expect("the JSON"),
    )
    .expect("valid JSON");
    let exposed = exposed_metrics();
    let panels = json["panels"].as_array().expect("panels");
    assert!(panels.len() >= 8);
    let ids: BTreeSet<u64> = panels.iter().filter_map(|p| p["id"].as_u64()).collect();
    assert_eq!(ids.len(), panels.len(), "panel ids are unique");
    for panel in panels {
        for target in panel["targets"].as_array().expect("targets") {
            let expr = target["expr"].as_str().expect("an expression");
            let metrics = metrics_in(expr);
            assert!(!metrics.is_empty(), "{expr}");
            for metric in metrics {
                assert!(
                    exposed.contains(&metric),
                    "panel {} uses {metric}, which nothing exposes",
                    panel["title"]
                );
            }
        }
    }
}

#[test]
fn service_monitors_select_services_with_the_port_they_scrape() {
    let objects = render("k8s/overlays/test");
    let monitors: Vec<&Value> = objects
        .iter()
        .filter(|o| kind(o) == "ServiceMonitor")
        .collect();
    assert_eq!(monitors.len(), 3, "services, Keycloak, RabbitMQ");
    let mut scraped = BTreeSet::new();
    for monitor in monitors {
        let selector = &monitor["spec"]["selector"];
        let services: Vec<&Value> = objects
            .iter()
            .filter(|o| kind(o) == "Service" && selects(selector, &o["metadata"]["labels"]))
            .collect();
        assert!(!services.is_empty(), "{} selects no Service", name(monitor));
        for endpoint in monitor["spec"]["endpoints"].as_array().expect("endpoints") {
            let port = endpoint["port"].as_str().expect("a named port");
            assert!(
                endpoint["path"]
                    .as_str()
                    .is_some_and(|p| p.starts_with("/metrics"))
            );
            for service in &services {
                let ports = service["spec"]["ports"].as_array().expect("ports");
                assert!(
                    ports.iter().any(|p| p["name"] == port),
                    "{} has no port {port}",
                    name(service)
                );
                assert!(
                    service["spec"]["clusterIP"] != "None",
                    "{} is headless: its pods would be scraped twice",
                    name(service)
                );
                scraped.insert(name(service).to_owned());
            }
        }
    }
    for service in [
        "gateway",
        "account",
        "inventory",
        "order",
        "payment",
        "keycloak",
        "rabbitmq",
    ] {
        assert!(scraped.contains(service), "{service} is not scraped");
    }
}

#[test]
fn metric_names_are_told_apart_from_labels_and_functions() {
    let expr = r#"histogram_quantile(0.99, sum by (namespace, service, le) (rate(http_request_duration_seconds_bucket{namespace="$namespace"}[5m])))
        / max without (pod_name) (outbox_lag_seconds) > 0"#;
    assert_eq!(
        metrics_in(expr),
        BTreeSet::from([
            "http_request_duration_seconds_bucket".to_owned(),
            "outbox_lag_seconds".to_owned()
        ])
    );
}
