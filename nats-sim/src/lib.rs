//! Deterministic simulation of NATS clients, the network and nats-servers.
//!
//! The real client (`nats-client`, and the layers above it) runs unchanged on a
//! [`Runtime`](nats_client::Runtime) whose every source of nondeterminism is the run's
//! seed: a one-thread executor that picks the next ready task at random ([`Sim`]), a
//! virtual clock that jumps from timer to timer, a network whose reads and writes split at
//! random bytes and arrive after random latencies ([`Net`]), simulated servers
//! ([`Cluster`]) and a chaos schedule of faults ([`chaos`]). A seed fixes the whole run:
//! the same seed gives the same trace hash, so any failure replays exactly.
//!
//! # The run loop
//!
//! [`Sim::block_on`] polls one ready task at a time, chosen by the seed; when none is
//! ready, the clock jumps to the earliest timer and wakes it. Tasks never block the
//! thread; time passes only between polls. A run ends when its main task completes, and
//! fails ([`Stuck`]) when nothing can happen any more, when virtual time passes the run's
//! limit, or on a busy loop.
//!
//! ```
//! use std::time::Duration;
//! use nats_sim::{Cluster, Host, Net, NetConfig, ServerConfig, Sim};
//!
//! let sim = Sim::new(42);
//! let net = Net::new(sim.clone(), NetConfig::default());
//! let cluster = Cluster::new(&net, ServerConfig::default());
//! let host = Host::new(&net, 1);
//! let urls = cluster.urls();
//! let reply = sim
//!     .block_on(
//!         async move {
//!             let options = nats_client::ConnectOptions::new();
//!             let client = nats_client::connect_with_runtime(host, &urls, options).await.unwrap();
//!             let mut sub = client.subscribe("greet.*").await.unwrap();
//!             client.publish("greet.joe", "hello".into()).await.unwrap();
//!             futures_util::StreamExt::next(&mut sub).await.unwrap().payload
//!         },
//!         Duration::from_secs(10),
//!     )
//!     .unwrap();
//! assert_eq!(reply, "hello");
//! ```
//!
//! # Why its own executor
//!
//! turmoil and madsim both simulate by standing in for tokio (turmoil's hosts run on a
//! tokio runtime with paused time and its own `TcpStream`; madsim replaces tokio and parts
//! of std behind a build flag). The client needs neither: it reaches time, tasks and the
//! network only through its `Runtime` trait, so a small executor implementing that trait
//! makes every runtime-neutral crate of the workspace simulable as it is built, without a
//! special build, and the executor's random choice among ready tasks explores
//! interleavings that a tokio-shaped simulator (FIFO run queue) never tries.

pub mod chaos;
mod executor;
mod net;
mod rng;
mod runtime;
pub mod scenario;
pub mod server;
mod trace;

pub use executor::{Sim, Sleep, Stuck};
pub use net::{Accept, LinkInfo, Net, NetConfig, Side, SimStream};
pub use rng::Rng;
pub use runtime::Host;
pub use server::{Cluster, Defects, ServerConfig};
