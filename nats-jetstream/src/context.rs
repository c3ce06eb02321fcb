//! The JetStream context: API prefix, default timeout, stream management and publishing.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures_core::Stream as FuturesStream;
use nats_client::{Client, Expected, HeaderMap, Replies, RequestError};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::batch::AtomicBatch;
use crate::error::{Failure, PublishError, StreamError};
use crate::paged::{paged, Paged};
use crate::proto::{
    check_features, parse_pub_ack, parse_response, AccountInfo, ApiPrefix, ApiRetry, Feature, MessageTtl,
    PagedRequest, PubAck, PublishExpectations, PublishRetry, RetryCause, StreamConfig, StreamInfo,
    StreamListPage, StreamNamesPage, SuccessResponse, Unsupported,
};
use crate::publisher::Publisher;
use crate::stream::Stream;

/// The default timeout of API requests and publish acknowledgements.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
/// The shortest timeout of a retried API request's attempt near its deadline.
const MIN_ATTEMPT_TIMEOUT: Duration = Duration::from_millis(500);

/// A JetStream context on the default API prefix (`$JS.API`).
pub fn new(client: Client) -> Context {
    Context::new(client, ApiPrefix::default())
}

/// A JetStream context for a domain (`$JS.<domain>.API`).
pub fn with_domain(client: Client, domain: &str) -> Context {
    Context::new(client, ApiPrefix::domain(domain))
}

/// A JetStream context with a custom API prefix (an import from another account).
pub fn with_prefix(client: Client, prefix: &str) -> Context {
    Context::new(client, ApiPrefix::custom(prefix))
}

/// JetStream on one connection: cheap to clone; every handle it gives out (streams,
/// consumers, messages) shares its client, prefix and timeout.
#[derive(Debug, Clone)]
pub struct Context {
    pub(crate) client: Client,
    pub(crate) prefix: ApiPrefix,
    pub(crate) timeout: Duration,
    pub(crate) api_retry: ApiRetry,
}

impl Context {
    /// A context with an API prefix and the default timeout (5 s).
    pub fn new(client: Client, prefix: ApiPrefix) -> Self {
        Self { client, prefix, timeout: DEFAULT_TIMEOUT, api_retry: ApiRetry::default() }
    }

    /// Sets how stream info, stream creation, message gets, consumer creation and consumer
    /// info are retried on a 503 (no leader during an election) or a timeout; default
    /// [`ApiRetry::default`] (within 18 s), [`ApiRetry::none`] for one attempt. Each
    /// attempt waits at most the [timeout](Self::set_timeout).
    pub fn set_api_retry(&mut self, retry: ApiRetry) {
        self.api_retry = retry;
    }

    /// The retry policy of the API requests that are safe to repeat.
    pub fn api_retry(&self) -> ApiRetry {
        self.api_retry
    }

    /// Sets the timeout of API requests and publish acknowledgements.
    pub fn set_timeout(&mut self, timeout: Duration) {
        self.timeout = timeout;
    }

    /// The timeout of API requests and publish acknowledgements.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The API prefix.
    pub fn prefix(&self) -> &ApiPrefix {
        &self.prefix
    }

    /// The underlying client.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// One API request: `body` as JSON to `subject`, the reply parsed as `T`.
    pub(crate) async fn request<T: DeserializeOwned>(
        &self,
        subject: String,
        body: &impl Serialize,
    ) -> Result<T, Failure> {
        let payload = Bytes::from(serde_json::to_vec(body).expect("request bodies serialise"));
        self.request_bytes(subject, payload, self.timeout).await
    }

