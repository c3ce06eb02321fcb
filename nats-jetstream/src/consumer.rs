//! Pull consumers: fetch a batch, the next message, or a continuous stream of messages.
//! The bookkeeping is [`PullTracker`](crate::proto::PullTracker)'s; this module only moves
//! messages and waits.

use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;

use nats_client::Instant;

use futures_core::Stream as FuturesStream;
use futures_util::future::{select, Either};
use futures_util::stream::unfold;
use futures_util::{FutureExt, StreamExt};
use nats_client::{Client, HeaderMap, Sleep, Subscriber};

use crate::context::Context;
use crate::error::{ConsumerError, FetchError};
use crate::message::Message;
use crate::proto::{
    ConsumerInfo, Feature, PriorityRequest, PullFailure, PullMode, PullOptions, PullTimeout, PullTracker,
    StatusAction, SuccessResponse, LAST_CONSUMER, PENDING_BYTES, PENDING_MESSAGES, PIN_ID,
};

/// The default heartbeat of [`Consumer::messages`].
pub const DEFAULT_HEARTBEAT: Duration = Duration::from_secs(15);

/// A pull consumer.
#[derive(Debug, Clone)]
pub struct Consumer {
    context: Context,
    info: ConsumerInfo,
    /// The pin of a pinned-client priority group, shared by this handle's clones: a fetch
    /// carries the pin an earlier one was given.
    pin: SharedPin,
}

/// A pin shared between a consumer handle and its pulls.
type SharedPin = Arc<Mutex<Option<String>>>;

impl Consumer {
    pub(crate) fn new(context: Context, info: ConsumerInfo) -> Self {
        Self { context, info, pin: SharedPin::default() }
    }

    /// The pin the server gave this client in a pinned-client priority group, if any.
    pub fn pin_id(&self) -> Option<String> {
        self.pin.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Asks the server to unpin whichever client holds the pin of `group` (servers since
    /// 2.11): the next pull request of the group is pinned instead.
    ///
    /// # Errors
    /// A [`ConsumerError`].
    pub async fn unpin(&self, group: &str) -> Result<(), ConsumerError> {
        let subject = self.context.prefix.consumer_unpin(self.stream_name(), self.name())?;
        self.context.require([Feature::PriorityGroups])?;
        let _: SuccessResponse =
            self.context.request(subject, &serde_json::json!({ "group": group })).await?;
        Ok(())
    }

    /// The consumer's name.
    pub fn name(&self) -> &str {
        &self.info.name
    }

    /// The stream's name.
    pub fn stream_name(&self) -> &str {
        &self.info.stream_name
    }

    /// The information cached in this handle.
    pub fn cached_info(&self) -> &ConsumerInfo {
        &self.info
    }

    /// Fetches fresh information (and caches it).
    ///
    /// # Errors
    /// A [`ConsumerError`].
    pub async fn info(&mut self) -> Result<&ConsumerInfo, ConsumerError> {
        let subject = self.context.prefix.consumer_info(&self.info.stream_name, &self.info.name)?;
        self.info = self.context.request_retried(subject, &serde_json::json!({})).await?;
        Ok(&self.info)
    }

    /// A fetch: one pull request; the batch ends when `options.batch` messages (or
    /// `max_bytes`) arrived, the request expired, or (with `no_wait`) nothing more was
    /// pending.
    ///
    /// # Errors
    /// A [`FetchError`] when the request cannot be sent.
    pub async fn fetch(&self, options: PullOptions) -> Result<Batch, FetchError> {
        let pull = PullState::start(
            &self.context,
            self.stream_name(),
            self.name(),
            PullMode::Fetch,
            options,
            Some(self.pin.clone()),
        )
        .await?;
        Ok(Batch { inner: pull.into_stream() })
    }

    /// Up to `max_messages` messages, waiting at most `expires` for them.
    ///
    /// # Errors
    /// A [`FetchError`] when the request cannot be sent.
    pub async fn fetch_messages(&self, max_messages: usize, expires: Duration) -> Result<Batch, FetchError> {
        self.fetch(PullOptions::default().batch(max_messages).expires(expires)).await
    }

    /// The next message, waiting up to the context's timeout; `None` when none came.
    ///
    /// # Errors
    /// A [`FetchError`].
    pub async fn next(&self) -> Result<Option<Message>, FetchError> {
        let mut batch = self.fetch(PullOptions::default().batch(1).expires(self.context.timeout)).await?;
        batch.next().await.transpose()
    }

    /// A continuous stream of messages: pulls in batches of 500 (topped up when half is
    /// used), requests expiring after 30 s, heartbeats every 15 s; pulls again after missed
    /// heartbeats (a server restart, say).
    ///
    /// # Errors
    /// A [`FetchError`] when the first request cannot be sent.
    pub async fn messages(&self) -> Result<Messages, FetchError> {
        self.messages_with(PullOptions::default().heartbeat(DEFAULT_HEARTBEAT)).await
    }

    /// [`messages`](Self::messages) with other batch, bytes, expiry and heartbeat settings.
    ///
    /// # Errors
    /// A [`FetchError`] when the first request cannot be sent.
    pub async fn messages_with(&self, options: PullOptions) -> Result<Messages, FetchError> {
        let pull = PullState::start(
            &self.context,
            self.stream_name(),
            self.name(),
            PullMode::Continuous,
            options,
            Some(self.pin.clone()),
        )
        .await?;
        Ok(Messages { inner: pull.into_stream() })
    }
}

type BoxedMessages = Pin<Box<dyn FuturesStream<Item = Result<Message, FetchError>> + Send>>;

/// The messages of one fetch. Ends after the last; an error item ends it too.
#[must_use = "streams do nothing unless polled"]
pub struct Batch {
    inner: BoxedMessages,
}

/// A continuous stream of a consumer's messages. Rides through what passes: a new consumer
/// leader (409 Leadership Change), pull requests that reach nobody during its election
/// (503, retried after a backoff), missed heartbeats (a new request), a disconnection.
/// Ends only after an error item for what does not pass: the consumer deleted, the
/// connection closed, a request the server refuses (limits, a push consumer). A 503 looks
/// the same whether the consumer's leader is being elected or the consumer is gone without
/// a word (deleted while this client was disconnected): either way the stream keeps
/// asking, every 2 s at most; [`Consumer::info`] tells which.
#[must_use = "streams do nothing unless polled"]
pub struct Messages {
    inner: BoxedMessages,
}

macro_rules! delegate_stream {
    ($name:ident) => {
        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($name)).finish_non_exhaustive()
            }
        }

