//! The rules every rendered environment must follow, checked on the output of
//! `kubectl kustomize`.
//!
//! kubernetes-validate says whether each object is well-formed; this module says
//! whether the set of objects is one we are willing to run: every workload hardened
//! (probes, requests and limits, non-root, read-only root filesystem, no capabilities,
//! seccomp), scaled and protected (HPA, PDB), fenced in by its own NetworkPolicy behind a
//! namespace-wide default deny, images pinned by digest where the environment demands
//! it, and no secret material in any Secret.

use std::fmt;

use anyhow::{Context, Result};
use serde::Deserialize;
use serde_json::Value;

/// Parses a multi-document YAML stream (what `kubectl kustomize` prints).
pub fn parse(text: &str) -> Result<Vec<Value>> {
    serde_norway::Deserializer::from_str(text)
        .map(|document| Value::deserialize(document).context("invalid YAML document"))
        .filter(|value| !matches!(value, Ok(Value::Null)))
        .collect()
}

/// What an environment demands beyond the common rules.
#[derive(Debug, Clone, Copy, Default)]
pub struct Rules {
    /// Every image must be pinned by digest (prod).
    pub require_digests: bool,
}

/// The rule a violation breaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Rule {
    /// Liveness and readiness probes on `/health/live` and `/health/ready`.
    Probes,
    /// CPU and memory requests and limits.
    Resources,
    /// `runAsNonRoot: true`.
    NonRoot,
    /// `readOnlyRootFilesystem: true`.
    ReadOnlyRootFilesystem,
    /// No privilege escalation, every capability dropped, seccomp `RuntimeDefault`.
    Privileges,
    /// Images pinned by `@sha256:` digest.
    Digest,
    /// No `:latest` and no untagged image.
    MutableTag,
    /// A NetworkPolicy of the workload's own.
    NetworkPolicy,
    /// A default-deny NetworkPolicy in every namespace with workloads.
    DefaultDeny,
    /// Secrets carry no data in the manifests.
    SecretData,
    /// A HorizontalPodAutoscaler for every Deployment.
    Autoscaler,
    /// A PodDisruptionBudget for every Deployment.
    DisruptionBudget,
    /// A Service in front of every Deployment.
    Service,
    /// A ServiceAccount of the workload's own, rendered with it.
    ServiceAccount,
}

/// One broken rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// `Kind/namespace/name` of the offending object.
    pub object: String,
    /// Which rule.
    pub rule: Rule,
    /// What exactly is wrong.
    pub detail: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} [{:?}]: {}", self.object, self.rule, self.detail)
    }
}

/// Kinds that run pods, and where their pod template is.
const WORKLOADS: [(&str, &str); 5] = [
    ("Deployment", "/spec/template"),
    ("StatefulSet", "/spec/template"),
    ("DaemonSet", "/spec/template"),
    ("Job", "/spec/template"),
    ("CronJob", "/spec/jobTemplate/spec/template"),
];

const NAME_LABEL: &str = "app.kubernetes.io/name";

/// Checks every rule on a rendered environment.
pub fn check(objects: &[Value], rules: Rules) -> Vec<Violation> {
    let mut violations = Vec::new();
    let mut report = |object: &Value, rule: Rule, detail: String| {
        violations.push(Violation {
            object: id(object),
            rule,
            detail,
        });
    };
    for object in objects {
        if kind(object) == "Secret" {
            for field in ["data", "stringData"] {
                if object
                    .get(field)
                    .and_then(Value::as_object)
                    .is_some_and(|map| !map.is_empty())
                {
                    report(
                        object,
                        Rule::SecretData,
                        format!("has `{field}`: secrets are created out of band, never committed"),
                    );
                }
            }
        }
        let Some(template) = template(object) else {
            continue;
        };
        for (rule, detail) in check_pod(object, template, rules) {
            report(object, rule, detail);
        }
        for (rule, detail) in check_surroundings(object, template, objects) {
            report(object, rule, detail);
        }
    }
    for namespace in workload_namespaces(objects) {
        if !objects
            .iter()
            .any(|o| is_default_deny(o) && namespace_of(o) == namespace)
        {
            violations.push(Violation {
                object: format!("Namespace/{namespace}"),
                rule: Rule::DefaultDeny,
                detail: "no NetworkPolicy with an empty podSelector denying all ingress and egress"
                    .to_owned(),
            });
        }
    }
    violations
}