    /// [`request`](Self::request), retried by the context's [`ApiRetry`] policy: only for
    /// requests that are safe to repeat.
    pub(crate) async fn request_retried<T: DeserializeOwned>(
        &self,
        subject: String,
        body: &impl Serialize,
    ) -> Result<T, Failure> {
        // Boxed: the retry loop's state stays off the caller's stack (async-std and smol
        // run scenarios on a thread's stack, and debug builds make futures large).
        let payload = Bytes::from(serde_json::to_vec(body).expect("request bodies serialise"));
        Box::pin(self.request_retried_bytes(self.api_retry, subject, payload)).await
    }

    async fn request_retried_bytes<T: DeserializeOwned>(
        &self,
        policy: ApiRetry,
        subject: String,
        payload: Bytes,
    ) -> Result<T, Failure> {
        let first = self.client.now();
        let mut made = 0;
        loop {
            let now = self.client.now();
            let timeout = policy.attempt_timeout(self.timeout, first, now, MIN_ATTEMPT_TIMEOUT);
            made += 1;
            let failure = match self.request_bytes(subject.clone(), payload.clone(), timeout).await {
                Ok(reply) => return Ok(reply),
                Err(failure) => failure,
            };
            let Some(cause) = failure.retry_cause() else { return Err(failure) };
            match policy.next_attempt(cause, made, first, self.client.now()) {
                Some(at) => self.client.sleep_until(at).await,
                None => return Err(failure),
            }
        }
    }

    async fn request_bytes<T: DeserializeOwned>(
        &self,
        subject: String,
        payload: Bytes,
        timeout: Duration,
    ) -> Result<T, Failure> {
        let reply =
            self.client.request_with(subject, None, payload, timeout).await.map_err(Failure::Request)?;
        if reply.headers.as_ref().and_then(|h| h.status()).is_some_and(|s| s.as_u16() == 503) {
            return Err(Failure::Request(RequestError::NoResponders));
        }
        Ok(parse_response(&reply.payload)?)
    }

    /// Fails with [`Unsupported`] when the connected server predates one of `features`
    /// (an unknown version passes: the server decides).
    pub(crate) fn require(&self, features: impl IntoIterator<Item = Feature>) -> Result<(), Unsupported> {
        check_features(self.client.server_version(), features)
    }

    /// Account information: usage and limits.
    ///
    /// # Errors
    /// A [`StreamError`] (not enabled, timeout, ...).
    pub async fn query_account(&self) -> Result<AccountInfo, StreamError> {
        Ok(self.request(self.prefix.info(), &serde_json::json!({})).await?)
    }

    /// Creates a stream.
    ///
    /// # Errors
    /// A [`StreamError`]: [`AlreadyExists`](StreamError::AlreadyExists) when a stream with
    /// the name exists with another configuration, limits, not enabled, ...
    pub async fn create_stream(&self, config: StreamConfig) -> Result<Stream, StreamError> {
        let subject = self.prefix.stream_create(&config.name)?;
        self.require(config.features())?;
        let info: StreamInfo = self.request_retried(subject, &config).await?;
        Ok(Stream::new(self.clone(), info))
    }

    /// Updates a stream's configuration.
    ///
    /// # Errors
    /// A [`StreamError`]: [`NotFound`](StreamError::NotFound), invalid change, ...
    pub async fn update_stream(&self, config: StreamConfig) -> Result<StreamInfo, StreamError> {
        let subject = self.prefix.stream_update(&config.name)?;
        self.require(config.features())?;
        Ok(self.request(subject, &config).await?)
    }

    /// The stream named `config.name`, created when missing.
    ///
    /// # Errors
    /// A [`StreamError`].
    pub async fn get_or_create_stream(&self, config: StreamConfig) -> Result<Stream, StreamError> {
        match self.get_stream(&config.name).await {
            Err(StreamError::NotFound(_)) => self.create_stream(config).await,
            other => other,
        }
    }

    /// A handle on an existing stream (its info fetched now).
    ///
    /// # Errors
    /// A [`StreamError`]: [`NotFound`](StreamError::NotFound), ...
    pub async fn get_stream(&self, name: impl AsRef<str>) -> Result<Stream, StreamError> {
        let name = name.as_ref();
        Ok(Stream::new(self.clone(), self.stream_info(name).await?))
    }

