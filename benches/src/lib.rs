//! Criterion benchmarks of Ironvessel's hot paths; the benchmarks are under `benches/`.
//! Run them with `cargo bench -p benches`; CI only compiles them.
