//! A stream handle: information, purge, direct message access, and its consumers.

use bytes::Bytes;
use data_encoding::BASE64;
use nats_client::HeaderMap;

use crate::consumer::Consumer;
use crate::context::Context;
use crate::direct::{self, DirectBatch};
use crate::error::{ConsumerError, StreamError};
use crate::ordered::{OrderedConfig, OrderedConsumer};
use crate::paged::{paged, Paged};
use crate::proto::{
    ConsumerAction, ConsumerConfig, ConsumerInfo, ConsumerListPage, ConsumerNamesPage, CreateConsumerRequest,
    DirectGetRequest, DirectMessage, Feature, MessageDeleteRequest, MessageGetRequest, MessageGetResponse,
    PagedRequest, PauseRequest, PauseResponse, PurgeRequest, PurgeResponse, StreamInfo, StreamInfoRequest,
    SuccessResponse,
};
use crate::push::PushConsumer;

/// A stream. Its information is cached from when the handle was made; [`info`](Self::info)
/// refreshes it.
#[derive(Debug, Clone)]
pub struct Stream {
    context: Context,
    info: StreamInfo,
}

/// A message read from a stream by sequence or subject.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct StreamMessage {
    /// The subject.
    pub subject: String,
    /// The stream sequence.
    pub sequence: u64,
    /// The headers, if any.
    pub headers: Option<HeaderMap>,
    /// The payload.
    pub payload: Bytes,
    /// When stored (RFC 3339).
    pub time: String,
}

impl From<DirectMessage> for StreamMessage {
    fn from(m: DirectMessage) -> Self {
        Self {
            subject: m.subject,
            sequence: m.sequence,
            headers: m.headers,
            payload: m.payload,
            time: m.time,
        }
    }
}

impl Stream {
    pub(crate) fn new(context: Context, info: StreamInfo) -> Self {
        Self { context, info }
    }

    /// A handle on the stream `name` without asking the server (its cached information is
    /// empty but for the name): for streams known to exist, or to get at their consumers
    /// without a round trip.
    pub fn unchecked(context: Context, name: impl Into<String>) -> Self {
        let mut info = StreamInfo::default();
        info.config.name = name.into();
        Self { context, info }
    }

    /// The name.
    pub fn name(&self) -> &str {
        &self.info.config.name
    }

    /// The information cached in this handle.
    pub fn cached_info(&self) -> &StreamInfo {
        &self.info
    }

    /// Fetches fresh information (and caches it).
    ///
    /// # Errors
    /// A [`StreamError`].
    pub async fn info(&mut self) -> Result<&StreamInfo, StreamError> {
        self.info = self.context.stream_info(&self.info.config.name).await?;
        Ok(&self.info)
    }

    /// Information with details: the deleted sequences, and the message count of each
    /// subject matching a filter (every page of it: the server sends large subject maps in
    /// pages). Not cached.
    ///
    /// # Errors
    /// A [`StreamError`].
    pub async fn info_with(&self, mut request: StreamInfoRequest) -> Result<StreamInfo, StreamError> {
        let subject = self.context.prefix.stream_info(self.name())?;
        let mut info: StreamInfo = self.context.request_retried(subject.clone(), &request).await?;
        if request.subjects_filter.is_none() {
            return Ok(info);
        }
        // A page holds at most the server's limit of subjects (100 000); `total` counts
        // them all.
        while (info.state.subjects.len() as u64) < info.total {
            request.offset = info.state.subjects.len() as u64;
            let page: StreamInfo = self.context.request_retried(subject.clone(), &request).await?;
            if page.state.subjects.is_empty() {
                break;
            }
            info.state.subjects.extend(page.state.subjects);
        }
        Ok(info)
    }

    /// Removes every message; returns how many.
    ///
    /// # Errors
    /// A [`StreamError`].
    pub async fn purge(&self) -> Result<u64, StreamError> {
        self.purge_with(PurgeRequest::default()).await
    }

    /// Removes the messages on `filter` (a subject, wildcards allowed), keeping the newest
    /// `keep` when given; returns how many were removed.
    ///
    /// # Errors
    /// A [`StreamError`].
    pub async fn purge_subject(&self, filter: &str, keep: Option<u64>) -> Result<u64, StreamError> {
        self.purge_with(PurgeRequest { filter: Some(filter.to_owned()), keep, seq: None }).await
    }

