//! JetStream for the runtime-neutral NATS client: streams, publishing with
//! acknowledgements, pull consumers, ordered consumers, acknowledgements and metadata.
//!
//! Two layers, as everywhere in this project:
//! - [`proto`] is sans-IO: API subjects (with a domain or API prefix), request and
//!   response bodies, API errors with their JetStream codes, publish expectations and acks,
//!   ack-subject metadata (v1 and v2 layouts), pull-request bookkeeping (batch, bytes,
//!   expiry, idle heartbeats, status messages 100/404/408/409/503), ordered-consumer
//!   tracking. No IO and no clock reads: it is tested on a virtual clock.
//! - The async API on a [`nats_client::Client`], so it runs on tokio, smol and async-std
//!   alike; its timers come from the client's runtime ([`nats_client::Client::sleep_until`]).
//!
//! The names follow `async-nats` where they fit: [`new`] gives a [`Context`];
//! [`Context::create_stream`], [`Context::publish`] (await the returned
//! [`PublishAckFuture`] for the stream's ack), [`Stream::create_consumer`],
//! [`Consumer::fetch`], [`Consumer::messages`], [`Message::ack`]...
//!
//! ```no_run
//! # async fn demo(client: nats_client::Client) -> Result<(), Box<dyn std::error::Error>> {
//! use futures_util::StreamExt;
//! use nats_jetstream::proto::{ConsumerConfig, StreamConfig};
//! use nats_jetstream::Publish;
//!
//! let js = nats_jetstream::new(client);
//! let stream = js.get_or_create_stream(StreamConfig::new("ORDERS").subjects(["orders.>"])).await?;
//!
//! // Publish, then await the stream's acknowledgement.
//! let ack = js.publish("orders.new", "order 1".into()).await?.await?;
//! println!("stored as {} in {}", ack.sequence, ack.stream);
//! // De-duplication and optimistic concurrency.
//! js.send_publish("orders.new", Publish::new().payload("order 2".into()).message_id("o-2").expected_last_sequence(ack.sequence))
//!     .await?
//!     .await?;
//!
//! // A durable pull consumer: a batch, then a continuous stream.
//! let consumer = stream.create_consumer(ConsumerConfig::durable("worker")).await?;
//! let mut batch = consumer.fetch_messages(10, std::time::Duration::from_secs(1)).await?;
//! while let Some(message) = batch.next().await {
//!     let message = message?;
//!     println!("{:?} (stream sequence {})", message.payload, message.info()?.stream_sequence);
//!     message.ack().await?;
//! }
//! let mut messages = consumer.messages().await?;
//! if let Some(message) = messages.next().await {
//!     message?.double_ack().await?;
//! }
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]

mod batch;
mod consumer;
mod context;
mod direct;
mod error;
mod message;
mod ordered;
mod paged;
pub mod proto;
mod publisher;
mod push;
mod stream;

pub use batch::AtomicBatch;
pub use consumer::{Batch, Consumer, Messages, DEFAULT_HEARTBEAT};
pub use context::{new, with_domain, with_prefix, Context, Publish, PublishAckFuture, DEFAULT_TIMEOUT};
pub use direct::DirectBatch;
pub use error::{AckError, ConsumerError, FetchError, PublishError, StreamError};
pub use message::Message;
pub use ordered::{Ordered, OrderedConfig, OrderedConsumer, DEFAULT_BATCH};
pub use paged::Paged;
pub use publisher::{PublishFailure, PublishReport, Publisher};
pub use push::{PushConsumer, PushMessages};
pub use stream::{Stream, StreamMessage};

// The configuration and information types an application names, at the crate's root (the
// rest of the wire model stays in `proto`).
pub use proto::{
    AccountInfo, AckKind, AckPolicy, ApiError, ClusterInfo, Compression, ConsumerAction, ConsumerConfig,
    ConsumerInfo, ConsumerLimits, DeliverPolicy, DiscardPolicy, ErrorCode, External, Metadata, PauseResponse,
    PeerInfo, PersistMode, Placement, PriorityPolicy, PubAck, PullOptions, PurgeResponse, ReplayPolicy,
    Republish, RetentionPolicy, SequenceInfo, Source, SourceInfo, StorageType, StreamConfig, StreamInfo,
    StreamInfoRequest, StreamState, SubjectTransform,
};
