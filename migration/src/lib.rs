//! One program written for async-nats 0.51, compiled twice: against async-nats and, with
//! only its imports changed, against this project's crates. If a change here breaks code
//! that async-nats users write, this crate stops compiling.
//!
//! The program (`src/program.rs`) connects with options and an event callback, publishes,
//! subscribes, answers and sends requests (with headers, with the request builder), reads
//! headers, unsubscribes and drains subscribers, forces a reconnect, reads the statistics,
//! and uses JetStream and a key-value bucket. The integration tests run the
//! [`on_nats_tokio`] build against a real nats-server.
//!
//! The migration guide's examples (`docs/migrating-from-async-nats.md`) are compiled as
//! this crate's documentation tests.

/// The program on async-nats.
pub mod on_async_nats {
    use async_nats as nats;
    use async_nats::jetstream::{self, kv::Config as KvConfig, stream::Config as StreamConfig};

    include!("program.rs");
}

/// The program on nats-tokio: the same text, these imports instead.
pub mod on_nats_tokio {
    use nats_jetstream::{self as jetstream, StreamConfig};
    use nats_stores::{Config as KvConfig, KeyValueExt};
    use nats_tokio as nats;

    include!("program.rs");
}

/// The migration guide's code blocks, compiled by `cargo test --doc`.
#[cfg(doctest)]
#[doc = include_str!("../../docs/migrating-from-async-nats.md")]
struct MigrationGuide;