    /// A purge with every option (filter, up-to sequence, keep).
    ///
    /// # Errors
    /// A [`StreamError`].
    pub async fn purge_with(&self, request: PurgeRequest) -> Result<u64, StreamError> {
        let subject = self.context.prefix.stream_purge(self.name())?;
        let response: PurgeResponse = self.context.request(subject, &request).await?;
        Ok(response.purged)
    }

    /// The message with stream sequence `sequence`: by direct get when the stream allows
    /// it (any replica answers), else from the stream leader.
    ///
    /// # Errors
    /// A [`StreamError`]: [`MessageNotFound`](StreamError::MessageNotFound), ...
    pub async fn get_raw_message(&self, sequence: u64) -> Result<StreamMessage, StreamError> {
        if self.reads_direct() {
            return Ok(self.direct_get(DirectGetRequest::sequence(sequence)).await?.into());
        }
        self.get_message(MessageGetRequest::Sequence { seq: sequence }).await
    }

    /// The last message on `subject`: by direct get when the stream allows it, else from
    /// the stream leader.
    ///
    /// # Errors
    /// A [`StreamError`]: [`MessageNotFound`](StreamError::MessageNotFound), ...
    pub async fn get_last_raw_message_by_subject(&self, subject: &str) -> Result<StreamMessage, StreamError> {
        if self.reads_direct() {
            return Ok(self.direct_get(DirectGetRequest::last_by_subject(subject)).await?.into());
        }
        self.get_message(MessageGetRequest::LastBySubject { last_by_subj: subject.to_owned() }).await
    }

    /// Whether reads use direct get: the stream allows it (as this handle's information
    /// says).
    pub fn reads_direct(&self) -> bool {
        self.info.config.allow_direct
    }

    /// One message by direct get (the stream must allow it: `allow_direct`). The request
    /// must not be a batch.
    ///
    /// # Errors
    /// A [`StreamError`]: [`MessageNotFound`](StreamError::MessageNotFound);
    /// [`NotFound`](StreamError::NotFound) when nobody answers (no such stream, or no
    /// direct get), ...
    pub async fn direct_get(&self, request: DirectGetRequest) -> Result<DirectMessage, StreamError> {
        direct::get_one(&self.context, self.name(), &request).await
    }

    /// Several messages by one direct get (servers since 2.11): `batch` messages from a
    /// sequence, on a subject filter, or the last message of each subject matching
    /// [`multi_last`](DirectGetRequest::multi_last) filters.
    ///
    /// ```no_run
    /// # async fn demo(stream: nats_jetstream::Stream) -> Result<(), nats_jetstream::StreamError> {
    /// use futures_util::StreamExt;
    /// use nats_jetstream::proto::DirectGetRequest;
    ///
    /// let mut batch = stream.direct_get_batch(DirectGetRequest::next_by_subject("orders.>", 1).batch(100))?;
    /// while let Some(message) = batch.next().await {
    ///     let message = message?;
    ///     println!("{} {}", message.sequence, message.subject);
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// A [`StreamError`] when the request cannot be made; each item may be one too.
    pub fn direct_get_batch(&self, request: DirectGetRequest) -> Result<DirectBatch, StreamError> {
        direct::get_batch(&self.context, self.name(), &request)
    }

    async fn get_message(&self, request: MessageGetRequest) -> Result<StreamMessage, StreamError> {
        let subject = self.context.prefix.stream_msg_get(self.name())?;
        // A read: safe to repeat while the stream elects a leader.
        let response: MessageGetResponse = self.context.request_retried(subject, &request).await?;
        let raw = response.message;
        let decode = |text: &Option<String>| -> Result<Bytes, StreamError> {
            match text {
                None => Ok(Bytes::new()),
                Some(t) => BASE64
                    .decode(t.as_bytes())
                    .map(Bytes::from)
                    .map_err(|e| StreamError::Decode(format!("base64: {e}"))),
            }
        };
        let payload = decode(&raw.data)?;
        let headers = match &raw.hdrs {
            None => None,
            Some(_) => Some(
                HeaderMap::decode(&decode(&raw.hdrs)?)
                    .map_err(|e| StreamError::Decode(format!("headers: {e}")))?,
            ),
        };
        Ok(StreamMessage { subject: raw.subject, sequence: raw.seq, headers, payload, time: raw.time })
    }

    /// Deletes the message with stream sequence `sequence`: it is no longer readable, its
    /// bytes may stay on disk until compaction (fast).
    ///
    /// # Errors
    /// A [`StreamError`].
    pub async fn delete_message(&self, sequence: u64) -> Result<bool, StreamError> {
        self.remove_message(MessageDeleteRequest { seq: sequence, no_erase: true }).await
    }

