//! The integration suite: one test binary, one module per area. Every scenario is written once
//! as `async fn scenario<R: Runtime>(rt: R)` and run on tokio, smol and async-std
//! ([`nats_integration_tests::runtime_tests!`]).
//!
//! Core-NATS areas (everything but JetStream and its layers) also run against the older
//! compatibility server in `scripts/test.sh`.

mod auth;
mod chaos;
mod cluster;
mod faults;
mod hostile;
mod interop;
mod jetstream;
mod jetstream_config;
mod jetstream_features;
mod jetstream_push;
mod kv;
mod lifecycle;
mod migration;
mod object_store;
mod pacing;
mod pubsub;
mod read_through;
mod requests;
mod service;
mod simulation;
mod tls;
mod websocket;
mod write_through;
