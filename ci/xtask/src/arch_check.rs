//! The architecture check "domain stays pure": no file under `services/*/src/domain/`
//! (or a `services/*/src/domain.rs`) may name an infrastructure crate.
//!
//! The domain holds types and rules only; I/O lives in adapters named after their
//! technology. The scan is lexical rather than a full parse, which is enough to catch
//! `use sqlx::...` and `tokio::spawn` while skipping comments and string literals.

use std::{
    fmt, fs, io,
    path::{Path, PathBuf},
};

use anyhow::{Context, Result, bail};

/// Crates that do I/O and therefore must stay out of the domain.
const FORBIDDEN: [&str; 6] = ["sqlx", "lapin", "redis", "axum", "reqwest", "tokio"];

/// One line of a domain module that names a forbidden crate.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Violation {
    path: PathBuf,
    line: usize,
    krate: &'static str,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Self { path, line, krate } = self;
        write!(
            f,
            "{}:{line}: domain module imports {krate}",
            path.display()
        )
    }
}

/// Scans every domain module of every service under `root` and fails on any violation.
pub(crate) fn run(root: &Path) -> Result<()> {
    let files = domain_files(&root.join("services"))?;
    let mut violations = Vec::new();
    for file in &files {
        let contents =
            fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
        violations.extend(check(file.strip_prefix(root).unwrap_or(file), &contents));
    }
    for violation in &violations {
        println!("{violation}");
    }
    println!("scanned {} domain file(s)", files.len());
    if !violations.is_empty() {
        bail!(
            "arch-check: {} line(s) in domain modules name infrastructure crates; \
             move that code behind a port",
            violations.len()
        );
    }
    Ok(())
}

/// Returns every line of `contents` that names a forbidden crate, reported against `path`.
pub(crate) fn check(path: &Path, contents: &str) -> Vec<Violation> {
    let mut lexer = Lexer::default();
    let mut violations = Vec::new();
    for (index, line) in contents.lines().enumerate() {
        let code = lexer.code(line);
        for krate in FORBIDDEN
            .into_iter()
            .filter(|krate| names_crate(&code, krate))
        {
            violations.push(Violation {
                path: path.to_owned(),
                line: index + 1,
                krate,
            });
        }
    }
    violations
}

/// Whether `code` uses `krate` as a path (`sqlx::PgPool`) or imports it whole
/// (`use tokio;`, `extern crate redis;`), as a whole word.
fn names_crate(code: &str, krate: &str) -> bool {
    code.match_indices(krate).any(|(start, _)| {
        let before = &code[..start];
        let after = &code[start + krate.len()..];
        if before.ends_with(is_ident_char) || after.starts_with(is_ident_char) {
            return false;
        }
        let before = before.trim_end();
        after.trim_start().starts_with("::")
            || ends_with_word(before, "use")
            || ends_with_word(before, "crate")
    })
}

fn ends_with_word(text: &str, word: &str) -> bool {
    text.strip_suffix(word)
        .is_some_and(|rest| !rest.ends_with(is_ident_char))
}

fn is_ident_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Strips comments and string literal contents line by line, carrying block comments and
/// multi-line strings over to the next line. Raw strings are treated as ordinary strings.
#[derive(Debug, Default)]
struct Lexer {
    in_string: bool,
    comment_depth: usize,
}

impl Lexer {
    fn code(&mut self, line: &str) -> String {
        let mut code = String::with_capacity(line.len());
        let mut chars = line.chars().peekable();
        while let Some(c) = chars.next() {
            let next = chars.peek().copied();
            if self.comment_depth > 0 {
                match (c, next) {
                    ('*', Some('/')) => {
                        chars.next();
                        self.comment_depth -= 1;
                        code.push(' ');
                    }
                    ('/', Some('*')) => {
                        chars.next();
                        self.comment_depth += 1;
                    }
                    _ => {}
                }
            } else if self.in_string {
                match c {
                    '\\' => {
                        chars.next();
                    }
                    '"' => {
                        self.in_string = false;
                        code.push('"');
                    }
                    _ => {}
                }
            } else {
                match (c, next) {
                    ('/', Some('/')) => break,
                    ('/', Some('*')) => {
                        chars.next();
                        self.comment_depth = 1;
                    }
                    ('"', _) => {
                        self.in_string = true;
                        code.push('"');
                    }
                    // Char literals like '"' and '\'' must not open a string.
                    ('\'', Some('"')) => {
                        chars.next();
                        code.push('\'');
                    }
                    ('\'', Some('\\')) => {
                        chars.next();
                        chars.next();
                        code.push('\'');
                    }
                    _ => code.push(c),
                }
            }
        }
        code
    }
}

