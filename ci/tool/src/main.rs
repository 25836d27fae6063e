//! The `ci` tool (work in progress).

fn main() {}
