//! Every overlay renders, validates against the Kubernetes schemas, follows the policy,
//! and wires up exactly the flows, replicas and realm the shop needs.

use std::collections::BTreeSet;

use ci::policy::{self, Rules, kind, name, selects, template};
use serde_json::Value;

use crate::support::{files, objects_in, render, repo, succeed, tool};

/// The Kubernetes version the manifests are validated against (EKS 1.33, as the original's cluster).
const KUBERNETES: &str = "1.33.0";

/// Kinds that are CustomResourceDefinitions, which kubernetes-validate has no schema for;
/// they are checked structurally (here and in `monitoring`).
const CUSTOM_KINDS: [&str; 4] = [
    "ServiceMonitor",
    "PrometheusRule",
    "Application",
    "AppProject",
];

const ENVIRONMENTS: [(&str, Rules); 3] = [
    (
        "k8s/overlays/dev",
        Rules {
            require_digests: false,
        },
    ),
    (
        "k8s/overlays/test",
        Rules {
            require_digests: false,
        },
    ),
    (
        "k8s/overlays/prod",
        Rules {
            require_digests: true,
        },
    ),
];

fn validate(objects: &[Value], label: &str) {
    let standard: Vec<&Value> = objects
        .iter()
        .filter(|o| !CUSTOM_KINDS.contains(&kind(o)))
        .collect();
    // JSON documents (valid YAML): no YAML 1.1 reader can take a string like `no` for a boolean.
    let yaml: String = standard
        .iter()
        .map(|object| format!("---\n{object}\n"))
        .collect();
    let dir = tempfile::tempdir().expect("a temp dir");
    let file = dir.path().join(format!("{}.yaml", label.replace('/', "-")));
    std::fs::write(&file, yaml).expect("writable");
    let output = succeed(
        tool("kubernetes-validate")
            .args(["--strict", "--quiet", "-k", KUBERNETES])
            .arg(&file),
    );
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        !report.contains("Couldn't find schema"),
        "{label}: an object was not validated:\n{report}"
    );
}

#[test]
fn every_overlay_renders_and_passes_kubernetes_validate_strict() {
    for (overlay, _) in ENVIRONMENTS {
        let objects = render(overlay);
        assert!(
            objects.len() > 40,
            "{overlay} rendered only {} objects",
            objects.len()
        );
        validate(&objects, overlay);
    }
}

#[test]
fn every_environment_follows_the_policy() {
    for (overlay, rules) in ENVIRONMENTS {
        let violations = policy::check(&render(overlay), rules);
        let report: Vec<String> = violations.iter().map(ToString::to_string).collect();
        assert!(report.is_empty(), "{overlay}:\n{}", report.join("\n"));
    }
}

#[test]
fn every_prod_image_is_pinned_by_digest_and_nothing_runs_latest() {
    for (overlay, _) in ENVIRONMENTS {
        for object in render(overlay) {
            let Some(template) = template(&object) else {
                continue;
            };
            for container in template["spec"]["containers"]
                .as_array()
                .into_iter()
                .flatten()
            {
                let image = container["image"].as_str().unwrap_or_default();
                assert!(!image.ends_with(":latest"), "{overlay}: {image}");
                if overlay.ends_with("prod") {
                    assert!(image.contains("@sha256:"), "prod runs {image}");
                }
            }
        }
    }
}

