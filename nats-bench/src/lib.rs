//! Benchmarks of this project against other NATS implementations.
//!
//! Each benchmark measures this project and its comparison in the same run, on the same
//! input, and prints the ratio: the machines are shared and noisy, so only ratios from
//! one run mean anything. The comparisons are optional dependencies behind the `compare`
//! feature, so the test build never compiles them:
//!
//! ```text
//! cargo bench -p nats-bench --features compare --bench decode
//! ```