    /// A stream's information.
    ///
    /// # Errors
    /// A [`StreamError`].
    pub async fn stream_info(&self, name: &str) -> Result<StreamInfo, StreamError> {
        let subject = self.prefix.stream_info(name)?;
        Ok(self.request_retried(subject, &serde_json::json!({})).await?)
    }

    /// Deletes a stream and its messages and consumers.
    ///
    /// # Errors
    /// A [`StreamError`]: [`NotFound`](StreamError::NotFound), ...
    pub async fn delete_stream(&self, name: impl AsRef<str>) -> Result<bool, StreamError> {
        let name = name.as_ref();
        let subject = self.prefix.stream_delete(name)?;
        let response: SuccessResponse = self.request(subject, &serde_json::json!({})).await?;
        Ok(response.success)
    }

    /// The names of every stream, paged from the server as the stream is read.
    pub fn stream_names(&self) -> Paged<String, StreamError> {
        self.stream_names_inner(None)
    }

    /// The names of the streams capturing `subject`.
    pub fn stream_names_by_subject(&self, subject: &str) -> Paged<String, StreamError> {
        self.stream_names_inner(Some(subject.to_owned()))
    }

    fn stream_names_inner(&self, subject: Option<String>) -> Paged<String, StreamError> {
        let context = self.clone();
        paged(move |offset| {
            let context = context.clone();
            let subject = subject.clone();
            async move {
                let page: StreamNamesPage =
                    context.request(context.prefix.stream_names(), &PagedRequest { offset, subject }).await?;
                Ok((page.streams, page.total))
            }
        })
    }

    /// The information of every stream, paged.
    pub fn streams(&self) -> Paged<StreamInfo, StreamError> {
        let context = self.clone();
        paged(move |offset| {
            let context = context.clone();
            async move {
                let page: StreamListPage = context
                    .request(context.prefix.stream_list(), &PagedRequest { offset, subject: None })
                    .await?;
                Ok((page.streams, page.total))
            }
        })
    }

    /// Publishes `payload` to `subject` and returns once it is sent; await the returned
    /// future for the stream's acknowledgement.
    ///
    /// # Errors
    /// A [`PublishError`] when the message cannot be sent (closed, too big, ...).
    pub async fn publish(
        &self,
        subject: impl AsRef<str>,
        payload: Bytes,
    ) -> Result<PublishAckFuture, PublishError> {
        self.send_publish(subject, Publish::new().payload(payload)).await
    }

    /// [`publish`](Self::publish) with headers.
    ///
    /// # Errors
    /// As [`publish`](Self::publish).
    pub async fn publish_with_headers(
        &self,
        subject: impl AsRef<str>,
        headers: HeaderMap,
        payload: Bytes,
    ) -> Result<PublishAckFuture, PublishError> {
        self.send_publish(subject, Publish::new().headers(headers).payload(payload)).await
    }

    /// Publishes a [`Publish`]: payload, headers, de-duplication id and expectations.
    ///
    /// # Errors
    /// As [`publish`](Self::publish), plus [`PublishError::InvalidHeader`].
    pub async fn send_publish(
        &self,
        subject: impl AsRef<str>,
        publish: Publish,
    ) -> Result<PublishAckFuture, PublishError> {
        self.send_publish_timeout(subject.as_ref(), publish, self.timeout)
    }

