//! JetStream under faults, checked from recorded histories: the [`checker`] over
//! what the clients saw and what the stream holds, the [`cluster`] harness, and the
//! [`workload`] with its nemesis.

pub mod checker;
pub mod cluster;
pub mod workload;