    /// Deletes the message with stream sequence `sequence` and overwrites its bytes in
    /// storage (secure erase; slower).
    ///
    /// # Errors
    /// A [`StreamError`].
    pub async fn erase_message(&self, sequence: u64) -> Result<bool, StreamError> {
        self.remove_message(MessageDeleteRequest { seq: sequence, no_erase: false }).await
    }

    async fn remove_message(&self, request: MessageDeleteRequest) -> Result<bool, StreamError> {
        let subject = self.context.prefix.stream_msg_delete(self.name())?;
        let response: SuccessResponse = self.context.request(subject, &request).await?;
        Ok(response.success)
    }

    /// Creates a pull consumer (durable when `config.durable_name` is set, else ephemeral),
    /// or updates the one of that name to `config`.
    ///
    /// # Errors
    /// A [`ConsumerError`].
    pub async fn create_consumer(&self, config: ConsumerConfig) -> Result<Consumer, ConsumerError> {
        self.create_consumer_with(config, ConsumerAction::CreateOrUpdate).await
    }

    /// Creates a push consumer (durable when `config.durable_name` is set): the server
    /// delivers to `config.deliver_subject`, a fresh inbox when unset. Subscribe with
    /// [`PushConsumer::messages`].
    ///
    /// # Errors
    /// A [`ConsumerError`].
    pub async fn create_push_consumer(
        &self,
        mut config: ConsumerConfig,
    ) -> Result<PushConsumer, ConsumerError> {
        if config.deliver_subject.is_none() {
            config.deliver_subject = Some(self.context.client.new_inbox());
        }
        let info =
            create_consumer(&self.context, self.name(), &config, ConsumerAction::CreateOrUpdate).await?;
        Ok(PushConsumer::new(self.context.clone(), info))
    }

    /// A handle on an existing push consumer.
    ///
    /// # Errors
    /// A [`ConsumerError`]: [`NotFound`](ConsumerError::NotFound), ...
    pub async fn get_push_consumer(&self, name: &str) -> Result<PushConsumer, ConsumerError> {
        Ok(PushConsumer::new(self.context.clone(), self.consumer_info(name).await?))
    }

    /// Creates a consumer, failing with [`ConsumerError::AlreadyExists`] if one of that name
    /// exists with another configuration (servers since 2.10; older ones update it).
    ///
    /// # Errors
    /// A [`ConsumerError`].
    pub async fn create_consumer_strict(&self, config: ConsumerConfig) -> Result<Consumer, ConsumerError> {
        self.create_consumer_with(config, ConsumerAction::Create).await
    }

    /// Updates a consumer to `config`, failing with [`ConsumerError::NotFound`] if there
    /// is none of that name (servers since 2.10; older ones create it).
    ///
    /// # Errors
    /// A [`ConsumerError`].
    pub async fn update_consumer(&self, config: ConsumerConfig) -> Result<Consumer, ConsumerError> {
        self.create_consumer_with(config, ConsumerAction::Update).await
    }

    /// A consumer create request with an explicit [`ConsumerAction`].
    ///
    /// # Errors
    /// A [`ConsumerError`].
    pub async fn create_consumer_with(
        &self,
        config: ConsumerConfig,
        action: ConsumerAction,
    ) -> Result<Consumer, ConsumerError> {
        let info = create_consumer(&self.context, self.name(), &config, action).await?;
        Ok(Consumer::new(self.context.clone(), info))
    }

    /// Pauses a consumer until `until` (RFC 3339): it delivers nothing meanwhile, its pull
    /// requests wait (servers since 2.11).
    ///
    /// # Errors
    /// A [`ConsumerError`].
    pub async fn pause_consumer(&self, name: &str, until: &str) -> Result<PauseResponse, ConsumerError> {
        self.pause_request(name, PauseRequest { pause_until: Some(until.to_owned()) }).await
    }

    /// Resumes a paused consumer.
    ///
    /// # Errors
    /// A [`ConsumerError`].
    pub async fn resume_consumer(&self, name: &str) -> Result<PauseResponse, ConsumerError> {
        self.pause_request(name, PauseRequest { pause_until: None }).await
    }