fn check_pod(object: &Value, template: &Value, rules: Rules) -> Vec<(Rule, String)> {
    let mut found = Vec::new();
    let pod = &template["spec"];
    let pod_security = &pod["securityContext"];
    let containers = pod["containers"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    let init = pod["initContainers"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    for container in containers.iter().chain(init) {
        let name = container["name"].as_str().unwrap_or("?");
        let security = &container["securityContext"];
        let either = |field: &str| {
            security
                .get(field)
                .or_else(|| pod_security.get(field))
                .cloned()
                .unwrap_or(Value::Null)
        };
        for path in [
            "/requests/cpu",
            "/requests/memory",
            "/limits/cpu",
            "/limits/memory",
        ] {
            if container["resources"].pointer(path).is_none() {
                found.push((
                    Rule::Resources,
                    format!(
                        "container {name} has no resources{}",
                        path.replace('/', ".")
                    ),
                ));
            }
        }
        if either("runAsNonRoot") != Value::Bool(true) {
            found.push((
                Rule::NonRoot,
                format!("container {name} may run as root (set runAsNonRoot: true)"),
            ));
        }
        if security["readOnlyRootFilesystem"] != Value::Bool(true) {
            found.push((
                Rule::ReadOnlyRootFilesystem,
                format!("container {name} has a writable root filesystem"),
            ));
        }
        if security["allowPrivilegeEscalation"] != Value::Bool(false) {
            found.push((
                Rule::Privileges,
                format!("container {name} allows privilege escalation"),
            ));
        }
        let drops_all = security
            .pointer("/capabilities/drop")
            .and_then(Value::as_array)
            .is_some_and(|drop| drop.iter().any(|c| c == "ALL"));
        if !drops_all {
            found.push((
                Rule::Privileges,
                format!("container {name} does not drop ALL capabilities"),
            ));
        }
        if either("seccompProfile")
            .pointer("/type")
            .and_then(Value::as_str)
            != Some("RuntimeDefault")
        {
            found.push((
                Rule::Privileges,
                format!("container {name} has no RuntimeDefault seccomp profile"),
            ));
        }
        let image = container["image"].as_str().unwrap_or_default();
        if let Some(problem) = image_problem(image, rules) {
            found.push(problem);
        }
    }
    let probed = matches!(kind(object), "Deployment" | "StatefulSet");
    for container in containers.iter().filter(|_| probed) {
        let name = container["name"].as_str().unwrap_or("?");
        for (probe, path) in [
            ("livenessProbe", "/health/live"),
            ("readinessProbe", "/health/ready"),
        ] {
            let Some(spec) = container.get(probe) else {
                found.push((Rule::Probes, format!("container {name} has no {probe}")));
                continue;
            };
            let http_path = spec.pointer("/httpGet/path").and_then(Value::as_str);
            if kind(object) == "Deployment" && http_path != Some(path) {
                found.push((
                    Rule::Probes,
                    format!("container {name}'s {probe} does not GET {path}"),
                ));
            }
        }
    }
    found
}

fn image_problem(image: &str, rules: Rules) -> Option<(Rule, String)> {
    let (name, digest) = image.split_once('@').unwrap_or((image, ""));
    if rules.require_digests {
        let valid = digest
            .strip_prefix("sha256:")
            .is_some_and(|hex| hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()));
        if !valid {
            return Some((
                Rule::Digest,
                format!("image {image} is not pinned by digest"),
            ));
        }
        return None;
    }
    let last = name.rsplit('/').next().unwrap_or(name);
    let tag = last.split_once(':').map(|(_, tag)| tag);
    match tag {
        _ if !digest.is_empty() => None,
        Some("latest") => Some((Rule::MutableTag, format!("image {image} uses :latest"))),
        None => Some((
            Rule::MutableTag,
            format!("image {image} has neither tag nor digest"),
        )),
        Some(_) => None,
    }
}

fn check_surroundings(object: &Value, template: &Value, objects: &[Value]) -> Vec<(Rule, String)> {
    let mut found = Vec::new();
    let namespace = namespace_of(object);
    let labels = &template["metadata"]["labels"];
    let own_policy = objects.iter().any(|policy| {
        kind(policy) == "NetworkPolicy"
            && namespace_of(policy) == namespace
            && policy
                .pointer(&format!(
                    "/spec/podSelector/matchLabels/{}",
                    NAME_LABEL.replace('/', "~1")
                ))
                .is_some()
            && selects(&policy["spec"]["podSelector"], labels)
    });
    if !own_policy {
        found.push((
            Rule::NetworkPolicy,
            format!("no NetworkPolicy selects its pods by {NAME_LABEL}"),
        ));
    }
    if let Some(account) = template
        .pointer("/spec/serviceAccountName")
        .and_then(Value::as_str)
    {
        if !objects.iter().any(|o| {
            kind(o) == "ServiceAccount" && name(o) == account && namespace_of(o) == namespace
        }) {
            found.push((
                Rule::ServiceAccount,
                format!("its ServiceAccount {account} is not rendered"),
            ));
        }
    } else {
        found.push((
            Rule::ServiceAccount,
            "runs as the namespace's default ServiceAccount".to_owned(),
        ));
    }
    if kind(object) != "Deployment" {
        return found;
    }
    let same_namespace = |o: &&Value| namespace_of(o) == namespace;
    let autoscaled = objects.iter().filter(same_namespace).any(|hpa| {
        kind(hpa) == "HorizontalPodAutoscaler"
            && hpa
                .pointer("/spec/scaleTargetRef/kind")
                .and_then(Value::as_str)
                == Some("Deployment")
            && hpa
                .pointer("/spec/scaleTargetRef/name")
                .and_then(Value::as_str)
                == Some(name(object))
    });
    if !autoscaled {
        found.push((
            Rule::Autoscaler,
            "no HorizontalPodAutoscaler scales it".to_owned(),
        ));
    }
    let budgeted = objects
        .iter()
        .filter(same_namespace)
        .any(|pdb| kind(pdb) == "PodDisruptionBudget" && selects(&pdb["spec"]["selector"], labels));
    if !budgeted {
        found.push((
            Rule::DisruptionBudget,
            "no PodDisruptionBudget selects its pods".to_owned(),
        ));
    }
    let served = objects.iter().filter(same_namespace).any(|service| {
        kind(service) == "Service"
            && service["spec"]["selector"]
                .as_object()
                .is_some_and(|selector| {
                    !selector.is_empty() && selector.iter().all(|(k, v)| &labels[k] == v)
                })
    });
    if !served {
        found.push((Rule::Service, "no Service selects its pods".to_owned()));
    }
    found
}

/// Whether a label selector (`matchLabels` and `matchExpressions`) selects `labels`.
/// An empty selector selects everything.
pub fn selects(selector: &Value, labels: &Value) -> bool {
    let label = |key: &str| labels.get(key).and_then(Value::as_str);
    let match_labels = selector["matchLabels"].as_object();
    let labels_ok = match_labels.is_none_or(|m| m.iter().all(|(k, v)| label(k) == v.as_str()));
    let expressions = selector["matchExpressions"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    let expressions_ok = expressions.iter().all(|expression| {
        let key = expression["key"].as_str().unwrap_or_default();
        let values: Vec<&str> = expression["values"]
            .as_array()
            .map(|values| values.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        match expression["operator"].as_str() {
            Some("In") => label(key).is_some_and(|v| values.contains(&v)),
            Some("NotIn") => label(key).is_none_or(|v| !values.contains(&v)),
            Some("Exists") => label(key).is_some(),
            Some("DoesNotExist") => label(key).is_none(),
            _ => false,
        }
    });
    labels_ok && expressions_ok
}

fn is_default_deny(object: &Value) -> bool {
    let spec = &object["spec"];
    let types: Vec<&str> = spec["policyTypes"]
        .as_array()
        .map(|types| types.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    kind(object) == "NetworkPolicy"
        && spec["podSelector"]
            .as_object()
            .is_some_and(serde_json::Map::is_empty)
        && types.contains(&"Ingress")
        && types.contains(&"Egress")
        && spec["ingress"].as_array().is_none_or(Vec::is_empty)
        && spec["egress"].as_array().is_none_or(Vec::is_empty)
}

fn workload_namespaces(objects: &[Value]) -> std::collections::BTreeSet<&str> {
    objects
        .iter()
        .filter(|object| template(object).is_some())
        .map(namespace_of)
        .collect()
}

/// The pod template of a workload, `None` for other kinds.
pub fn template(object: &Value) -> Option<&Value> {
    WORKLOADS
        .iter()
        .find(|(workload, _)| kind(object) == *workload)
        .and_then(|(_, path)| object.pointer(path))
}

/// The object's kind.
pub fn kind(object: &Value) -> &str {
    object["kind"].as_str().unwrap_or_default()
}

/// The object's name.
pub fn name(object: &Value) -> &str {
    object["metadata"]["name"].as_str().unwrap_or_default()
}

/// The object's namespace (empty when rendered without one).
pub fn namespace_of(object: &Value) -> &str {
    object["metadata"]["namespace"].as_str().unwrap_or_default()
}

/// `Kind/namespace/name`.
pub fn id(object: &Value) -> String {
    format!("{}/{}/{}", kind(object), namespace_of(object), name(object))
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIGEST: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    /// A compliant Deployment with everything around it.
    fn good() -> String {
        format!(
            r#"
apiVersion: apps/v1
kind: Deployment
metadata: {{name: shop, namespace: ns}}
spec:
  selector: {{matchLabels: {{app.kubernetes.io/name: shop}}}}
  template:
    metadata: {{labels: {{app.kubernetes.io/name: shop}}}}
    spec:
      serviceAccountName: shop
      securityContext: {{runAsNonRoot: true, seccompProfile: {{type: RuntimeDefault}}}}
      containers:
      - name: shop
        image: ghcr.io/ironvessel/shop@{DIGEST}
        livenessProbe: {{httpGet: {{path: /health/live, port: http}}}}
        readinessProbe: {{httpGet: {{path: /health/ready, port: http}}}}
        resources: {{requests: {{cpu: 10m, memory: 16Mi}}, limits: {{cpu: 100m, memory: 64Mi}}}}
        securityContext:
          readOnlyRootFilesystem: true
          allowPrivilegeEscalation: false
          capabilities: {{drop: [ALL]}}
---
apiVersion: v1
kind: ServiceAccount
metadata: {{name: shop, namespace: ns}}
---
apiVersion: v1
kind: Service
metadata: {{name: shop, namespace: ns}}
spec: {{selector: {{app.kubernetes.io/name: shop}}, ports: [{{port: 80}}]}}
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {{name: shop, namespace: ns}}
spec: {{scaleTargetRef: {{apiVersion: apps/v1, kind: Deployment, name: shop}}, maxReplicas: 2}}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {{name: shop, namespace: ns}}
spec: {{maxUnavailable: 1, selector: {{matchLabels: {{app.kubernetes.io/name: shop}}}}}}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {{name: default-deny, namespace: ns}}
spec: {{podSelector: {{}}, policyTypes: [Ingress, Egress]}}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {{name: shop, namespace: ns}}
spec:
  podSelector: {{matchLabels: {{app.kubernetes.io/name: shop}}}}
  policyTypes: [Ingress]
  ingress: [{{ports: [{{port: 80}}]}}]
"#
        )
    }

    fn rules_broken(text: &str, rules: Rules) -> Vec<Rule> {
        let mut broken: Vec<Rule> = check(&parse(text).unwrap(), rules)
            .into_iter()
            .map(|v| v.rule)
            .collect();
        broken.dedup();
        broken
    }

    const PROD: Rules = Rules {
        require_digests: true,
    };

    #[test]
    fn a_compliant_environment_passes() {
        let violations = check(&parse(&good()).unwrap(), PROD);
        assert!(violations.is_empty(), "{violations:#?}");
    }

    #[test]
    fn a_deployment_without_probes_is_reported() {
        let text = good()
            .replace(
                "        livenessProbe: {httpGet: {path: /health/live, port: http}}\n",
                "",
            )
            .replace("path: /health/ready", "path: /");
        let violations = check(&parse(&text).unwrap(), PROD);
        assert_eq!(violations.len(), 2, "{violations:#?}");
        assert!(violations.iter().all(|v| v.rule == Rule::Probes));
        assert!(violations[0].detail.contains("no livenessProbe"));
        assert!(violations[1].detail.contains("does not GET /health/ready"));
    }

    #[test]
    fn missing_limits_root_and_a_writable_filesystem_are_reported() {
        let text = good()
            .replace(", limits: {cpu: 100m, memory: 64Mi}", "")
            .replace("runAsNonRoot: true, ", "")
            .replace(
                "readOnlyRootFilesystem: true",
                "readOnlyRootFilesystem: false",
            );
        assert_eq!(
            rules_broken(&text, PROD),
            [Rule::Resources, Rule::NonRoot, Rule::ReadOnlyRootFilesystem]
        );
    }

    #[test]
    fn an_unpinned_prod_image_is_reported_and_a_tag_is_fine_elsewhere() {
        let text = good().replace(&format!("shop@{DIGEST}"), "shop:1.2.3");
        assert_eq!(rules_broken(&text, PROD), [Rule::Digest]);
        assert!(rules_broken(&text, Rules::default()).is_empty());
        let latest = good().replace(&format!("shop@{DIGEST}"), "shop:latest");
        assert_eq!(rules_broken(&latest, Rules::default()), [Rule::MutableTag]);
    }

    #[test]
    fn a_workload_without_its_own_network_policy_is_reported() {
        let text = good().replace(
            "  podSelector: {matchLabels: {app.kubernetes.io/name: shop}}",
            "  podSelector: {matchLabels: {app.kubernetes.io/name: other}}",
        );
        assert_eq!(rules_broken(&text, PROD), [Rule::NetworkPolicy]);
        let no_default_deny = good()
            .replace("name: default-deny", "name: deny")
            .replace("policyTypes: [Ingress, Egress]}", "policyTypes: [Ingress]}");
        assert_eq!(rules_broken(&no_default_deny, PROD), [Rule::DefaultDeny]);
    }

    #[test]
    fn a_secret_with_data_is_reported() {
        let text = format!(
            "{}---\napiVersion: v1\nkind: Secret\nmetadata: {{name: db, namespace: ns}}\ndata: {{password: aHVudGVyMg==}}\n---\napiVersion: v1\nkind: Secret\nmetadata: {{name: empty, namespace: ns}}\n",
            good()
        );
        let violations = check(&parse(&text).unwrap(), PROD);
        assert_eq!(violations.len(), 1, "{violations:#?}");
        assert_eq!(violations[0].rule, Rule::SecretData);
        assert_eq!(violations[0].object, "Secret/ns/db");
    }

    #[test]
    fn a_deployment_without_autoscaler_budget_or_service_is_reported() {
        let text = good()
            .replace("kind: HorizontalPodAutoscaler", "kind: ConfigMap")
            .replace("kind: PodDisruptionBudget", "kind: LimitRange")
            .replace(
                "spec: {selector: {app.kubernetes.io/name: shop}",
                "spec: {selector: {app.kubernetes.io/name: nope}",
            );
        assert_eq!(
            rules_broken(&text, PROD),
            [Rule::Autoscaler, Rule::DisruptionBudget, Rule::Service]
        );
    }

    #[test]
    fn selectors_understand_expressions() {
        let labels = serde_json::json!({"app": "a", "tier": "web"});
        let selector = |s: &str| serde_json::from_str::<Value>(s).unwrap();
        assert!(selects(&selector(r#"{}"#), &labels));
        assert!(selects(
            &selector(r#"{"matchExpressions":[{"key":"tier","operator":"In","values":["web"]}]}"#),
            &labels
        ));
        assert!(!selects(
            &selector(
                r#"{"matchExpressions":[{"key":"tier","operator":"NotIn","values":["web"]}]}"#
            ),
            &labels
        ));
        assert!(!selects(
            &selector(r#"{"matchLabels":{"app":"b"}}"#),
            &labels
        ));
    }
}
