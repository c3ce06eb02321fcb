//! [`Request`]: a request with its own payload, headers, timeout and inbox, for
//! [`Client::send_request`].

use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::time::Duration;

use bytes::Bytes;
use futures_core::Stream;
use nats_proto::{HeaderMap, Msg, PublishError, StatusCode};

use crate::client::Client;
use crate::error::RequestError;

/// How long a request waits for its reply.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum Wait {
    /// The client's default request timeout.
    #[default]
    Default,
    /// This long.
    For(Duration),
    /// Until the reply comes or the connection closes.
    Forever,
}

/// A request built step by step (async-nats' `Request`): payload, headers, a timeout of its
/// own or none at all, and optionally an inbox of the caller's choosing.
///
/// ```no_run
/// # async fn demo(client: nats_client::Client) -> Result<(), Box<dyn std::error::Error>> {
/// use std::time::Duration;
/// use nats_client::{HeaderMap, Request};
///
/// let mut headers = HeaderMap::new();
/// headers.append(nats_client::HeaderName::new("Trace-Id")?, nats_client::HeaderValue::new("42")?);
/// let reply = client
///     .send_request("orders.get", Request::new().payload("id=7".into()).headers(headers).timeout(Some(Duration::from_secs(2))))
///     .await?;
/// println!("{:?}", reply.payload);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Default)]
#[must_use = "a request does nothing until sent with Client::send_request"]
pub struct Request {
    payload: Bytes,
    headers: Option<HeaderMap>,
    wait: Wait,
    inbox: Option<String>,
}

impl Request {
    /// An empty request with the client's default timeout.
    ///
    /// ```no_run
    /// # async fn example(client: nats_client::Client) -> Result<(), Box<dyn std::error::Error>> {
    /// use nats_client::Request;
    ///
    /// let reply = client.send_request("time.now", Request::new()).await?;
    /// println!("{:?}", reply.payload);
    /// # Ok(()) }
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// The payload.
    ///
    /// ```no_run
    /// # async fn example(client: nats_client::Client) -> Result<(), Box<dyn std::error::Error>> {
    /// use nats_client::Request;
    ///
    /// let reply = client.send_request("math.double", Request::new().payload("21".into())).await?;
    /// println!("{:?}", reply.payload);
    /// # Ok(()) }
    /// ```
    pub fn payload(mut self, payload: Bytes) -> Self {
        self.payload = payload;
        self
    }

    /// Headers to send with it.
    ///
    /// ```no_run
    /// # async fn example(client: nats_client::Client) -> Result<(), Box<dyn std::error::Error>> {
    /// use nats_client::{HeaderMap, HeaderName, HeaderValue, Request};
    ///
    /// let mut headers = HeaderMap::new();
    /// headers.insert(HeaderName::new("Auth-Token")?, HeaderValue::new("t-1")?);
    /// let reply = client.send_request("orders.get", Request::new().payload("7".into()).headers(headers)).await?;
    /// println!("{:?}", reply.payload);
    /// # Ok(()) }
    /// ```
    pub fn headers(mut self, headers: HeaderMap) -> Self {
        self.headers = Some(headers);
        self
    }

    /// How long to wait for the reply: `Some(duration)`, or `None` to wait until the reply
    /// comes or the connection closes. Without this call, the client's default request
    /// timeout applies ([`ConnectOptions::request_timeout`](crate::ConnectOptions::request_timeout)).
    ///
    /// ```no_run
    /// # async fn example(client: nats_client::Client) -> Result<(), Box<dyn std::error::Error>> {
    /// use std::time::Duration;
    /// use nats_client::Request;
    ///
    /// let quick = Request::new().payload("ping".into()).timeout(Some(Duration::from_millis(200)));
    /// let reply = client.send_request("svc.ping", quick).await?;
    /// println!("{:?}", reply.payload);
    /// # Ok(()) }
    /// ```
    pub fn timeout(mut self, timeout: Option<Duration>) -> Self {
        self.wait = timeout.map_or(Wait::Forever, Wait::For);
        self
    }

    /// Receive the reply on `inbox` (a subject of the caller's choosing, for example one
    /// its permissions allow) instead of the connection's shared request inbox.
    ///
    /// ```no_run
    /// # async fn example(client: nats_client::Client) -> Result<(), Box<dyn std::error::Error>> {
    /// use nats_client::Request;
    ///
    /// // A reply subject the account's permissions allow.
    /// let request = Request::new().payload("q".into()).inbox("_INBOX_billing.reply-1");
    /// let reply = client.send_request("billing.query", request).await?;
    /// println!("{:?}", reply.payload);
    /// # Ok(()) }
    /// ```
    pub fn inbox(mut self, inbox: impl Into<String>) -> Self {
        self.inbox = Some(inbox.into());
        self
    }
}

