//! Image pins: the `images:` list of a kustomization, which says which build of each
//! image an environment runs.
//!
//! Each deployed overlay keeps its pins in one small kustomize Component,
//! `k8s/overlays/<env>/images/kustomization.yaml`, that every component of the overlay
//! includes. The pipeline owns that file: [`PinsFile::render`] writes it the same way
//! every time (entries sorted by name, keys in a fixed order, the leading comment kept),
//! so a bump is one changed line and bumping twice to the same digest changes nothing.

use std::{
    fmt,
    path::{Path, PathBuf},
};

use anyhow::{Context, Result, bail};
use serde_norway::{Mapping, Value};

/// An image digest, `sha256:` and 64 lowercase hex digits.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Digest(String);

impl Digest {
    /// Parses and validates a digest.
    pub fn parse(text: &str) -> Result<Self> {
        let hex = text
            .strip_prefix("sha256:")
            .with_context(|| format!("digest {text:?} must start with `sha256:`"))?;
        if hex.len() != 64
            || !hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            bail!("digest {text:?} must be `sha256:` followed by 64 lowercase hex digits");
        }
        Ok(Self(text.to_owned()))
    }

    /// The digest as written in manifests.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One entry of a kustomization's `images:` list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImagePin {
    /// The image name the base manifests use (`ironvessel/inventory`).
    pub name: String,
    /// The registry path it is replaced with (`ghcr.io/ironvessel/inventory`).
    pub new_name: Option<String>,
    /// A tag, for environments that follow tags (dev).
    pub new_tag: Option<String>,
    /// The pinned build.
    pub digest: Option<String>,
}

impl ImagePin {
    /// The image's short name: the last path segment (`inventory`).
    pub fn short_name(&self) -> &str {
        short(&self.name)
    }

    /// The image reference this entry produces (`ghcr.io/ironvessel/inventory@sha256:…`).
    pub fn reference(&self) -> String {
        let name = self.new_name.as_deref().unwrap_or(&self.name);
        match (&self.digest, &self.new_tag) {
            (Some(digest), _) => format!("{name}@{digest}"),
            (None, Some(tag)) => format!("{name}:{tag}"),
            (None, None) => name.to_owned(),
        }
    }

    fn matches(&self, image: &str) -> bool {
        let names = [Some(self.name.as_str()), self.new_name.as_deref()];
        names
            .into_iter()
            .flatten()
            .any(|name| name == image || short(name) == image)
    }
}

fn short(name: &str) -> &str {
    name.rsplit('/').next().unwrap_or(name)
}

/// What setting a digest did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// The entry already had this digest: nothing was written.
    Unchanged {
        /// The entry's name.
        image: String,
    },
    /// The entry now has the new digest.
    Updated {
        /// The entry's name.
        image: String,
        /// What it had before: a digest, a tag, or nothing.
        from: Option<String>,
        /// The new digest.
        to: Digest,
    },
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unchanged { image } => write!(f, "{image}: already pinned, nothing to do"),
            Self::Updated { image, from, to } => write!(
                f,
                "{image}: {} -> {to}",
                from.as_deref().unwrap_or("(unpinned)")
            ),
        }
    }
}

/// A kustomization file whose `images:` list the pipeline edits.
#[derive(Debug, Clone)]
pub struct PinsFile {
    path: PathBuf,
    header: String,
    doc: Mapping,
    original: String,
}

impl PinsFile {
    /// The file that holds an overlay's pins: `path` itself if it is a file, else
    /// `<path>/images/kustomization.yaml` when the overlay keeps its pins in an `images`
    /// component, else `<path>/kustomization.yaml`.
    pub fn locate(path: &Path) -> PathBuf {
        if path.is_file() {
            return path.to_path_buf();
        }
        let component = path.join("images/kustomization.yaml");
        if component.is_file() {
            component
        } else {
            path.join("kustomization.yaml")
        }
    }

    /// The pins file of environment `env` under `overlays` (`k8s/overlays`).
    pub fn of_environment(overlays: &Path, env: &str) -> PathBuf {
        Self::locate(&overlays.join(env))
    }

