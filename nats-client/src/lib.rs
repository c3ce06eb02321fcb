//! The runtime-neutral async NATS client.
//!
//! This crate will hold the `Client` handle, the `Subscriber` stream, request futures and
//! the driver that pumps the [`nats-proto`](https://docs.rs/nats-proto) connection state
//! machine over any `futures-io` transport, with TLS through rustls. It is built on the
//! sans-IO core in `nats-proto`; the runtime adapters (`nats-tokio`, `nats-smol`,
//! `nats-async-std`) only contribute a TCP connector, a timer and a spawner.
//!
//! Nothing is implemented here yet: the codec and the connection state machine come first.
