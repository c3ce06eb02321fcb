//! NATS client for the `smol` runtime.
//!
//! This crate will be a thin adapter: a `Runtime` implementation for `smol` (TCP connect,
//! timer, spawn), a `connect()` function and re-exports of the `nats-client` API, so that
//! an application depends on this one crate. Nothing is implemented here yet.