    /// Publishes a [`Publish`] and waits for its acknowledgement, retrying while the
    /// stream has no leader (an election after a node failure): on no responders or a 503
    /// from the stream, and on a timeout when the message has a
    /// [`message_id`](Publish::message_id) (the stream drops a second copy within its
    /// duplicate window; without an id a timed-out message is not sent again, it may be
    /// stored already). Every attempt sends the same message, id included; waits follow
    /// `retry`, and no attempt starts after `deadline` from now. Each attempt waits for its
    /// ack at most the context's timeout or what is left of the deadline.
    ///
    /// Returns the acknowledgement the stream sent (`duplicate` set when an earlier
    /// attempt had stored the message), never one it did not.
    ///
    /// # Errors
    /// [`PublishError::OutcomeUnknown`] when some attempt may have reached the stream (it
    /// timed out) and none was acknowledged: the message may be stored. Otherwise the last
    /// attempt's [`PublishError`], which then means "not stored".
    pub async fn send_publish_with_retry(
        &self,
        subject: impl AsRef<str>,
        publish: Publish,
        retry: PublishRetry,
        deadline: Duration,
    ) -> Result<PubAck, PublishError> {
        let subject = subject.as_ref();
        let deadline = self.client.deadline(deadline);
        let has_id = publish.expectations.message_id.is_some();
        let mut made = 0;
        // Once an attempt may have reached the stream, no later answer can say "not stored".
        let mut uncertain = false;
        loop {
            made += 1;
            let now = self.client.now();
            let timeout =
                self.timeout.min(deadline.saturating_duration_since(now)).max(Duration::from_millis(1));
            let result = match self.send_publish_timeout(subject, publish.clone(), timeout) {
                Ok(ack) => ack.await,
                Err(e) => Err(e),
            };
            let error = match result {
                Ok(ack) => return Ok(ack),
                Err(e) => e,
            };
            uncertain |= error.may_be_stored();
            let cause = match &error {
                PublishError::NoResponders => Some(RetryCause::NoResponders),
                PublishError::Timeout => Some(RetryCause::Timeout),
                PublishError::Api(e) => RetryCause::from_api_error(e),
                _ => None,
            };
            let next = cause.and_then(|c| retry.next_attempt(c, has_id, made, self.client.now(), deadline));
            match next {
                Some(at) => {
                    self.client.sleep_until(at).await;
                }
                None if uncertain && made > 1 => {
                    return Err(PublishError::OutcomeUnknown { attempts: made, last: Box::new(error) })
                }
                None => return Err(error),
            }
        }
    }

    fn send_publish_timeout(
        &self,
        subject: &str,
        publish: Publish,
        timeout: Duration,
    ) -> Result<PublishAckFuture, PublishError> {
        let Publish { payload, headers, expectations } = publish;
        if expectations.ttl.is_some() {
            self.require([Feature::MessageTtl])?;
        }
        let headers = if expectations.is_empty() {
            headers
        } else {
            let mut headers = headers.unwrap_or_default();
            expectations.apply(&mut headers)?;
            Some(headers)
        };
        let replies =
            self.client.request_many_with(subject, headers.as_ref(), payload, Expected::Count(1), timeout)?;
        Ok(PublishAckFuture { replies })
    }

    /// An atomic batch (servers since 2.12, streams with `allow_atomic_publish`): the
    /// messages [added](AtomicBatch::add) are stored together when the last one
    /// [commits](AtomicBatch::commit) the batch, or none of them.
    pub fn atomic_batch(&self) -> AtomicBatch {
        AtomicBatch::new(self.clone())
    }

    /// An asynchronous publisher keeping at most `window` acknowledgements outstanding.
    pub fn publisher(&self, window: usize) -> Publisher {
        Publisher::new(self.clone(), window)
    }
}

/// A message to publish to a stream, with its expectations.
///
/// ```
/// use nats_jetstream::Publish;
///
/// let publish = Publish::new()
///     .payload("order 17".into())
///     .message_id("order-17")
///     .expected_stream("ORDERS")
///     .expected_last_subject_sequence(16);
/// # let _ = publish;
/// ```
#[derive(Debug, Clone, Default)]
pub struct Publish {
    pub(crate) payload: Bytes,
    pub(crate) headers: Option<HeaderMap>,
    pub(crate) expectations: PublishExpectations,
}

