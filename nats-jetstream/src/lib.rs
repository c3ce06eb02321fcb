//! JetStream for the runtime-neutral NATS client.
#![forbid(unsafe_code)]

pub mod proto;
