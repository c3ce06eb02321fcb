//! Integration tests of the NATS client against a real `nats-server`.
//!
//! The library holds the helpers: [`NatsServer`] / [`NatsCluster`] start servers (plain,
//! auth of every kind, TLS, limits, clusters) on free ports and kill them on drop;
//! [`TlsFiles`] and [`OperatorSetup`] generate certificates and JWTs at test time; the
//! runtime helpers run each scenario, written once as a generic
//! `async fn scenario<R: Runtime>(rt: R)`, on tokio, smol and async-std
//! ([`runtime_tests!`]), with timeouts on every wait ([`within`]).
//!
//! The scenarios are in `tests/`.

pub mod chaos;
mod jwt;
mod own_process;
mod ports;
mod python;
mod rt;
mod server;
mod tls;

pub use jwt::{creds, encode_jwt, NKeyUser, OperatorSetup};
pub use own_process::in_own_process;
pub use ports::free_port;
pub use python::{python_binary, run_python, spawn_python, PythonChild, PythonOutput};
pub use rt::{
    collect_now, connect, connect_with, echo, fast_reconnect, next_event, next_message, run_async_std,
    run_async_std_for, run_smol, run_smol_for, run_tokio, run_tokio_for, try_connect, wait_for_event,
    wait_for_event_for, with_timeout, within, Elapsed, TIMEOUT,
};
pub use server::{
    compat_server_binary, server_binary, ClusterConfig, NatsCluster, NatsServer, ServerAuth, ServerConfig,
    ServerTls, WebSocketConfig,
};
pub use tls::TlsFiles;

/// The runtimes, for the scenarios.
pub use nats_async_std::AsyncStd;
pub use nats_smol::Smol;
pub use nats_tokio::Tokio;
