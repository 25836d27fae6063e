//! Which images a change must rebuild.
//!
//! Every workspace package with a binary target (except the build tooling, `xtask` and
//! `ci`) is an image built from the one root `Dockerfile`. A changed file belongs to the
//! package whose directory holds it; an image is affected when its package, or any
//! workspace package it depends on (normal or build dependency, transitively), changed.
//! Files every build reads (`Cargo.lock`, the root `Cargo.toml`, the `Dockerfile`...)
//! affect every image; Markdown and files outside any package affect none. Images not
//! built from the workspace (the optimised Keycloak) are affected by their own folder.

use std::{
    collections::{BTreeMap, BTreeSet},
    path::{Path, PathBuf},
};

use anyhow::{Context, Result};
use cargo_metadata::{DependencyKind, MetadataCommand};
use serde::Serialize;

use crate::git::Git;

/// Packages with a binary that are tools of the repository, not deployable images.
const NOT_IMAGES: [&str; 2] = ["xtask", "ci"];

/// Files whose change rebuilds every workspace image.
const GLOBAL_FILES: [&str; 6] = [
    "Cargo.lock",
    "Cargo.toml",
    "Dockerfile",
    ".dockerignore",
    "rust-toolchain.toml",
    ".cargo/config.toml",
];

/// Images built from their own folder rather than from the workspace.
const FOLDER_IMAGES: [(&str, &str); 1] = [("keycloak", "k8s/images/keycloak")];

/// One image to build: what the release workflow's matrix gets.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Image {
    /// The image name (`inventory`), also the binary it runs.
    pub name: String,
    /// The build context, relative to the repository root.
    pub context: String,
    /// The Dockerfile, relative to the repository root.
    pub dockerfile: String,
}

impl Image {
    fn workspace(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            context: ".".to_owned(),
            dockerfile: "Dockerfile".to_owned(),
        }
    }

    fn folder(name: &str, dir: &str) -> Self {
        Self {
            name: name.to_owned(),
            context: dir.to_owned(),
            dockerfile: format!("{dir}/Dockerfile"),
        }
    }
}

#[derive(Debug, Clone)]
struct Package {
    name: String,
    /// Relative to the workspace root, `/`-separated, no trailing slash.
    dir: String,
    /// Workspace packages it needs to build (not dev-dependencies: tests are not in the image).
    deps: Vec<String>,
    has_binary: bool,
}

/// The workspace's packages and how they depend on each other.
#[derive(Debug, Clone)]
pub struct Workspace {
    packages: Vec<Package>,
}

impl Workspace {
    /// Reads the workspace at `root` with `cargo metadata` (no dependency resolution,
    /// so it works offline).
    pub fn load(root: &Path) -> Result<Self> {
        let metadata = MetadataCommand::new()
            .manifest_path(root.join("Cargo.toml"))
            .no_deps()
            .exec()
            .context("`cargo metadata` failed")?;
        let workspace_root = metadata.workspace_root.as_std_path();
        let names: BTreeSet<&str> = metadata
            .workspace_packages()
            .iter()
            .map(|package| package.name.as_str())
            .collect();
        let packages = metadata
            .workspace_packages()
            .iter()
            .map(|package| {
                let dir = package
                    .manifest_path
                    .parent()
                    .map(|dir| dir.as_std_path())
                    .unwrap_or(workspace_root);
                Package {
                    name: package.name.to_string(),
                    dir: relative(workspace_root, dir),
                    deps: package
                        .dependencies
                        .iter()
                        .filter(|dep| dep.kind != DependencyKind::Development)
                        .filter(|dep| names.contains(dep.name.as_str()))
                        .map(|dep| dep.name.clone())
                        .collect(),
                    has_binary: package.targets.iter().any(|target| target.is_bin()),
                }
            })
            .collect();
        Ok(Self { packages })
    }

    /// Every image: the workspace's binaries and the folder-built ones, sorted by name.
    pub fn images(&self) -> Vec<Image> {
        let mut images: Vec<Image> = self
            .packages
            .iter()
            .filter(|package| package.has_binary && !NOT_IMAGES.contains(&package.name.as_str()))
            .map(|package| Image::workspace(&package.name))
            .chain(
                FOLDER_IMAGES
                    .iter()
                    .map(|(name, dir)| Image::folder(name, dir)),
            )
            .collect();
        images.sort();
        images
    }

    /// The images that changes to `files` (relative to the root) must rebuild.
    pub fn affected(&self, files: &[PathBuf]) -> Vec<Image> {
        let mut changed: BTreeSet<&str> = BTreeSet::new();
        let mut folders: BTreeSet<&str> = BTreeSet::new();
        let mut everything = false;
        for file in files {
            let path = file.to_string_lossy().replace('\\', "/");
            if is_documentation(&path) {
                continue;
            }
            if GLOBAL_FILES.contains(&path.as_str()) {
                everything = true;
                continue;
            }
            if let Some((name, _)) = FOLDER_IMAGES
                .iter()
                .find(|(_, dir)| path.starts_with(&format!("{dir}/")))
            {
                folders.insert(name);
                continue;
            }
            if let Some(package) = self.owner(&path) {
                changed.insert(package);
            }
        }
        let needs = self.closure();
        self.images()
            .into_iter()
            .filter(|image| {
                if image.context != "." {
                    return folders.contains(image.name.as_str());
                }
                everything
                    || needs
                        .get(image.name.as_str())
                        .is_some_and(|deps| deps.iter().any(|dep| changed.contains(dep)))
            })
            .collect()
    }