impl Publish {
    /// An empty message.
    pub fn new() -> Self {
        Self::default()
    }

    /// The payload.
    #[must_use]
    pub fn payload(mut self, payload: Bytes) -> Self {
        self.payload = payload;
        self
    }

    /// Headers (the expectation headers are added to them).
    #[must_use]
    pub fn headers(mut self, headers: HeaderMap) -> Self {
        self.headers = Some(headers);
        self
    }

    /// `Nats-Msg-Id`: the stream stores one message per id within its duplicate window.
    #[must_use]
    pub fn message_id(mut self, id: impl Into<String>) -> Self {
        self.expectations.message_id = Some(id.into());
        self
    }

    /// `Nats-Expected-Stream`: refused unless this stream captures the subject.
    #[must_use]
    pub fn expected_stream(mut self, stream: impl Into<String>) -> Self {
        self.expectations.expected_stream = Some(stream.into());
        self
    }

    /// `Nats-Expected-Last-Sequence`: refused unless the stream's last sequence is this.
    #[must_use]
    pub fn expected_last_sequence(mut self, sequence: u64) -> Self {
        self.expectations.expected_last_sequence = Some(sequence);
        self
    }

    /// `Nats-Expected-Last-Subject-Sequence`: refused unless the last message on this
    /// subject has this sequence (0: no message on the subject yet).
    #[must_use]
    pub fn expected_last_subject_sequence(mut self, sequence: u64) -> Self {
        self.expectations.expected_last_subject_sequence = Some(sequence);
        self
    }

    /// `Nats-Expected-Last-Msg-Id`: refused unless the stream's last message had this id.
    #[must_use]
    pub fn expected_last_message_id(mut self, id: impl Into<String>) -> Self {
        self.expectations.expected_last_message_id = Some(id.into());
        self
    }

    /// With [`expected_last_subject_sequence`](Self::expected_last_subject_sequence): the
    /// subject (wildcards allowed) whose last message is checked, instead of the one
    /// published to (servers since 2.11).
    #[must_use]
    pub fn expected_last_subject_sequence_subject(mut self, subject: impl Into<String>) -> Self {
        self.expectations.expected_last_subject_sequence_subject = Some(subject.into());
        self
    }

    /// `Nats-TTL`: the stream removes this message `ttl` after storing it (whole seconds,
    /// at least one). The stream must allow it (`allow_message_ttl`; servers since 2.11),
    /// else the publish fails with [`ErrorCode::MESSAGE_TTL_DISABLED`](crate::ErrorCode).
    /// A stream with subject delete markers raises a shorter TTL to the markers' own,
    /// unless it keeps one message per subject.
    #[must_use]
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.expectations.ttl = Some(MessageTtl::After(ttl));
        self
    }

    /// `Nats-TTL: never`: the stream's age limit does not remove this message.
    #[must_use]
    pub fn never_expires(mut self) -> Self {
        self.expectations.ttl = Some(MessageTtl::Never);
        self
    }
}

/// The acknowledgement of a published message, to await. Dropping it forgets the
/// acknowledgement (the message is still published).
#[must_use = "the acknowledgement says whether the stream stored the message"]
#[derive(Debug)]
pub struct PublishAckFuture {
    replies: Replies,
}

impl Future for PublishAckFuture {
    type Output = Result<PubAck, PublishError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        match Pin::new(&mut self.replies).poll_next(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Some(reply)) => {
                if reply.headers.as_ref().and_then(|h| h.status()).is_some_and(|s| s.as_u16() == 503) {
                    return Poll::Ready(Err(PublishError::NoResponders));
                }
                Poll::Ready(parse_pub_ack(&reply.payload).map_err(PublishError::from))
            }
            Poll::Ready(None) => {
                Poll::Ready(Err(self.replies.error().unwrap_or(RequestError::Timeout).into()))
            }
        }
    }
}