    /// Reads and parses a pins file.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("could not read {}", path.display()))?;
        Self::parse(path, &text)
    }

    /// Parses `text`, read from `path`.
    pub fn parse(path: &Path, text: &str) -> Result<Self> {
        // serde drops comments, so the leading comment block is kept verbatim; the file
        // is tool-owned and has no other comments.
        let header: String = text
            .lines()
            .take_while(|line| line.starts_with('#') || line.trim().is_empty())
            .map(|line| format!("{line}\n"))
            .collect();
        let doc: Mapping = serde_norway::from_str(text)
            .with_context(|| format!("{} is not a YAML mapping", path.display()))?;
        if let Some(images) = doc.get("images")
            && !images.is_sequence()
        {
            bail!("{}: `images` must be a list", path.display());
        }
        Ok(Self {
            path: path.to_path_buf(),
            header: header.trim_end().to_owned(),
            doc,
            original: text.to_owned(),
        })
    }

    /// Where the file lives.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The `images:` entries, in file order.
    pub fn pins(&self) -> Result<Vec<ImagePin>> {
        self.entries()
            .iter()
            .map(|entry| {
                let field = |key: &str| entry.get(key).and_then(Value::as_str).map(str::to_owned);
                Ok(ImagePin {
                    name: field("name").with_context(|| {
                        format!("{}: an `images` entry has no name", self.path.display())
                    })?,
                    new_name: field("newName"),
                    new_tag: field("newTag"),
                    digest: field("digest"),
                })
            })
            .collect()
    }

    /// Whether an entry matches `image`.
    pub fn has(&self, image: &str) -> Result<bool> {
        Ok(self.pins()?.iter().any(|pin| pin.matches(image)))
    }

    /// Pins `image` (an entry's name, its `newName`, or the last segment of either) to
    /// `digest`, dropping any tag.
    pub fn set_digest(&mut self, image: &str, digest: &Digest) -> Result<Change> {
        let pins = self.pins()?;
        let matching: Vec<usize> = pins
            .iter()
            .enumerate()
            .filter(|(_, pin)| pin.matches(image))
            .map(|(index, _)| index)
            .collect();
        let index = match matching.as_slice() {
            [index] => *index,
            [] => bail!(
                "{} has no `images` entry for {image:?} (it has: {})",
                self.path.display(),
                pins.iter()
                    .map(|pin| pin.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            _ => bail!(
                "{image:?} matches several `images` entries in {}",
                self.path.display()
            ),
        };
        let pin = &pins[index];
        let name = pin.name.clone();
        if pin.digest.as_deref() == Some(digest.as_str()) && pin.new_tag.is_none() {
            return Ok(Change::Unchanged { image: name });
        }
        let from = pin.digest.clone().or_else(|| pin.new_tag.clone());
        let entry = self.entries_mut()?[index]
            .as_mapping_mut()
            .context("an `images` entry is not a mapping")?;
        entry.remove("newTag");
        entry.insert("digest".into(), digest.as_str().into());
        Ok(Change::Updated {
            image: name,
            from,
            to: digest.clone(),
        })
    }

    /// The file as the pipeline writes it: the leading comment, then the document with
    /// `images` sorted by name and each entry's keys in a fixed order.
    pub fn render(&self) -> Result<String> {
        let mut doc = self.doc.clone();
        if let Some(Value::Sequence(images)) = doc.get_mut("images") {
            let mut entries: Vec<Mapping> = images
                .iter()
                .filter_map(|entry| entry.as_mapping().cloned())
                .map(canonical_entry)
                .collect();
            entries.sort_by(|a, b| entry_name(a).cmp(entry_name(b)));
            *images = entries.into_iter().map(Value::Mapping).collect();
        }
        let body = serde_norway::to_string(&doc).context("could not serialise the pins")?;
        Ok(if self.header.is_empty() {
            body
        } else {
            format!("{}\n{body}", self.header)
        })
    }

    /// Writes the file if its rendering differs from what is on disk; returns whether it
    /// wrote.
    pub fn save(&self) -> Result<bool> {
        let text = self.render()?;
        if text == self.original {
            return Ok(false);
        }
        std::fs::write(&self.path, &text)
            .with_context(|| format!("could not write {}", self.path.display()))?;
        Ok(true)
    }

    fn entries(&self) -> &[Value] {
        self.doc
            .get("images")
            .and_then(Value::as_sequence)
            .map_or(&[], Vec::as_slice)
    }

    fn entries_mut(&mut self) -> Result<&mut Vec<Value>> {
        let path = self.path.display().to_string();
        self.doc
            .get_mut("images")
            .and_then(Value::as_sequence_mut)
            .with_context(|| format!("{path} has no `images` list"))
    }
}

const KEY_ORDER: [&str; 4] = ["name", "newName", "newTag", "digest"];

fn canonical_entry(entry: Mapping) -> Mapping {
    let mut ordered = Mapping::new();
    for key in KEY_ORDER {
        if let Some(value) = entry.get(key) {
            ordered.insert(key.into(), value.clone());
        }
    }
    for (key, value) in entry {
        if !key.as_str().is_some_and(|key| KEY_ORDER.contains(&key)) {
            ordered.insert(key, value);
        }
    }
    ordered
}

fn entry_name(entry: &Mapping) -> &str {
    entry
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or_default()
}

/// Sets `image` to `digest` in the pins of `overlay` and saves the file. With
/// `if_present`, an image the overlay does not run is skipped (`None`) instead of an error.
pub fn bump(
    overlay: &Path,
    image: &str,
    digest: &Digest,
    if_present: bool,
) -> Result<Option<Change>> {
    let mut file = PinsFile::load(&PinsFile::locate(overlay))?;
    if if_present && !file.has(image)? {
        return Ok(None);
    }
    let change = file.set_digest(image, digest)?;
    file.save()?;
    Ok(Some(change))
}

/// Copies the digests of environment `from` to environment `to` (both under
/// `overlays`), for every image both run, or only for `only`.
pub fn promote(overlays: &Path, from: &str, to: &str, only: &[String]) -> Result<Vec<Change>> {
    let source = PinsFile::load(&PinsFile::of_environment(overlays, from))?;
    let mut target = PinsFile::load(&PinsFile::of_environment(overlays, to))?;
    let mut changes = Vec::new();
    let pins = source.pins()?;
    for name in only {
        if !pins.iter().any(|pin| pin.matches(name)) {
            bail!("{from} has no image {name:?} to promote");
        }
    }
    for pin in pins {
        if !only.is_empty() && !only.iter().any(|name| pin.matches(name)) {
            continue;
        }
        // Images only `from` runs (test's seeder and load workers) stay behind unless named.
        if only.is_empty() && !target.has(&pin.name)? {
            continue;
        }
        let digest = pin.digest.as_deref().with_context(|| {
            format!(
                "{from} runs {} without a digest: nothing to promote",
                pin.reference()
            )
        })?;
        changes.push(target.set_digest(&pin.name, &Digest::parse(digest)?)?);
    }
    target.save()?;
    Ok(changes)
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    const B: &str = "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

    const FILE: &str = "\
# Pins of the test environment.
apiVersion: kustomize.config.k8s.io/v1alpha1
kind: Component
images:
- name: ironvessel/order
  newName: ghcr.io/ironvessel/order
  digest: sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa
- name: ironvessel/inventory
  newTag: dev
  newName: ghcr.io/ironvessel/inventory
";

    fn file() -> PinsFile {
        PinsFile::parse(Path::new("images/kustomization.yaml"), FILE).unwrap()
    }

    #[test]
    fn digests_are_validated() {
        assert!(Digest::parse(A).is_ok());
        assert!(Digest::parse("sha256:abc").is_err());
        assert!(Digest::parse(&A.replace("sha256", "md5")).is_err());
        assert!(Digest::parse(&A.to_uppercase().replace("SHA256", "sha256")).is_err());
    }

    #[test]
    fn setting_a_digest_drops_the_tag_and_renders_sorted_with_the_header() {
        let mut pins = file();
        let change = pins
            .set_digest("inventory", &Digest::parse(B).unwrap())
            .unwrap();
        assert_eq!(
            change,
            Change::Updated {
                image: "ironvessel/inventory".to_owned(),
                from: Some("dev".to_owned()),
                to: Digest::parse(B).unwrap(),
            }
        );
        let text = pins.render().unwrap();
        assert!(text.starts_with("# Pins of the test environment.\napiVersion:"));
        let inventory = text.find("name: ironvessel/inventory").unwrap();
        let order = text.find("name: ironvessel/order").unwrap();
        assert!(inventory < order, "entries are sorted by name:\n{text}");
        assert!(!text.contains("newTag"));
        assert!(text.contains(&format!("digest: {B}")));
    }

    #[test]
    fn the_same_digest_twice_is_unchanged() {
        let mut pins = file();
        let change = pins.set_digest("ghcr.io/ironvessel/order", &Digest::parse(A).unwrap());
        assert!(matches!(change.unwrap(), Change::Unchanged { .. }));
    }

    #[test]
    fn an_unknown_image_names_the_known_ones() {
        let error = file()
            .set_digest("payment", &Digest::parse(A).unwrap())
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("ironvessel/order, ironvessel/inventory"),
            "{error}"
        );
    }

    #[test]
    fn references_prefer_the_digest() {
        let pins = file().pins().unwrap();
        assert_eq!(pins[0].reference(), format!("ghcr.io/ironvessel/order@{A}"));
        assert_eq!(pins[1].reference(), "ghcr.io/ironvessel/inventory:dev");
        assert_eq!(pins[1].short_name(), "inventory");
    }
}
