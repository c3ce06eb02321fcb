//! The protocol operations in both directions.

use crate::prelude::*;

use bytes::Bytes;

use crate::{
    connect::ConnectInfo, headers::HeaderError, headers::HeaderMap, headers::HeaderValue, info::ServerInfo,
    queue_group::QueueGroup, server_error::ServerError, sid::Sid, status_code::StatusCode, subject::Subject,
};

/// A message delivered by the server (`MSG`, or `HMSG` when `headers` is `Some`).
///
/// More fields may come in minor versions (`#[non_exhaustive]`): build one with
/// [`Msg::new`] and the `with_*` methods.
///
/// ```
/// use bytes::Bytes;
/// use nats_proto::{HeaderMap, HeaderName, HeaderValue, Msg, Sid, Subject};
///
/// let mut headers = HeaderMap::new();
/// headers.insert(HeaderName::new("Trace-Id")?, HeaderValue::new("abc")?);
/// let msg = Msg::new(Subject::new("orders.new")?, Sid(1), Bytes::from_static(b"{}"))
///     .with_reply(Subject::new("_INBOX.x")?)
///     .with_headers(headers);
/// assert_eq!(msg.subject, "orders.new");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Msg {
    /// The subject it was published to.
    pub subject: Subject,
    /// The subscription it is delivered for.
    pub sid: Sid,
    /// Where to send a reply, if the publisher asked for one.
    pub reply: Option<Subject>,
    /// The headers of an `HMSG`; `None` for `MSG`. Boxed to keep `Msg` small: it is
    /// moved several times on the way to its reader.
    pub headers: Option<Box<HeaderMap>>,
    /// Set when the `HMSG` header block was malformed. The server forwards header blocks
    /// unchecked, so such a message is still delivered (with `headers` holding an empty
    /// map) rather than breaking the connection.
    pub header_error: Option<HeaderError>,
    /// The payload: a slice of the read buffer, no copy.
    pub payload: Bytes,
}

impl Msg {
    /// A message on `subject` for subscription `sid`, without reply subject or headers.
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use bytes::Bytes;
    /// use nats_proto::{Msg, Sid, Subject};
    ///
    /// let msg = Msg::new(Subject::new("greet.joe")?, Sid(1), Bytes::from_static(b"hello"));
    /// assert_eq!(msg.reply, None);
    /// # Ok(()) }
    /// ```
    pub fn new(subject: Subject, sid: Sid, payload: Bytes) -> Self {
        Self { subject, sid, reply: None, headers: None, header_error: None, payload }
    }

    /// With a reply subject.
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use bytes::Bytes;
    /// use nats_proto::{Msg, Sid, Subject};
    ///
    /// let msg = Msg::new(Subject::new("svc.echo")?, Sid(1), Bytes::new()).with_reply(Subject::new("_INBOX.a")?);
    /// assert_eq!(msg.reply.as_ref().map(Subject::as_str), Some("_INBOX.a"));
    /// # Ok(()) }
    /// ```
    #[must_use]
    pub fn with_reply(mut self, reply: Subject) -> Self {
        self.reply = Some(reply);
        self
    }

    /// With headers (an `HMSG`).
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use bytes::Bytes;
    /// use nats_proto::{HeaderMap, HeaderName, HeaderValue, Msg, Sid, Subject};
    ///
    /// let mut headers = HeaderMap::new();
    /// headers.insert(HeaderName::new("Trace-Id")?, HeaderValue::new("abc")?);
    /// let msg = Msg::new(Subject::new("orders.new")?, Sid(1), Bytes::new()).with_headers(headers);
    /// assert_eq!(msg.headers.as_ref().and_then(|h| h.get("Trace-Id")).map(|v| v.as_str()), Some("abc"));
    /// # Ok(()) }
    /// ```
    #[must_use]
    pub fn with_headers(mut self, headers: HeaderMap) -> Self {
        self.headers = Some(Box::new(headers));
        self
    }

    /// The first value of header `name`, if the message has headers and that one.
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use bytes::Bytes;
    /// use nats_proto::{header, HeaderMap, Msg, Sid, Subject};
    ///
    /// let mut headers = HeaderMap::new();
    /// headers.insert(header::NATS_MESSAGE_ID, "order-7");
    /// let msg = Msg::new(Subject::new("orders.new")?, Sid(1), Bytes::new()).with_headers(headers);
    /// assert_eq!(msg.header("Nats-Msg-Id").unwrap(), "order-7");
    /// assert_eq!(msg.header("Trace-Id"), None);
    /// # Ok(()) }
    /// ```
    pub fn header(&self, name: impl AsRef<str>) -> Option<&HeaderValue> {
        self.headers.as_deref()?.get(name)
    }

    /// With a header-block error (see [`header_error`](Self::header_error)).
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use bytes::Bytes;
    /// use nats_proto::{HeaderError, HeaderMap, Msg, Sid, Subject};
    ///
    /// let error = HeaderMap::decode(&Bytes::from_static(b"HTTP/1.1\r\n\r\n")).unwrap_err();
    /// let msg = Msg::new(Subject::new("x")?, Sid(1), Bytes::new()).with_header_error(error);
    /// assert!(msg.header_error.is_some());
    /// # let _: Option<HeaderError> = msg.header_error;
    /// # Ok(()) }
    /// ```
    #[must_use]
    pub fn with_header_error(mut self, error: HeaderError) -> Self {
        self.header_error = Some(error);
        self
    }