        impl FuturesStream for $name {
            type Item = Result<Message, FetchError>;

            fn poll_next(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Option<Self::Item>> {
                self.inner.as_mut().poll_next(cx)
            }
        }
    };
}

delegate_stream!(Batch);
delegate_stream!(Messages);

/// What happened on a pull subscription.
pub(crate) enum PullEvent {
    Message(Message),
    /// The subscription cannot go on (or, for a fetch, missed heartbeats).
    Failed(FetchError),
    /// Missed heartbeats on a continuous pull: a new request was sent.
    MissedHeartbeats,
    /// A continuous pull's request reached nobody (503) or could not be sent: the next
    /// goes out after a backoff.
    Unavailable,
    /// An idle heartbeat with the consumer's last delivered consumer sequence.
    Heartbeat {
        last_consumer_sequence: u64,
    },
    /// A fetch is over.
    Done,
}

/// One pull subscription: the inbox, the tracker, the timer.
pub(crate) struct PullState {
    client: Client,
    timeout: Duration,
    subscriber: Subscriber,
    inbox: String,
    next_subject: String,
    tracker: PullTracker,
    timer: Option<(Instant, Sleep)>,
    ended: bool,
    /// Where the pin of a pinned-client group is kept between pulls of a consumer handle.
    pin: Option<SharedPin>,
}

impl PullState {
    pub(crate) async fn start(
        context: &Context,
        stream: &str,
        consumer: &str,
        mode: PullMode,
        options: PullOptions,
        pin: Option<SharedPin>,
    ) -> Result<Self, FetchError> {
        if options.priority != PriorityRequest::default() {
            context.require([Feature::PriorityGroups])?;
        }
        if options.priority.priority > 0 {
            context.require([Feature::PrioritizedPolicy])?;
        }
        let next_subject =
            context.prefix.consumer_next(stream, consumer).map_err(|e| FetchError::Pull(e.to_string()))?;
        let client = context.client.clone();
        let inbox = client.new_inbox();
        let subscriber = client.subscribe(&inbox).await.map_err(|e| FetchError::Pull(e.to_string()))?;
        let mut tracker = PullTracker::new(mode, options, client.now());
        if let Some(pin) = &pin {
            tracker.set_pin_id(pin.lock().unwrap_or_else(PoisonError::into_inner).clone());
        }
        let mut state = Self {
            client,
            timeout: context.timeout,
            subscriber,
            inbox,
            next_subject,
            tracker,
            timer: None,
            ended: false,
            pin,
        };
        if !state.send_requests().await? && state.tracker.is_done() {
            return Err(FetchError::Pull("cannot send the pull request: reconnect buffer full".into()));
        }
        Ok(state)
    }

    /// Keeps the tracker's pin for the consumer handle's next pulls.
    fn keep_pin(&self) {
        if let Some(pin) = &self.pin {
            let mut kept = pin.lock().unwrap_or_else(PoisonError::into_inner);
            if kept.as_deref() != self.tracker.pin_id() {
                *kept = self.tracker.pin_id().map(str::to_owned);
            }
        }
    }

