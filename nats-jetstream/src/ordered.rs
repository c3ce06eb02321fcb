//! The ordered consumer: an ephemeral, unacknowledged pull consumer that this client
//! recreates whenever it cannot vouch for order (a gap in consumer sequences, missed
//! heartbeats, the consumer deleted, the server restarted), starting just after the last
//! stream sequence delivered. The decisions are [`OrderedTracker`]'s.

use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;

use futures_core::Stream as FuturesStream;
use futures_util::stream::unfold;

use crate::consumer::{PullEvent, PullState};
use crate::context::Context;
use crate::error::{ConsumerError, FetchError};
use crate::message::Message;
use crate::proto::{
    ConsumerAction, ConsumerConfig, DeliverPolicy, OrderedTracker, OrderedVerdict, PullMode, PullOptions,
    RetryCause,
};
use crate::push::PushState;
use crate::stream::create_consumer;

/// How an ordered consumer reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderedConfig {
    /// Only messages on this subject.
    pub filter_subject: Option<String>,
    /// Where the first consumer starts.
    pub deliver_policy: DeliverPolicy,
    /// Messages per pull request. The default, [`DEFAULT_BATCH`](crate::DEFAULT_BATCH), is lowered to the
    /// client's [`subscription_capacity`](nats_client::Client::subscription_capacity)
    /// when that is smaller (past it the client drops the rest of a batch, and the
    /// consumer notices only at its next heartbeat); a batch set explicitly is used as it
    /// is.
    pub batch: usize,
    /// Idle heartbeat interval; two missed ones reset the consumer.
    pub heartbeat: Duration,
    /// Lifetime of each pull request.
    pub expires: Duration,
    /// Only messages on these subjects (instead of `filter_subject`; servers since 2.10).
    pub filter_subjects: Vec<String>,
    /// Headers only (with `Nats-Msg-Size`), no payloads.
    pub headers_only: bool,
}

/// The default [`OrderedConfig::batch`].
pub const DEFAULT_BATCH: usize = 500;

impl Default for OrderedConfig {
    fn default() -> Self {
        Self {
            filter_subject: None,
            deliver_policy: DeliverPolicy::All,
            batch: DEFAULT_BATCH,
            heartbeat: Duration::from_secs(5),
            expires: Duration::from_secs(30),
            filter_subjects: Vec::new(),
            headers_only: false,
        }
    }
}

impl OrderedConfig {
    /// With a subject filter.
    #[must_use]
    pub fn filter_subject(mut self, subject: impl Into<String>) -> Self {
        self.filter_subject = Some(subject.into());
        self
    }

    /// With several subject filters.
    #[must_use]
    pub fn filter_subjects<I: IntoIterator<Item = S>, S: Into<String>>(mut self, subjects: I) -> Self {
        self.filter_subjects = subjects.into_iter().map(Into::into).collect();
        self
    }

    /// Headers only, no payloads.
    #[must_use]
    pub fn headers_only(mut self, headers_only: bool) -> Self {
        self.headers_only = headers_only;
        self
    }

    /// With a deliver policy.
    #[must_use]
    pub fn deliver_policy(mut self, policy: DeliverPolicy) -> Self {
        self.deliver_policy = policy;
        self
    }

    /// With a heartbeat interval.
    #[must_use]
    pub fn heartbeat(mut self, heartbeat: Duration) -> Self {
        self.heartbeat = heartbeat;
        self
    }

    /// With a batch size.
    #[must_use]
    pub fn batch(mut self, batch: usize) -> Self {
        self.batch = batch.max(1);
        self
    }
}

/// An ordered consumer of one stream ([`Stream::ordered_consumer`](crate::Stream::ordered_consumer)).
#[derive(Debug, Clone)]
pub struct OrderedConsumer {
    context: Context,
    stream: String,
    config: OrderedConfig,
    push: bool,
}

impl OrderedConsumer {
    pub(crate) fn new(context: Context, stream: String, config: OrderedConfig, push: bool) -> Self {
        Self { context, stream, config, push }
    }