    /// The status of a status message (the `NATS/1.0 503` header line): no responders
    /// (503), request timeout (408), JetStream's 100 heartbeats, 404 and 409; `None` for an
    /// ordinary message. Compares with numbers: `msg.status() == Some(StatusCode::NO_RESPONDERS)`
    /// or `msg.status().is_some_and(|s| s == 503)`.
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use bytes::Bytes;
    /// use nats_proto::{HeaderMap, Msg, Sid, StatusCode, Subject};
    ///
    /// let mut headers = HeaderMap::new();
    /// headers.set_status(Some((StatusCode::NO_RESPONDERS, None)));
    /// let reply = Msg::new(Subject::new("_INBOX.a")?, Sid(1), Bytes::new()).with_headers(headers);
    /// assert_eq!(reply.status(), Some(StatusCode::NO_RESPONDERS));
    /// assert!(reply.status().is_some_and(|s| s == 503));
    /// # Ok(()) }
    /// ```
    pub fn status(&self) -> Option<StatusCode> {
        self.headers.as_deref().and_then(HeaderMap::status)
    }

    /// The description after a status code (`No Messages` in `NATS/1.0 404 No Messages`).
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use bytes::Bytes;
    /// use nats_proto::{HeaderMap, HeaderValue, Msg, Sid, StatusCode, Subject};
    ///
    /// let mut headers = HeaderMap::new();
    /// headers.set_status(Some((StatusCode::new(404)?, Some(HeaderValue::new("No Messages")?))));
    /// let msg = Msg::new(Subject::new("_INBOX.a")?, Sid(1), Bytes::new()).with_headers(headers);
    /// assert_eq!(msg.description(), Some("No Messages"));
    /// # Ok(()) }
    /// ```
    pub fn description(&self) -> Option<&str> {
        self.headers.as_deref().and_then(HeaderMap::description).map(|d| d.as_str())
    }

    /// The message's size: the payload plus the header block as this client encodes it (the
    /// total size in the `HMSG` line for a header block in the usual form).
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use bytes::Bytes;
    /// use nats_proto::{Msg, Sid, Subject};
    ///
    /// let msg = Msg::new(Subject::new("greet")?, Sid(1), Bytes::from_static(b"hello"));
    /// assert_eq!(msg.length(), 5);
    /// # Ok(()) }
    /// ```
    pub fn length(&self) -> usize {
        self.payload.len() + self.headers.as_deref().map_or(0, HeaderMap::encoded_len)
    }
}

/// An operation sent by the server.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ServerOp {
    /// `INFO`: the server's description, at connect time and on topology changes.
    Info(Box<ServerInfo>),
    /// `MSG` or `HMSG`.
    Msg(Msg),
    /// `PING`: answer with `PONG`.
    Ping,
    /// `PONG`: the answer to the oldest outstanding `PING`.
    Pong,
    /// `+OK`: acknowledgement in verbose mode.
    Ok,
    /// `-ERR`.
    Err(ServerError),
    /// A well-formed `MSG`/`HMSG` whose subject or reply subject is not UTF-8. The server
    /// relays such subjects from any publisher in the account, so this is not a protocol
    /// error: the frame was consumed whole and the stream is still in sync. A
    /// [`Connection`](crate::Connection) drops the message, counts it in
    /// [`Statistics::undeliverable_msgs`](crate::Statistics::undeliverable_msgs) and reports
    /// it with [`Event::Undeliverable`](crate::Event::Undeliverable).
    Undeliverable(Undeliverable),
}

/// A message that could not be delivered because its subject or reply subject is not
/// UTF-8 (see [`ServerOp::Undeliverable`]). The raw fields are kept for diagnostics.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Undeliverable {
    /// The subscription it was sent for.
    pub sid: Sid,
    /// The subject's raw bytes.
    pub subject: Bytes,
    /// The reply subject's raw bytes, if there was one.
    pub reply: Option<Bytes>,
    /// The declared size (headers and payload) of the dropped message.
    pub size: usize,
}

impl Undeliverable {
    /// A dropped message's raw fields (for test servers and fuzzers).
    pub fn new(sid: Sid, subject: Bytes, reply: Option<Bytes>, size: usize) -> Self {
        Self { sid, subject, reply, size }
    }
}

/// A publish (`PUB`, or `HPUB` when `headers` is `Some`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pub {
    /// The subject to publish to.
    pub subject: Subject,
    /// The reply subject, if any.
    pub reply: Option<Subject>,
    /// Headers; `Some` makes this an `HPUB`.
    pub headers: Option<Box<HeaderMap>>,
    /// The payload.
    pub payload: Bytes,
}

/// An operation sent by the client.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClientOp {
    /// `CONNECT`.
    Connect(Box<ConnectInfo>),
    /// `PUB` or `HPUB`.
    Pub(Pub),
    /// `SUB <subject> [queue] <sid>`.
    Sub {
        /// The subscription's id.
        sid: Sid,
        /// The subject or filter.
        subject: Subject,
        /// The queue group, if any.
        queue_group: Option<QueueGroup>,
    },
    /// `UNSUB <sid> [max]`.
    Unsub {
        /// The subscription's id.
        sid: Sid,
        /// Unsubscribe after this many messages in total (counting those already
        /// delivered); `None` unsubscribes at once.
        max: Option<u64>,
    },
    /// `PING`.
    Ping,
    /// `PONG`.
    Pong,
}