    async fn pause_request(&self, name: &str, request: PauseRequest) -> Result<PauseResponse, ConsumerError> {
        let subject = self.context.prefix.consumer_pause(self.name(), name)?;
        self.context.require([Feature::ConsumerPause])?;
        Ok(self.context.request(subject, &request).await?)
    }

    /// A handle on an existing consumer.
    ///
    /// # Errors
    /// A [`ConsumerError`]: [`NotFound`](ConsumerError::NotFound), ...
    pub async fn get_consumer(&self, name: &str) -> Result<Consumer, ConsumerError> {
        Ok(Consumer::new(self.context.clone(), self.consumer_info(name).await?))
    }

    /// The consumer `name`, created with `config` (its name set to `name`) when missing.
    ///
    /// # Errors
    /// A [`ConsumerError`].
    pub async fn get_or_create_consumer(
        &self,
        name: &str,
        mut config: ConsumerConfig,
    ) -> Result<Consumer, ConsumerError> {
        match self.get_consumer(name).await {
            Err(ConsumerError::NotFound(_)) => {
                if config.durable_name.is_none() {
                    config.name = Some(name.to_owned());
                }
                self.create_consumer(config).await
            }
            other => other,
        }
    }

    /// A consumer's information.
    ///
    /// # Errors
    /// A [`ConsumerError`].
    pub async fn consumer_info(&self, name: &str) -> Result<ConsumerInfo, ConsumerError> {
        let subject = self.context.prefix.consumer_info(self.name(), name)?;
        Ok(self.context.request_retried(subject, &serde_json::json!({})).await?)
    }

    /// Deletes a consumer.
    ///
    /// # Errors
    /// A [`ConsumerError`]: [`NotFound`](ConsumerError::NotFound), ...
    pub async fn delete_consumer(&self, name: &str) -> Result<bool, ConsumerError> {
        let subject = self.context.prefix.consumer_delete(self.name(), name)?;
        let response: SuccessResponse = self.context.request(subject, &serde_json::json!({})).await?;
        Ok(response.success)
    }

    /// The names of the stream's consumers, paged.
    pub fn consumer_names(&self) -> Paged<String, ConsumerError> {
        let context = self.context.clone();
        let stream = self.name().to_owned();
        paged(move |offset| {
            let context = context.clone();
            let stream = stream.clone();
            async move {
                let subject = context.prefix.consumer_names(&stream)?;
                let page: ConsumerNamesPage =
                    context.request(subject, &PagedRequest { offset, subject: None }).await?;
                Ok((page.consumers, page.total))
            }
        })
    }

    /// The information of the stream's consumers, paged.
    pub fn consumers(&self) -> Paged<ConsumerInfo, ConsumerError> {
        let context = self.context.clone();
        let stream = self.name().to_owned();
        paged(move |offset| {
            let context = context.clone();
            let stream = stream.clone();
            async move {
                let subject = context.prefix.consumer_list(&stream)?;
                let page: ConsumerListPage =
                    context.request(subject, &PagedRequest { offset, subject: None }).await?;
                Ok((page.consumers, page.total))
            }
        })
    }

    /// An ordered consumer: every message once and in order, recreated after gaps,
    /// missed heartbeats, a deleted consumer or a server restart. Its consumer is created
    /// when its messages are first read.
    pub fn ordered_consumer(&self, config: OrderedConfig) -> OrderedConsumer {
        OrderedConsumer::new(self.context.clone(), self.name().to_owned(), config, false)
    }

    /// An ordered push consumer: as [`ordered_consumer`](Self::ordered_consumer), but the
    /// server pushes the messages (with flow control and idle heartbeats) instead of
    /// answering pull requests; what an async-nats or nats.go ordered push consumer does.
    pub fn ordered_push_consumer(&self, config: OrderedConfig) -> OrderedConsumer {
        OrderedConsumer::new(self.context.clone(), self.name().to_owned(), config, true)
    }
}

/// `CONSUMER.CREATE` for `config` on `stream`.
pub(crate) async fn create_consumer(
    context: &Context,
    stream: &str,
    config: &ConsumerConfig,
    action: ConsumerAction,
) -> Result<ConsumerInfo, ConsumerError> {
    let subject = context.prefix.consumer_create(stream, config.consumer_name())?;
    let mut features = config.features();
    if action != ConsumerAction::CreateOrUpdate {
        features.push(Feature::ConsumerActions);
    }
    context.require(features)?;
    let request = CreateConsumerRequest { stream_name: stream, config, action };
    Ok(context.request_retried(subject, &request).await?)
}