    /// The messages, each once, in stream order. The stream ends after an error item:
    /// the stream was deleted, the connection closed, or the consumer cannot be created
    /// for a reason other than a passing one (timeouts and 503s during an election are
    /// retried for as long as they last, "JetStream not enabled" for
    /// [`NOT_ENABLED_WINDOW`](crate::proto::NOT_ENABLED_WINDOW), the time a restarted
    /// server needs).
    pub fn messages(&self) -> Ordered {
        let resets = Arc::new(AtomicU64::new(0));
        let state = OrderedState {
            resets: Arc::clone(&resets),
            context: self.context.clone(),
            stream: self.stream.clone(),
            base: ConsumerConfig {
                filter_subject: self.config.filter_subject.clone(),
                filter_subjects: self.config.filter_subjects.clone(),
                deliver_policy: self.config.deliver_policy.clone(),
                headers_only: self.config.headers_only,
                ..ConsumerConfig::default()
            },
            // The default batch never asks for more than the inbox subscription holds:
            // the client would drop the rest, and the consumer would notice only at the
            // next heartbeat, one capacity's worth of messages per heartbeat interval.
            options: PullOptions::default()
                .batch(match self.config.batch {
                    DEFAULT_BATCH => DEFAULT_BATCH.min(capacity(&self.context.client)),
                    batch => batch,
                })
                .expires(self.config.expires)
                .heartbeat(self.config.heartbeat),
            tracker: OrderedTracker::named(self.context.client.new_token()),
            push: self.push.then_some(self.config.heartbeat),
            source: None,
            consumer: None,
            ended: false,
        };
        Ordered {
            inner: Box::pin(unfold(state, |mut state| async move {
                let item = state.next().await?;
                Some((item, state))
            })),
            resets,
        }
    }
}

/// The messages an inbox subscription of `client` holds (at least 1).
fn capacity(client: &nats_client::Client) -> usize {
    usize::try_from(client.subscription_capacity().0).unwrap_or(usize::MAX).max(1)
}

/// The messages of an ordered consumer.
#[must_use = "streams do nothing unless polled"]
pub struct Ordered {
    inner: Pin<Box<dyn FuturesStream<Item = Result<Message, FetchError>> + Send>>,
    resets: Arc<AtomicU64>,
}

impl Ordered {
    /// How many times the consumer was recreated (gaps, missed heartbeats, deletion,
    /// restarts).
    pub fn resets(&self) -> u64 {
        self.resets.load(Ordering::Relaxed)
    }
}

impl std::fmt::Debug for Ordered {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ordered").finish_non_exhaustive()
    }
}

impl FuturesStream for Ordered {
    type Item = Result<Message, FetchError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Option<Self::Item>> {
        self.inner.as_mut().poll_next(cx)
    }
}

struct OrderedState {
    resets: Arc<AtomicU64>,
    context: Context,
    stream: String,
    base: ConsumerConfig,
    options: PullOptions,
    tracker: OrderedTracker,
    /// Push consumers with this idle heartbeat, instead of pulls.
    push: Option<Duration>,
    source: Option<Source>,
    consumer: Option<String>,
    ended: bool,
}

/// Where the current consumer's messages come from.
enum Source {
    Pull(Box<PullState>),
    Push(PushState),
}

impl Source {
    async fn next_event(&mut self) -> Option<PullEvent> {
        match self {
            Self::Pull(pull) => pull.next_event().await,
            Self::Push(push) => push.next_event().await,
        }
    }
}

impl OrderedState {
    async fn next(&mut self) -> Option<Result<Message, FetchError>> {
        loop {
            if self.ended {
                return None;
            }
            let Some(source) = self.source.as_mut() else {
                if let Err(e) = self.recreate().await {
                    self.ended = true;
                    return Some(Err(e));
                }
                continue;
            };
            match source.next_event().await {
                Some(PullEvent::Message(message)) => {
                    let Ok(metadata) = message.info() else { continue };
                    match self.tracker.handle_message(&metadata) {
                        OrderedVerdict::Deliver => return Some(Ok(message)),
                        OrderedVerdict::Skip => {}
                        OrderedVerdict::Reset => self.reset(),
                    }
                }
                Some(PullEvent::Heartbeat { last_consumer_sequence }) => {
                    if self.tracker.handle_heartbeat(last_consumer_sequence) {
                        self.reset();
                    }
                }
                Some(PullEvent::Failed(FetchError::Closed)) | None => {
                    self.ended = true;
                    return Some(Err(FetchError::Closed));
                }
                // Missed heartbeats, consumer deleted, pulls reaching nobody (the consumer
                // gone with its server), refused: start over after the last delivered.
                Some(
                    PullEvent::MissedHeartbeats
                    | PullEvent::Unavailable
                    | PullEvent::Failed(_)
                    | PullEvent::Done,
                ) => self.reset(),
            }
        }
    }

