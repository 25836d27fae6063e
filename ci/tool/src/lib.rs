//! The delivery pipeline's logic, kept out of the workflow files so that it can be tested.
//!
//! `affected` decides which images a change must rebuild, `pins` bumps and promotes the
//! image digests an overlay runs, `gitops` commits and pushes those bumps with
//! rebase-and-retry, `kustomize` renders overlays and `policy` checks what they render.
//! The `ci` binary is a thin command line over these modules; `.github/workflows/` is a
//! thin layer over the binary.

pub mod affected;
pub mod git;
pub mod gitops;
pub mod kustomize;
pub mod pins;
pub mod policy;
