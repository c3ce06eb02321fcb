//! nats-proto's integration tests, one binary with a module per area: the codec
//! (`decode_*`, `encode`, `roundtrip`) and the connection state machine on a virtual clock
//! against a scripted fake server (`connection_*`, built on `harness`).

// The helpers are `pub` for the modules that share them.
#![allow(unreachable_pub)]

mod common;
mod harness;

mod caller_clock;
mod connection_auth;
mod connection_basics;
mod connection_cluster;
mod connection_delivery;
mod connection_drain;
mod connection_errors;
mod connection_flush;
mod connection_keepalive;
mod connection_pacing;
mod connection_publish;
mod connection_reconnect;
mod connection_requests;
mod connection_server_pool;
mod connection_tls;
mod connection_websocket;
mod decode_client;
mod decode_server;
mod encode;
mod huge_durations;
mod roundtrip;