    fn reset(&mut self) {
        self.source = None;
        self.tracker.reset(&self.base);
        self.resets.fetch_add(1, Ordering::Relaxed);
        if let Some(old) = self.consumer.take() {
            // Best effort, not awaited: the old consumer also goes by itself after its
            // inactivity threshold.
            if let Ok(subject) = self.context.prefix.consumer_delete(&self.stream, &old) {
                let _ = self.context.client.request_many_with(
                    subject,
                    None,
                    "".into(),
                    nats_client::Expected::Count(1),
                    self.context.timeout,
                );
            }
        }
    }

    /// Creates the next consumer and its pull subscription; what passes (timeouts, 503s
    /// during an election, "not enabled" for a while) is retried after a backoff, as
    /// [`OrderedTracker::handle_create_failure`] decides; the rest ends the stream.
    async fn recreate(&mut self) -> Result<(), FetchError> {
        loop {
            let mut config = self.tracker.consumer_config(&self.base);
            // A push consumer's subject is subscribed before the consumer exists: it
            // delivers at once.
            let mut push = None;
            if let Some(heartbeat) = self.push {
                let inbox = self.context.client.new_inbox();
                push = Some(PushState::start(&self.context, &inbox, None, heartbeat).await?);
                config.deliver_subject = Some(inbox);
                config.flow_control = true;
                config.idle_heartbeat = heartbeat;
            }
            let created =
                create_consumer(&self.context, &self.stream, &config, ConsumerAction::CreateOrUpdate).await;
            let (cause, error) = match created {
                Ok(info) if push.is_some() => {
                    self.tracker.handle_created();
                    self.consumer = Some(info.name);
                    self.source = push.map(Source::Push);
                    return Ok(());
                }
                Ok(info) => {
                    match PullState::start(
                        &self.context,
                        &self.stream,
                        &info.name,
                        PullMode::Continuous,
                        self.options.clone(),
                        None,
                    )
                    .await
                    {
                        Ok(pull) => {
                            self.tracker.handle_created();
                            self.consumer = Some(info.name);
                            self.source = Some(Source::Pull(Box::new(pull)));
                            return Ok(());
                        }
                        Err(FetchError::Closed) => return Err(FetchError::Closed),
                        // Cannot subscribe or send the first pull now: a new consumer later.
                        Err(e) => {
                            self.consumer = Some(info.name);
                            self.reset();
                            (Some(RetryCause::Unavailable), e)
                        }
                    }
                }
                Err(ConsumerError::Request(nats_client::RequestError::Closed)) => {
                    return Err(FetchError::Closed)
                }
                Err(e) => (create_retry_cause(&e), e.into()),
            };
            let now = self.context.client.now();
            match self.tracker.handle_create_failure(cause, now) {
                Some(at) => self.context.client.sleep_until(at).await,
                None => return Err(error),
            }
        }
    }
}

/// What a failure to create a consumer means for retrying.
fn create_retry_cause(error: &ConsumerError) -> Option<RetryCause> {
    match error {
        ConsumerError::Timeout => Some(RetryCause::Timeout),
        ConsumerError::JetStreamNotEnabled => Some(RetryCause::NotEnabled),
        ConsumerError::Api(e) => RetryCause::from_api_error(e),
        // Disconnected with a full buffer, say.
        ConsumerError::Request(nats_client::RequestError::Publish(_)) => Some(RetryCause::Unavailable),
        _ => None,
    }
}