fn domain_files(services: &Path) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for service in sorted_entries(services)? {
        let src = service.join("src");
        let module = src.join("domain.rs");
        if module.is_file() {
            files.push(module);
        }
        let dir = src.join("domain");
        if dir.is_dir() {
            collect_rust_files(&dir, &mut files)?;
        }
    }
    Ok(files)
}

fn collect_rust_files(dir: &Path, files: &mut Vec<PathBuf>) -> Result<()> {
    for path in sorted_entries(dir)? {
        if path.is_dir() {
            collect_rust_files(&path, files)?;
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            files.push(path);
        }
    }
    Ok(())
}

/// Directory entries in a stable order, so reports read the same on every machine.
fn sorted_entries(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut paths = fs::read_dir(dir)
        .and_then(|entries| {
            entries
                .map(|entry| entry.map(|e| e.path()))
                .collect::<io::Result<Vec<_>>>()
        })
        .with_context(|| format!("listing {}", dir.display()))?;
    paths.sort();
    Ok(paths)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(contents: &str) -> Vec<String> {
        check(Path::new("services/shop/src/domain/order.rs"), contents)
            .iter()
            .map(Violation::to_string)
            .collect()
    }

    #[test]
    fn a_domain_module_that_uses_infrastructure_crates_fails() {
        let contents = "\
use std::fmt;
use sqlx::PgPool;

pub fn save(pool: &PgPool) {
    tokio::spawn(async {});
    let _ = ::reqwest::Client::new();
}
";
        assert_eq!(
            report(contents),
            [
                "services/shop/src/domain/order.rs:2: domain module imports sqlx",
                "services/shop/src/domain/order.rs:5: domain module imports tokio",
                "services/shop/src/domain/order.rs:6: domain module imports reqwest",
            ]
        );
    }

    #[test]
    fn whole_crate_imports_fail() {
        let contents =
            "use tokio;\npub use redis as cache;\nextern crate lapin;\nuse {axum::Router};";
        let crates: Vec<_> = check(Path::new("d.rs"), contents)
            .into_iter()
            .map(|v| v.krate)
            .collect();
        assert_eq!(crates, ["tokio", "redis", "lapin", "axum"]);
    }

    #[test]
    fn a_clean_domain_module_passes() {
        let contents = "\
//! Orders and the rules for placing them.
use std::collections::HashMap;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum PlaceOrderError {
    #[error(\"empty order\")]
    Empty,
}
";
        assert_eq!(report(contents), Vec::<String>::new());
    }

    #[test]
    fn comments_and_strings_that_mention_a_crate_pass() {
        let contents = "\
// Persisted by the sqlx adapter, see sqlx::PgPool.
/// Never call tokio::spawn here.
let x = 1; // redis::Cmd
/* lapin::Channel
   axum::Router */
let message = \"sqlx::Error is translated at the seam\";
let quote = '\"'; let y = 2;
";
        assert_eq!(report(contents), Vec::<String>::new());
    }

    #[test]
    fn identifiers_that_contain_a_crate_name_pass() {
        let contents = "\
let my_sqlx_thing = 1;
my_sqlx_thing::call();
sqlx_helpers::call();
let redis = Cache::new();
fn tokio() {}
";
        assert_eq!(report(contents), Vec::<String>::new());
    }

    #[test]
    fn the_scan_covers_domain_files_and_directories_but_not_adapters() -> Result<()> {
        let root = std::env::temp_dir().join(format!("xtask-arch-check-{}", std::process::id()));
        let write = |path: &str, contents: &str| -> Result<()> {
            let path = root.join(path);
            fs::create_dir_all(path.parent().context("file has a parent")?)?;
            Ok(fs::write(path, contents)?)
        };
        write("services/billing/src/domain.rs", "pub struct Invoice;")?;
        write("services/shop/src/domain/order/line.rs", "use sqlx::Row;")?;
        write("services/shop/src/postgres.rs", "use sqlx::PgPool;")?;

        let files = domain_files(&root.join("services"))?;
        let outcome = run(&root);
        fs::remove_dir_all(&root)?;

        assert_eq!(
            files,
            [
                root.join("services/billing/src/domain.rs"),
                root.join("services/shop/src/domain/order/line.rs"),
            ]
        );
        assert!(outcome.is_err());
        Ok(())
    }
}
