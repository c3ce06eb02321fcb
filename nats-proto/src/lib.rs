//! The NATS client protocol without IO.
//!
//! `nats-proto` turns bytes into protocol operations and operations into bytes. It opens
//! no sockets, spawns nothing, reads no clock and depends on no async runtime, so any IO
//! stack (blocking `std::net`, tokio, smol, async-std, an embedded loop) can drive it.
//!
//! What it holds today:
//!
//! - **Decoding** with [`ServerDecoder`] (what a client reads: `INFO`, `MSG`, `HMSG`,
//!   `PING`, `PONG`, `+OK`, `-ERR`) and [`ClientDecoder`] (what a server reads: `CONNECT`,
//!   `PUB`, `HPUB`, `SUB`, `UNSUB`, `PING`, `PONG`). Both are streaming: incomplete input
//!   is `Ok(None)`, never an error; payloads are zero-copy [`bytes::Bytes`] slices of the
//!   read buffer; sizes are checked against [`DecoderLimits`] before anything is
//!   allocated; any [`DecodeError`] is final until the decoder is reset.
//! - **Encoding** into an [`OutBuffer`], a [`bytes::Buf`] of chunks: small ops are copied
//!   into one reused buffer, large payloads are queued as their own chunk for vectored
//!   writes.
//! - **Validated types**: [`Subject`], [`QueueGroup`], [`Sid`], [`HeaderName`],
//!   [`HeaderValue`], [`HeaderMap`], [`StatusCode`], plus [`ServerInfo`],
//!   [`ConnectInfo`] and the classified [`ServerError`]. Invalid values are rejected when
//!   constructed, with a typed error; secrets are [`Secret`]s that `Debug` never shows.
//!
//! # Example: one round of the protocol
//!
//! ```
//! use bytes::{Bytes, BytesMut};
//! use nats_proto::{ClientDecoder, ClientOp, ConnectInfo, OutBuffer, ServerDecoder, ServerOp, Sid, Subject};
//!
//! // The client encodes CONNECT, SUB and PUB into its outbound buffer...
//! let subject = Subject::new("greet.joe")?;
//! let mut out = OutBuffer::new();
//! out.write_connect(&ConnectInfo::default());
//! out.write_sub(Sid(1), &subject, None);
//! out.write_pub(&subject, None, None, &Bytes::from_static(b"hello"));
//!
//! // ...which a server decodes...
//! let mut wire = BytesMut::from(&out.to_vec()[..]);
//! let mut server = ClientDecoder::new();
//! assert!(matches!(server.decode(&mut wire)?, Some(ClientOp::Connect(_))));
//! assert!(matches!(server.decode(&mut wire)?, Some(ClientOp::Sub { sid: Sid(1), .. })));
//! let Some(ClientOp::Pub(publish)) = server.decode(&mut wire)? else { unreachable!() };
//!
//! // ...and the message comes back as MSG, split across two reads.
//! let mut reply = OutBuffer::new();
//! reply.write_msg(&nats_proto::Msg {
//!     subject: publish.subject,
//!     sid: Sid(1),
//!     reply: None,
//!     headers: None,
//!     header_error: None,
//!     payload: publish.payload,
//! });
//! let bytes = reply.to_vec();
//! let mut client = ServerDecoder::new();
//! let mut read_buf = BytesMut::from(&bytes[..10]);
//! assert_eq!(client.decode(&mut read_buf)?, None); // need more bytes
//! read_buf.extend_from_slice(&bytes[10..]);
//! let Some(ServerOp::Msg(msg)) = client.decode(&mut read_buf)? else { unreachable!() };
//! assert_eq!((msg.subject.as_str(), &msg.payload[..]), ("greet.joe", &b"hello"[..]));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! `examples/pubsub_std.rs` drives these pieces over a blocking `std::net::TcpStream`
//! against a real `nats-server`.
#![forbid(unsafe_code)]

mod auth;
mod connect;
mod connection;
mod decode;
mod encode;
mod headers;
mod info;
mod op;
mod options;
mod out_buffer;
mod queue_group;
mod secret;
mod server_addr;
mod server_error;
mod sid;
mod status_code;
mod subject;

#[cfg(any(test, feature = "fuzzing"))]
#[doc(hidden)]
pub mod fuzzing;

pub use auth::{Auth, AuthError};
pub use connect::ConnectInfo;
pub use connection::{
    Action, Connection, ConnectionError, Event, Expected, FlushError, FlushId, PendingLimits, PublishError,
    RequestId, RequestOutcome, State, Statistics, SubscribeError, TransportError, TransportErrorKind,
};
pub use decode::{ClientDecoder, DecodeError, DecoderLimits, ServerDecoder};
pub use headers::{HeaderError, HeaderMap, HeaderName, HeaderValue};
pub use info::ServerInfo;
pub use op::{ClientOp, Msg, Pub, ServerOp};
pub use options::{Options, OptionsError};
pub use out_buffer::{OutBuffer, DEFAULT_CHUNK_THRESHOLD};
pub use queue_group::{QueueGroup, QueueGroupError};
pub use secret::Secret;
pub use server_addr::{ServerAddr, ServerAddrError, DEFAULT_PORT};
pub use server_error::{PermissionOperation, ServerError, ServerErrorKind};
pub use sid::Sid;
pub use status_code::{InvalidStatusCode, StatusCode};
pub use subject::{Subject, SubjectError};
