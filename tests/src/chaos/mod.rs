//! JetStream under faults, checked from recorded histories (issue 16): the [`checker`] over
//! what the clients saw and what the stream holds, and the [`cluster`] harness.

pub mod checker;
pub mod cluster;
