//! Every workflow, Dockerfile, shell script, IaC template and the compose file passes
//! its linter; the workflows pin third-party actions by commit and ask for the least
//! permissions.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::support::{files, objects_in, repo, succeed, tool, tool_path};

fn workflows() -> Vec<PathBuf> {
    let found = files(&repo().join(".github/workflows"), &|p| {
        p.extension().is_some_and(|e| e == "yml" || e == "yaml")
    });
    assert!(
        found.len() >= 3,
        "ci.yml, release.yml and promote.yml: {found:?}"
    );
    found
}

fn relative(path: &Path) -> String {
    path.strip_prefix(repo())
        .unwrap_or(path)
        .to_string_lossy()
        .into_owned()
}

#[test]
fn workflows_pass_actionlint_and_the_github_workflows_schema() {
    let workflows = workflows();
    succeed(
        tool("actionlint")
            .current_dir(repo())
            .arg("-no-color")
            .arg("-shellcheck")
            .arg(tool_path("shellcheck"))
            .args(&workflows),
    );
    succeed(
        tool("check-jsonschema")
            .args(["--builtin-schema", "vendor.github-workflows"])
            .args(&workflows),
    );
}

#[test]
fn workflows_pin_actions_by_commit_and_grant_least_privilege() {
    let mut uses_count = 0;
    for path in workflows() {
        let workflow = &objects_in(&relative(&path))[0];
        let file = relative(&path);
        assert!(
            workflow["concurrency"]["group"].is_string(),
            "{file}: no concurrency group"
        );
        let top = &workflow["permissions"];
        assert!(
            top.as_object()
                .is_some_and(|p| p.values().all(|v| v == "read")),
            "{file}: the default permissions must be read-only or none, not {top}"
        );
        for (job_name, job) in workflow["jobs"].as_object().expect("jobs") {
            if let Some(permissions) = job["permissions"].as_object() {
                for (scope, level) in permissions {
                    let allowed = matches!(
                        (scope.as_str(), level.as_str()),
                        (_, Some("read" | "none"))
                            | ("contents" | "packages" | "id-token", Some("write"))
                    );
                    assert!(allowed, "{file}/{job_name}: {scope}: {level}");
                }
            }
            for step in job["steps"].as_array().into_iter().flatten() {
                let Some(uses) = step["uses"].as_str() else {
                    continue;
                };
                uses_count += 1;
                let (_, reference) = uses.split_once('@').unwrap_or((uses, ""));
                assert!(
                    uses.starts_with("./")
                        || (reference.len() == 40
                            && reference.bytes().all(|b| b.is_ascii_hexdigit())),
                    "{file}/{job_name}: {uses} is not pinned by commit SHA"
                );
            }
        }
    }
    assert!(uses_count > 5);
}

#[test]
fn the_release_builds_only_affected_images_then_signs_and_bumps_by_digest() {
    let release = &objects_in(".github/workflows/release.yml")[0];
    let text = serde_json::to_string(release).expect("serialisable");
    for needle in [
        "ci -- affected --since",
        "linux/amd64,linux/arm64",
        "type=gha",
        "cosign sign",
        "ci bump --overlay k8s/overlays/test",
        "ci gitops push",
        "sbom",
    ] {
        assert!(text.contains(needle), "release.yml does not {needle}");
    }
    let jobs = release["jobs"].as_object().expect("jobs");
    assert_eq!(jobs["build"]["needs"], "plan");
    assert_eq!(
        jobs["build"]["strategy"]["matrix"]["image"],
        "${{ fromJSON(needs.plan.outputs.images) }}"
    );
    let promote: Value = objects_in(".github/workflows/promote.yml").remove(0);
    assert!(
        promote["on"]["workflow_dispatch"].is_object(),
        "promotion is manual"
    );
    assert!(
        serde_json::to_string(&promote)
            .expect("serialisable")
            .contains("ci promote --from test --to prod")
    );
}

#[test]
fn dockerfiles_pass_hadolint() {
    let dockerfiles = files(&repo(), &|p| {
        p.file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("Dockerfile"))
    });
    assert!(dockerfiles.len() >= 2, "{dockerfiles:?}");
    succeed(tool("hadolint").arg("--no-color").args(&dockerfiles));
}

#[test]
fn shell_scripts_pass_shellcheck() {
    let mut scripts = files(&repo(), &|p| p.extension().is_some_and(|e| e == "sh"));
    scripts.push(repo().join(".ci/run"));
    assert!(scripts.len() >= 2, "{scripts:?}");
    succeed(
        tool("shellcheck")
            .args(["--severity=style", "--external-sources"])
            .args(&scripts)
            .current_dir(repo()),
    );
}

#[test]
fn cloudformation_templates_pass_cfn_lint() {
    let templates = files(&repo().join("infra/cloudformation"), &|p| {
        p.extension().is_some_and(|e| e == "yaml")
    });
    assert!(!templates.is_empty());
    succeed(tool("cfn-lint").args(&templates));
    let text = std::fs::read_to_string(&templates[0]).expect("the template");
    for resource in [
        "AWS::RDS::DBInstance",
        "AWS::RDS::DBSubnetGroup",
        "AWS::EC2::SecurityGroup",
        "AWS::RDS::DBParameterGroup",
        "ManageMasterUserPassword: true",
    ] {
        assert!(text.contains(resource), "databases.yaml lacks {resource}");
    }
}

#[test]
fn docker_compose_follows_the_compose_spec_and_creates_every_database() {
    succeed(
        tool("check-jsonschema")
            .args(["--builtin-schema", "vendor.compose-spec"])
            .arg(repo().join("docker-compose.yml")),
    );
    let init = std::fs::read_to_string(repo().join("ci/compose/postgres-init.sql"))
        .expect("the init script");
    for database in ["identity", "account", "inventory", "orders", "payment"] {
        assert!(
            init.contains(&format!("CREATE DATABASE {database};")),
            "{database}"
        );
    }
}
