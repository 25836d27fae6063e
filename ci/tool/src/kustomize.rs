//! Rendering overlays with `kubectl kustomize`.
//!
//! The test overlay's Keycloak imports the realm file that `identity` loads,
//! `services/identity/realms/ironvessel-realm.json`, straight from where it lives (one
//! source). That file is outside `k8s/`, so every build runs with
//! `--load-restrictor LoadRestrictionsNone` (Argo CD: `kustomize.buildOptions` in
//! `argocd-cm`, see the README's "Deploying").

use std::{path::Path, process::Command};

use anyhow::{Context, Result, bail};

/// The flags every `kustomize build` of this repository needs.
pub const BUILD_OPTIONS: [&str; 2] = ["--load-restrictor", "LoadRestrictionsNone"];

/// Renders the kustomization in `dir`.
pub fn render(dir: &Path) -> Result<String> {
    let output = Command::new("kubectl")
        .arg("kustomize")
        .args(BUILD_OPTIONS)
        .arg(dir)
        .output()
        .context("could not run `kubectl kustomize`: install kubectl (1.27 or later)")?;
    if !output.status.success() {
        bail!(
            "`kubectl kustomize {}` failed: {}",
            dir.display(),
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    String::from_utf8(output.stdout).context("kustomize printed invalid UTF-8")
}
