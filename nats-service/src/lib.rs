//! NATS services: the "micro" API of NATS ADR-32, on the runtime-neutral
//! [`nats_client::Client`].
//!
//! A service has a name, a semantic version, a description, metadata and a generated
//! instance id. Its endpoints listen on subjects (in a queue group, `"q"` unless configured
//! otherwise, or without one), optionally inside [`Group`]s that prefix their subjects.
//! Every instance answers the discovery subjects `$SRV.PING`, `$SRV.INFO` and `$SRV.STATS`,
//! each for all services, for its name, and for its name and id, with the JSON the official
//! clients (nats.go, nats-py) write and read; [`PingResponse`], [`InfoResponse`] and
//! [`StatsResponse`] parse theirs. Error replies carry the `Nats-Service-Error` and
//! `Nats-Service-Error-Code` headers ([`ErrorReply`] reads them).
//!
//! An endpoint is a [`Stream`](futures_core::Stream) of [`Request`]s; reply with
//! [`Request::respond`], [`Request::respond_with_headers`] or [`Request::error`], or hand the
//! endpoint a closure with [`Endpoint::serve`]. Statistics (requests, errors, processing
//! time from the request's arrival to its reply, last error) are kept per endpoint.
//! [`Service::stop`] unsubscribes the endpoints and the discovery subjects, lets the requests
//! already received be handled, and waits for the server's confirmation;
//! [`Service::stopped`] resolves once a service has stopped (a closed connection stops it
//! too). A running service, like a [`Subscriber`](nats_client::Subscriber), keeps its
//! connection open: stop it or close the client.
//!
//! ```no_run
//! use futures_util::StreamExt;
//! use nats_service::ServiceExt;
//!
//! # async fn demo(client: nats_client::Client) -> Result<(), Box<dyn std::error::Error>> {
//! let service = client
//!     .service_builder()
//!     .description("adds and divides")
//!     .metadata("region", "eu")
//!     .start("calc", "1.0.0")
//!     .await?;
//!
//! // A closure per request, on a task of the client's runtime.
//! service.add_endpoint("ping").await?.serve(|request| async move {
//!     let _ = request.respond("pong".into()).await;
//! });
//!
//! // Or a stream of requests: `math.div`, in the queue group "q".
//! let mut divide = service.group("math").add_endpoint("div").await?;
//! while let Some(request) = divide.next().await {
//!     let text = String::from_utf8_lossy(request.payload()).into_owned();
//!     let numbers: Vec<f64> = text.split(',').filter_map(|n| n.trim().parse().ok()).collect();
//!     match numbers.as_slice() {
//!         [_, d] if *d == 0.0 => request.error(400, "division by zero").await?,
//!         [n, d] => request.respond((n / d).to_string().into()).await?,
//!         _ => request.error(400, "expected two numbers").await?,
//!     }
//! }
//! service.stop().await?;
//! # Ok(()) }
//! ```
//!
//! The protocol logic is sans-IO: [`ServiceCore`] validates the configuration, builds the
//! control subjects and the discovery responses, and accounts statistics with the elapsed
//! times passed in; [`IdGenerator`] makes instance ids from a seed;
//! [`nats_client::rfc3339`] formats `started` from a given time. The async layer
//! ([`ServiceBuilder`], [`Service`]) only subscribes, measures and publishes; it takes its
//! tasks, clock and wall-clock from the client's runtime ([`Client::spawn`],
//! [`Client::now`], [`Client::system_time`]), so it runs wherever the client does, the
//! browser included.
//!
//! [`Client::spawn`]: nats_client::Client::spawn
//! [`Client::now`]: nats_client::Client::now
//! [`Client::system_time`]: nats_client::Client::system_time
#![forbid(unsafe_code)]

mod config;
mod core;
mod discovery;
mod error;
mod id;
mod messages;
mod service;

pub use crate::config::{
    join_subject, validate_group, validate_name, validate_queue_group, validate_subject, validate_version,
    QueueGroup, ServiceConfig, DEFAULT_QUEUE_GROUP,
};
pub use crate::core::{EndpointId, EndpointSpec, ServiceCore, Subscription};
pub use crate::discovery::{Discovery, DiscoveryError, ServiceClient, DEFAULT_DISCOVERY_WAIT};
pub use crate::error::{ConfigError, RespondError, ServiceError};
pub use crate::id::{IdGenerator, ID_LEN};
pub use crate::messages::{
    control_subject, control_subject_with_prefix, set_error_headers, EndpointInfo, EndpointStats, ErrorReply,
    InfoResponse, PingResponse, StatsResponse, Verb, API_PREFIX, ERROR_CODE_HEADER, ERROR_HEADER,
    INFO_RESPONSE_TYPE, PING_RESPONSE_TYPE, STATS_RESPONSE_TYPE,
};
pub use crate::service::{
    add_service, ClientServiceBuilder, Endpoint, EndpointBuilder, Group, Request, Service, ServiceBuilder,
    ServiceExt,
};
