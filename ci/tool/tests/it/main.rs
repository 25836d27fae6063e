//! The delivery acceptance checks: manifests render and validate, the policy holds,
//! every workflow, Dockerfile, script and template passes its linter, and the `ci` tool
//! does what the pipeline needs against real git repositories.

mod affected;
mod gitops;
mod lint;
mod manifests;
mod monitoring;
mod pins;
mod support;