impl Client {
    /// Sends `request` to `subject` and waits for the first reply.
    ///
    /// A request with a timeout and no inbox of its own goes through the connection's shared
    /// inbox, like [`request`](Self::request). One with an inbox of its own, or with no
    /// timeout (`timeout(None)`), subscribes to its inbox, publishes, and takes the first
    /// message there; without a timeout it waits until that reply comes or the connection
    /// closes.
    ///
    /// # Errors
    /// [`RequestError::Timeout`], [`RequestError::NoResponders`] (a 503 status reply), a
    /// publish error (invalid subject or inbox, ...), or [`RequestError::Closed`].
    ///
    /// ```no_run
    /// # async fn demo(client: nats_client::Client) -> Result<(), Box<dyn std::error::Error>> {
    /// use nats_client::Request;
    /// // Waits for as long as the responder takes (or until the connection closes).
    /// let reply = client.send_request("reports.build", Request::new().payload("q4".into()).timeout(None)).await?;
    /// # Ok(()) }
    /// ```
    pub async fn send_request(
        &self,
        subject: impl AsRef<str>,
        request: Request,
    ) -> Result<Msg, RequestError> {
        let Request { payload, headers, wait, inbox } = request;
        let timeout = match wait {
            Wait::Default => Some(self.request_timeout()),
            Wait::For(timeout) => Some(timeout),
            Wait::Forever => None,
        };
        match (inbox, timeout) {
            (None, Some(timeout)) => self.request_with(subject, headers.as_ref(), payload, timeout).await,
            (inbox, timeout) => {
                let inbox = inbox.unwrap_or_else(|| self.new_inbox());
                self.request_on_inbox(subject.as_ref(), &inbox, headers.as_ref(), payload, timeout).await
            }
        }
    }

    /// Sends a request with headers and waits up to the default request timeout for one
    /// reply.
    ///
    /// # Errors
    /// As [`request`](Self::request).
    ///
    /// ```no_run
    /// # async fn demo(client: nats_client::Client) -> Result<(), Box<dyn std::error::Error>> {
    /// let mut headers = nats_client::HeaderMap::new();
    /// headers.insert("Auth-Token", "abc");
    /// let reply = client.request_with_headers("accounts.me", headers, "".into()).await?;
    /// # Ok(()) }
    /// ```
    pub async fn request_with_headers(
        &self,
        subject: impl AsRef<str>,
        headers: impl std::borrow::Borrow<HeaderMap>,
        payload: Bytes,
    ) -> Result<Msg, RequestError> {
        self.request_with(subject, Some(headers.borrow()), payload, self.request_timeout()).await
    }

    async fn request_on_inbox(
        &self,
        subject: &str,
        inbox: &str,
        headers: Option<&HeaderMap>,
        payload: Bytes,
        timeout: Option<Duration>,
    ) -> Result<Msg, RequestError> {
        let mut replies = self.subscribe(inbox).await.map_err(|e| match e {
            crate::SubscribeError::InvalidSubject(e) => RequestError::Publish(PublishError::from(e)),
            _ => RequestError::Closed,
        })?;
        replies.unsubscribe_after(1).into_inner().map_err(|_| RequestError::Closed)?;
        match headers {
            Some(headers) => self.publish_message(subject, Some(inbox), Some(headers), payload).await?,
            None => self.publish_with_reply(subject, inbox, payload).await?,
        }
        let next = poll_fn(|cx| Pin::new(&mut replies).poll_next(cx));
        let reply = match timeout {
            None => next.await,
            Some(timeout) => {
                let mut sleep = self.sleep_until(self.deadline(timeout));
                let mut next = std::pin::pin!(next);
                poll_fn(|cx| match next.as_mut().poll(cx) {
                    std::task::Poll::Ready(reply) => std::task::Poll::Ready(Ok(reply)),
                    std::task::Poll::Pending => {
                        Pin::new(&mut sleep).poll(cx).map(|()| Err(RequestError::Timeout))
                    }
                })
                .await?
            }
        };
        match reply {
            Some(msg) if msg.status() == Some(StatusCode::NO_RESPONDERS) => Err(RequestError::NoResponders),
            Some(msg) => Ok(msg),
            None => Err(RequestError::Closed),
        }
    }
}
