//! Integration tests for the NATS client against a real `nats-server`.
//!
//! Each scenario is written once and run on every runtime (tokio, smol, async-std). The
//! server helpers and the scenarios arrive with the async client; for now the protocol
//! core's own tests live in `nats-proto`.