#[test]
fn the_test_keycloak_imports_the_very_realm_file_identity_loads() {
    let objects = render("k8s/overlays/test");
    let realm =
        std::fs::read_to_string(repo().join("services/identity/realms/ironvessel-realm.json"))
            .expect("the realm file");
    let config_map = objects
        .iter()
        .find(|o| kind(o) == "ConfigMap" && name(o).starts_with("keycloak-realm"))
        .expect("a realm ConfigMap in test");
    assert_eq!(
        config_map["data"]["ironvessel-realm.json"].as_str(),
        Some(realm.as_str())
    );
    let keycloak = objects
        .iter()
        .find(|o| kind(o) == "Deployment" && name(o) == "keycloak")
        .expect("Keycloak");
    let pod = &keycloak["spec"]["template"]["spec"];
    let container = &pod["containers"][0];
    assert!(
        container["args"]
            .as_array()
            .expect("args")
            .iter()
            .any(|a| a == "--import-realm")
    );
    let volume = pod["volumes"]
        .as_array()
        .expect("volumes")
        .iter()
        .find(|v| v["name"] == "realm")
        .expect("realm volume");
    assert_eq!(volume["configMap"]["name"].as_str(), Some(name(config_map)));
    let mount = container["volumeMounts"]
        .as_array()
        .expect("mounts")
        .iter()
        .find(|m| m["name"] == "realm")
        .expect("mount");
    assert_eq!(mount["mountPath"], "/opt/keycloak/data/import");
    // One source: no copy of a realm export anywhere under k8s/.
    let copies = files(&repo().join("k8s"), &|path| {
        path.extension().is_some_and(|e| e == "json") && path.to_string_lossy().contains("realm")
    });
    assert!(copies.is_empty(), "realm copies: {copies:?}");
    // Prod never imports the demo realm (public demo passwords).
    let prod = render("k8s/overlays/prod");
    assert!(
        !prod
            .iter()
            .any(|o| kind(o) == "ConfigMap" && name(o).starts_with("keycloak-realm"))
    );
}

#[test]
fn prod_runs_the_original_replica_counts_behind_a_tls_ingress_and_managed_data_stores() {
    let objects = render("k8s/overlays/prod");
    let min_replicas = |target: &str| {
        objects
            .iter()
            .find(|o| kind(o) == "HorizontalPodAutoscaler" && name(o) == target)
            .and_then(|hpa| hpa["spec"]["minReplicas"].as_u64())
    };
    for (service, replicas) in [
        ("inventory", 3),
        ("order", 2),
        ("payment", 2),
        ("account", 1),
    ] {
        assert_eq!(min_replicas(service), Some(replicas), "{service}");
    }
    let ingress = objects
        .iter()
        .find(|o| kind(o) == "Ingress")
        .expect("an Ingress");
    assert_eq!(
        ingress["spec"]["tls"][0]["hosts"][0],
        ingress["spec"]["rules"][0]["host"]
    );
    assert_eq!(
        ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["name"],
        "gateway"
    );
    let externals: BTreeSet<&str> = objects
        .iter()
        .filter(|o| kind(o) == "Service" && o["spec"]["type"] == "ExternalName")
        .map(name)
        .collect();
    for store in [
        "postgres-account",
        "postgres-inventory",
        "postgres-orders",
        "postgres-payment",
        "postgres-keycloak",
        "rabbitmq",
        "redis",
    ] {
        assert!(
            externals.contains(store),
            "{store} is not an external endpoint in prod"
        );
    }
    assert!(
        !objects.iter().any(|o| kind(o) == "StatefulSet"),
        "prod runs no data store in the cluster"
    );
}

#[test]
fn the_seeder_is_an_indexed_job_sharded_by_its_completion_index() {
    let objects = render("k8s/overlays/test");
    let jobs: Vec<&Value> = objects.iter().filter(|o| kind(o) == "Job").collect();
    assert_eq!(
        jobs.iter().map(|j| name(j)).collect::<BTreeSet<_>>(),
        BTreeSet::from(["loadtest", "seeder"])
    );
    for job in jobs {
        let spec = &job["spec"];
        assert_eq!(spec["completionMode"], "Indexed");
        let completions = spec["completions"].as_u64().expect("completions");
        let args: Vec<&str> = spec["template"]["spec"]["containers"][0]["args"]
            .as_array()
            .expect("args")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        assert!(
            args.contains(&format!("$(JOB_COMPLETION_INDEX)/{completions}").as_str()),
            "{}: {args:?}",
            name(job)
        );
    }
}