    /// Sends the requests due. `Ok(false)`: one could not be sent for a passing reason
    /// (disconnected with a full reconnect buffer) and the tracker backs off.
    async fn send_requests(&mut self) -> Result<bool, FetchError> {
        while let Some(request) = self.tracker.poll_request(self.client.now()) {
            match self
                .client
                .publish_with_reply(&self.next_subject, &self.inbox, request.to_json().into())
                .await
            {
                Ok(()) => {}
                Err(nats_client::PublishError::Closed) => return Err(FetchError::Closed),
                Err(nats_client::PublishError::ReconnectBufferFull { .. }) => {
                    self.tracker.handle_send_failure(self.client.now());
                    return Ok(false);
                }
                Err(e) => return Err(FetchError::Pull(e.to_string())),
            }
        }
        Ok(true)
    }

    fn into_stream(self) -> BoxedMessages {
        Box::pin(unfold(self, |mut state| async move {
            loop {
                match state.next_event().await? {
                    PullEvent::Message(m) => return Some((Ok(m), state)),
                    PullEvent::Failed(e) => return Some((Err(e), state)),
                    PullEvent::MissedHeartbeats | PullEvent::Unavailable | PullEvent::Heartbeat { .. } => {}
                    PullEvent::Done => return None,
                }
            }
        }))
    }

    /// The next event; `None` once ended.
    pub(crate) async fn next_event(&mut self) -> Option<PullEvent> {
        loop {
            if self.ended {
                return None;
            }
            match self.send_requests().await {
                Ok(true) => {}
                Ok(false) if !self.tracker.is_done() => return Some(PullEvent::Unavailable),
                Ok(false) => {
                    self.ended = true;
                    return Some(PullEvent::Failed(FetchError::Pull("cannot send the pull request".into())));
                }
                Err(e) => {
                    self.ended = true;
                    return Some(PullEvent::Failed(e));
                }
            }
            if self.tracker.is_done() {
                self.ended = true;
                // Ended already (closed connection) is fine: the pull is done either way.
                let _ = self.subscriber.unsubscribe().into_inner();
                return Some(PullEvent::Done);
            }
            // The hot path: a message already queued needs no timer.
            let msg = match self.subscriber.next().now_or_never() {
                Some(msg) => msg,
                None => match self.tracker.poll_timeout() {
                    None => self.subscriber.next().await,
                    Some(deadline) => {
                        if self.timer.as_ref().is_none_or(|(at, _)| *at > deadline) {
                            self.timer = Some((deadline, self.client.sleep_until(deadline)));
                        }
                        let (_, sleep) = self.timer.as_mut().expect("armed above");
                        match select(self.subscriber.next(), sleep).await {
                            Either::Left((msg, _)) => msg,
                            Either::Right(((), _)) => {
                                self.timer = None;
                                match self.tracker.handle_timeout(self.client.now()) {
                                    None => continue,
                                    Some(PullTimeout::FetchExpired) => continue,
                                    Some(PullTimeout::Expired) => continue,
                                    Some(PullTimeout::MissedHeartbeats) if self.tracker.is_done() => {
                                        self.ended = true;
                                        return Some(PullEvent::Failed(PullFailure::MissedHeartbeats.into()));
                                    }
                                    Some(PullTimeout::MissedHeartbeats) => {
                                        return Some(PullEvent::MissedHeartbeats)
                                    }
                                }
                            }
                        }
                    }
                },
            };
            let Some(msg) = msg else {
                self.ended = true;
                return Some(PullEvent::Failed(FetchError::Closed));
            };
            let now = self.client.now();
            if let Some(status) = msg.headers.as_deref().and_then(HeaderMap::status) {
                let headers = msg.headers.as_deref().expect("a status comes with headers");
                let description = headers.description().map_or("", |d| d.as_str());
                let number =
                    |name: &str| headers.get(name).and_then(|v| v.as_str().trim().parse::<usize>().ok());
                let action = self.tracker.handle_status(
                    now,
                    status.as_u16(),
                    description,
                    number(PENDING_MESSAGES),
                    number(PENDING_BYTES),
                );
                self.keep_pin();
                match action {
                    StatusAction::Terminal(failure) => {
                        self.ended = true;
                        return Some(PullEvent::Failed(failure.into()));
                    }
                    StatusAction::Backoff => return Some(PullEvent::Unavailable),
                    _ => {}
                }
                if status.as_u16() == 100 {
                    if let Some(last) =
                        headers.get(LAST_CONSUMER).and_then(|v| v.as_str().trim().parse().ok())
                    {
                        return Some(PullEvent::Heartbeat { last_consumer_sequence: last });
                    }
                }
                continue;
            }
            if let Some(pin) = msg.headers.as_deref().and_then(|h| h.get(PIN_ID)) {
                self.tracker.handle_pin_id(pin.as_str());
                self.keep_pin();
            }
            let size = msg.payload.len() + msg.headers.as_deref().map_or(0, HeaderMap::encoded_len);
            self.tracker.handle_message(now, size);
            return Some(PullEvent::Message(Message::new(msg, self.client.clone(), self.timeout)));
        }
    }
}
