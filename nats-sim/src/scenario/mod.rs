//! Workloads and their invariants, and the seeded runs that put them under chaos.
//!
//! A workload is written against [`Runtime`], not the simulation:
//! the same code runs on the simulation (under faults, or without them) and on a real
//! runtime against a real nats-server, and without faults both must report the same
//! client-visible result ([`core::Report`]).

pub mod core;
pub mod jetstream;
mod seed;

pub use seed::{
    core_without_faults, jetstream_without_faults, replay_command, run_seed, run_seed_with, Counts, Failure,
    SeedOutcome, Workload,
};

use std::time::Duration;

use nats_client::{Client, Runtime, State};

/// Waits `by` on `runtime`'s clock.
pub async fn pause<R: Runtime>(runtime: &R, by: Duration) {
    runtime.sleep_until(runtime.now() + by).await;
}

/// Waits until every client is connected, for at most `within` on `runtime`'s clock;
/// says which were not (after faults are healed, a client must find a server).
pub async fn reconnected<R: Runtime>(runtime: &R, clients: &[Client], within: Duration) -> Vec<String> {
    let by = runtime.now() + within;
    let mut late = Vec::new();
    for (i, client) in clients.iter().enumerate() {
        while client.connection_state() != State::Connected {
            if runtime.now() >= by {
                late.push(format!(
                    "client {i} not connected {within:?} after the faults healed ({:?}, last error {:?})",
                    client.connection_state(),
                    client.last_error()
                ));
                break;
            }
            pause(runtime, Duration::from_millis(20)).await;
        }
    }
    late
}

/// A client's connection epoch: it changes whenever the client loses its connection and
/// whenever it gets one back, so two equal readings mean one unbroken connection between
/// them (as far as the client knows; a server that cut it off unnoticed shows up later).
pub fn epoch(client: &Client) -> u64 {
    2 * client.statistics().reconnects + u64::from(client.connection_state() != State::Connected)
}

/// Invariant violations found by a workload; empty when the run held.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Violations(pub Vec<String>);

impl Violations {
    /// Records a violation.
    pub fn push(&mut self, what: impl Into<String>) {
        self.0.push(what.into());
    }

    /// Whether none was recorded.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}