/// One pod kind of the rendered environment: its labels and named ports.
struct Pod<'a> {
    labels: &'a Value,
    template: &'a Value,
}

impl Pod<'_> {
    fn port_number(&self, port: &Value) -> Option<u64> {
        port.as_u64().or_else(|| {
            let named = port.as_str()?;
            self.template["spec"]["containers"]
                .as_array()?
                .iter()
                .flat_map(|c| c["ports"].as_array().into_iter().flatten())
                .find(|p| p["name"] == named)
                .and_then(|p| p["containerPort"].as_u64())
        })
    }
}

fn pods(objects: &[Value]) -> Vec<(String, Pod<'_>)> {
    objects
        .iter()
        .filter_map(|o| {
            template(o).map(|t| {
                (
                    name(o).to_owned(),
                    Pod {
                        labels: &t["metadata"]["labels"],
                        template: t,
                    },
                )
            })
        })
        .collect()
}

/// Whether `policies` let `from` open a connection to `to` on `port` (both sides checked).
fn allowed(policies: &[&Value], from: &Pod<'_>, to: &Pod<'_>, port: u64) -> bool {
    let side = |direction: &str, peers: &str, own: &Pod<'_>, other: &Pod<'_>| {
        policies.iter().any(|policy| {
            let spec = &policy["spec"];
            let applies = spec["policyTypes"]
                .as_array()
                .is_some_and(|t| t.iter().any(|t| t == direction));
            applies
                && selects(&spec["podSelector"], own.labels)
                && spec[direction.to_lowercase().as_str()]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|rule| {
                        let peer_ok = rule[peers].as_array().is_none_or(|list| {
                            list.iter().any(|peer| {
                                peer.get("namespaceSelector").is_none()
                                    && peer.get("ipBlock").is_none()
                                    && selects(&peer["podSelector"], other.labels)
                            })
                        });
                        let port_ok = rule["ports"].as_array().is_none_or(|ports| {
                            ports
                                .iter()
                                .any(|p| to.port_number(&p["port"]) == Some(port))
                        });
                        peer_ok && port_ok
                    })
        })
    };
    side("Egress", "to", from, to) && side("Ingress", "from", to, from)
}

#[test]
fn network_policies_allow_exactly_the_flows_of_the_shop() {
    let objects = render("k8s/overlays/test");
    let policies: Vec<&Value> = objects
        .iter()
        .filter(|o| kind(o) == "NetworkPolicy")
        .collect();
    let pods = pods(&objects);
    let pod = |wanted: &str| {
        &pods
            .iter()
            .find(|(n, _)| n == wanted)
            .unwrap_or_else(|| panic!("no {wanted}"))
            .1
    };
    let flow = |from: &str, to: &str, port: u64| (from.to_owned(), to.to_owned(), port);
    let mut expected = vec![
        flow("gateway", "account", 8081),
        flow("gateway", "inventory", 8082),
        flow("gateway", "order", 8083),
        flow("gateway", "payment", 8084),
        flow("gateway", "keycloak", 8080),
        flow("account", "order", 8083),
        flow("account", "payment", 8084),
        flow("order", "payment", 8084),
        flow("keycloak", "postgres-keycloak", 5432),
        flow("loadtest", "gateway", 9080),
    ];
    for (service, database) in [
        ("account", "account"),
        ("inventory", "inventory"),
        ("order", "orders"),
        ("payment", "payment"),
    ] {
        let database = format!("postgres-{database}");
        expected.push(flow(service, "keycloak", 8080));
        expected.push(flow(service, "rabbitmq", 5672));
        expected.push(flow(service, "redis", 6379));
        expected.push(flow(service, &database, 5432));
        expected.push(flow("seeder", &database, 5432));
    }
    expected.push(flow("seeder", "keycloak", 8080));
    for (from, to, port) in &expected {
        assert!(
            allowed(&policies, pod(from), pod(to), *port),
            "{from} -> {to}:{port} is blocked"
        );
    }
    let forbidden = [
        ("inventory", "order", 8083),
        ("payment", "account", 8081),
        ("order", "account", 8081),
        ("gateway", "postgres-account", 5432),
        ("account", "postgres-inventory", 5432),
        ("loadtest", "account", 8081),
        ("redis", "rabbitmq", 5672),
        ("keycloak", "account", 8081),
    ];
    for (from, to, port) in forbidden {
        assert!(
            !allowed(&policies, pod(from), pod(to), port),
            "{from} -> {to}:{port} is open"
        );
    }
    // Every pair of workloads not listed above is blocked on every port the target listens on.
    let listed: BTreeSet<(&str, &str)> = expected
        .iter()
        .map(|(f, t, _)| (f.as_str(), t.as_str()))
        .collect();
    for (from, source) in &pods {
        for (to, target) in &pods {
            if from == to || listed.contains(&(from.as_str(), to.as_str())) {
                continue;
            }
            for port in target.template["spec"]["containers"]
                .as_array()
                .into_iter()
                .flatten()
                .flat_map(|c| c["ports"].as_array().into_iter().flatten())
            {
                let number = port["containerPort"].as_u64().expect("a port number");
                assert!(
                    !allowed(&policies, source, target, number),
                    "unexpected flow {from} -> {to}:{number}"
                );
            }
        }
    }
}