    /// The package whose directory holds `path` (the innermost one).
    fn owner(&self, path: &str) -> Option<&str> {
        self.packages
            .iter()
            .filter(|package| {
                !package.dir.is_empty() && path.starts_with(&format!("{}/", package.dir))
            })
            .max_by_key(|package| package.dir.len())
            .map(|package| package.name.as_str())
    }

    /// For every package, itself and every workspace package it needs, transitively.
    fn closure(&self) -> BTreeMap<&str, BTreeSet<&str>> {
        let deps: BTreeMap<&str, Vec<&str>> = self
            .packages
            .iter()
            .map(|package| {
                (
                    package.name.as_str(),
                    package.deps.iter().map(String::as_str).collect(),
                )
            })
            .collect();
        deps.keys()
            .map(|&name| {
                let mut seen = BTreeSet::new();
                let mut stack = vec![name];
                while let Some(next) = stack.pop() {
                    if seen.insert(next) {
                        stack.extend(deps.get(next).into_iter().flatten().copied());
                    }
                }
                (name, seen)
            })
            .collect()
    }
}

fn is_documentation(path: &str) -> bool {
    path.ends_with(".md") || path.starts_with("docs/")
}

fn relative(root: &Path, dir: &Path) -> String {
    dir.strip_prefix(root)
        .unwrap_or(dir)
        .to_string_lossy()
        .replace('\\', "/")
        .trim_end_matches('/')
        .to_owned()
}

/// Files changed between `since` and HEAD, relative to the repository root.
pub fn changed_files(git: &Git, since: &str) -> Result<Vec<PathBuf>> {
    let range = format!("{since}..HEAD");
    let out = git.run(&["diff", "--name-only", "--no-renames", &range])?;
    Ok(out
        .lines()
        .filter(|line| !line.is_empty())
        .map(PathBuf::from)
        .collect())
}

/// The images to rebuild for the changes since `since`, in the repository at `root`.
pub fn since(root: &Path, since: &str) -> Result<Vec<Image>> {
    let git = Git::new(root);
    let toplevel = git.toplevel()?;
    let files = changed_files(&git, since)?;
    Ok(Workspace::load(&toplevel)?.affected(&files))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn package(name: &str, dir: &str, deps: &[&str], has_binary: bool) -> Package {
        Package {
            name: name.to_owned(),
            dir: dir.to_owned(),
            deps: deps.iter().map(|&dep| dep.to_owned()).collect(),
            has_binary,
        }
    }

    fn workspace() -> Workspace {
        Workspace {
            packages: vec![
                package("platform", "services/platform", &[], false),
                package("testkit", "services/testkit", &["platform"], false),
                package("inventory", "services/inventory", &["platform"], true),
                package("gateway", "services/gateway", &["platform"], true),
                package("seeder", "seeder", &["inventory"], true),
                package("xtask", "ci/xtask", &[], true),
            ],
        }
    }

    fn names(files: &[&str]) -> Vec<String> {
        let files: Vec<PathBuf> = files.iter().map(PathBuf::from).collect();
        workspace()
            .affected(&files)
            .into_iter()
            .map(|image| image.name)
            .collect()
    }

    #[test]
    fn a_service_change_rebuilds_it_and_its_dependants() {
        assert_eq!(
            names(&["services/inventory/src/app.rs"]),
            ["inventory", "seeder"]
        );
        assert_eq!(names(&["services/gateway/src/proxy.rs"]), ["gateway"]);
    }

    #[test]
    fn a_shared_crate_rebuilds_every_dependant_and_a_lockfile_everything() {
        assert_eq!(
            names(&["services/platform/src/outbox.rs"]),
            ["gateway", "inventory", "seeder"]
        );
        assert_eq!(names(&["Cargo.lock"]), ["gateway", "inventory", "seeder"]);
    }

    #[test]
    fn docs_tools_and_test_only_crates_rebuild_nothing() {
        assert!(names(&["README.md", "services/inventory/README.md", "docs/x.png"]).is_empty());
        assert!(names(&["ci/xtask/src/main.rs", "services/testkit/src/lib.rs"]).is_empty());
        assert!(names(&["k8s/base/inventory/deployment.yaml"]).is_empty());
    }

    #[test]
    fn folder_images_follow_their_folder() {
        assert_eq!(names(&["k8s/images/keycloak/Dockerfile"]), ["keycloak"]);
        assert!(!names(&["Cargo.lock"]).contains(&"keycloak".to_owned()));
    }
}