#[test]
fn argo_cd_deploys_every_component_once_automatically_in_test_and_manually_in_prod() {
    for env in ["test", "prod"] {
        let root = objects_in(&format!("k8s/argocd/{env}/root.yaml"));
        assert_eq!(root.len(), 1);
        assert_eq!(
            root[0]["spec"]["source"]["path"],
            format!("k8s/argocd/{env}/apps")
        );
        let apps = objects_in(&format!("k8s/argocd/{env}/apps/applications.yaml"));
        let applications: Vec<&Value> = apps.iter().filter(|o| kind(o) == "Application").collect();
        let paths: BTreeSet<String> = applications
            .iter()
            .map(|app| {
                app["spec"]["source"]["path"]
                    .as_str()
                    .expect("a path")
                    .to_owned()
            })
            .collect();
        assert_eq!(
            paths.len(),
            applications.len(),
            "{env}: two Applications share a path"
        );
        let overlay = objects_in(&format!("k8s/overlays/{env}/kustomization.yaml"));
        let components: BTreeSet<String> = overlay[0]["resources"]
            .as_array()
            .expect("resources")
            .iter()
            .map(|r| format!("k8s/overlays/{env}/{}", r.as_str().expect("a path")))
            .collect();
        assert_eq!(
            paths, components,
            "{env}: Applications and overlay components differ"
        );
        let env_component = objects_in(&format!("k8s/overlays/{env}/env/kustomization.yaml"));
        let namespace = env_component[0]["namespace"].as_str().expect("a namespace");
        for app in applications {
            let spec = &app["spec"];
            assert!(
                repo()
                    .join(spec["source"]["path"].as_str().unwrap_or_default())
                    .join("kustomization.yaml")
                    .is_file()
            );
            assert_eq!(spec["destination"]["namespace"], namespace, "{}", name(app));
            assert_eq!(spec["project"], format!("ironvessel-{env}"));
            let automated = &spec["syncPolicy"]["automated"];
            let action = ["seeder", "loadtest"]
                .iter()
                .any(|job| name(app).ends_with(job));
            if env == "test" && !action {
                assert_eq!(
                    (
                        automated["prune"].as_bool(),
                        automated["selfHeal"].as_bool()
                    ),
                    (Some(true), Some(true)),
                    "{}",
                    name(app)
                );
            } else {
                assert!(automated.is_null(), "{} must sync manually", name(app));
            }
        }
    }
}
