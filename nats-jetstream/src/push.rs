//! Push consumers: the server delivers to a subject; this module subscribes to it, answers
//! flow control and notices missed heartbeats. The bookkeeping is
//! [`PushTracker`](crate::proto::PushTracker)'s.

use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;

use futures_core::Stream as FuturesStream;
use futures_util::future::{select, Either};
use futures_util::stream::unfold;
use futures_util::{FutureExt, StreamExt};
use nats_client::{Client, HeaderMap, Instant, Sleep, Subscriber};

use crate::consumer::PullEvent;
use crate::context::Context;
use crate::error::{ConsumerError, FetchError};
use crate::message::Message;
use crate::proto::{ConsumerInfo, PushAction, PushTracker, CONSUMER_STALLED, LAST_CONSUMER};

/// A push consumer: the server sends its messages to its deliver subject (shared by the
/// members of its deliver group, if any).
#[derive(Debug, Clone)]
pub struct PushConsumer {
    context: Context,
    info: ConsumerInfo,
}

impl PushConsumer {
    pub(crate) fn new(context: Context, info: ConsumerInfo) -> Self {
        Self { context, info }
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

    /// Subscribes to the deliver subject (in the deliver group, if the consumer has one)
    /// and streams the messages. Flow-control requests are answered; two heartbeat
    /// intervals without traffic yield a [`FetchError::MissedHeartbeats`] item and the
    /// stream goes on (the server delivers again when it can). It ends only when the
    /// connection closes.
    ///
    /// # Errors
    /// A [`FetchError`] when the subscription cannot be made.
    pub async fn messages(&self) -> Result<PushMessages, FetchError> {
        let config = &self.info.config;
        let subject = config
            .deliver_subject
            .as_deref()
            .ok_or_else(|| FetchError::Pull("not a push consumer: no deliver subject".into()))?;
        let state =
            PushState::start(&self.context, subject, config.deliver_group.as_deref(), config.idle_heartbeat)
                .await?;
        let stream = unfold(state, |mut state| async move {
            loop {
                match state.next_event().await? {
                    PullEvent::Message(m) => return Some((Ok(m), state)),
                    PullEvent::MissedHeartbeats => return Some((Err(FetchError::MissedHeartbeats), state)),
                    PullEvent::Failed(e) => return Some((Err(e), state)),
                    _ => {}
                }
            }
        });
        Ok(PushMessages { inner: Box::pin(stream) })
    }
}

/// The messages of a push consumer.
#[must_use = "streams do nothing unless polled"]
pub struct PushMessages {
    inner: Pin<Box<dyn FuturesStream<Item = Result<Message, FetchError>> + Send>>,
}

impl std::fmt::Debug for PushMessages {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PushMessages").finish_non_exhaustive()
    }
}

impl FuturesStream for PushMessages {
    type Item = Result<Message, FetchError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Option<Self::Item>> {
        self.inner.as_mut().poll_next(cx)
    }
}

/// One push subscription: the deliver subject, the tracker, the timer.
pub(crate) struct PushState {
    client: Client,
    timeout: Duration,
    subscriber: Subscriber,
    tracker: PushTracker,
    timer: Option<(Instant, Sleep)>,
    ended: bool,
}

impl PushState {
    /// Subscribes to `subject` (in `group`, if any): before the consumer exists, so that
    /// nothing it delivers at once is missed.
    pub(crate) async fn start(
        context: &Context,
        subject: &str,
        group: Option<&str>,
        heartbeat: Duration,
    ) -> Result<Self, FetchError> {
        let client = context.client.clone();
        let subscriber = match group {
            Some(group) => client.queue_subscribe(subject, group).await,
            None => client.subscribe(subject).await,
        }
        .map_err(|e| FetchError::Pull(e.to_string()))?;
        let tracker = PushTracker::new(heartbeat, client.now());
        Ok(Self { client, timeout: context.timeout, subscriber, tracker, timer: None, ended: false })
    }

    /// The next event: a message, a heartbeat, missed heartbeats; `Failed(Closed)` once,
    /// then `None`, when the connection closed.
    pub(crate) async fn next_event(&mut self) -> Option<PullEvent> {
        loop {
            if self.ended {
                return None;
            }
            let msg = match self.subscriber.next().now_or_never() {
                Some(msg) => msg,
                None => match self.tracker.poll_timeout() {
                    None => self.subscriber.next().await,
                    Some(deadline) => {
                        if self.timer.as_ref().is_none_or(|(at, _)| *at != deadline) {
                            self.timer = Some((deadline, self.client.sleep_until(deadline)));
                        }
                        let (_, sleep) = self.timer.as_mut().expect("armed above");
                        match select(self.subscriber.next(), sleep).await {
                            Either::Left((msg, _)) => msg,
                            Either::Right(((), _)) => {
                                self.timer = None;
                                if self.tracker.handle_timeout(self.client.now()) {
                                    return Some(PullEvent::MissedHeartbeats);
                                }
                                continue;
                            }
                        }
                    }
                },
            };
            let Some(msg) = msg else {
                self.ended = true;
                return Some(PullEvent::Failed(FetchError::Closed));
            };
            let headers = msg.headers.as_deref();
            let status = headers
                .and_then(HeaderMap::status)
                .map(|s| (s.as_u16(), headers.and_then(HeaderMap::description).map_or("", |d| d.as_str())));
            let stalled = headers.and_then(|h| h.get(CONSUMER_STALLED)).map(|v| v.as_str());
            let last =
                headers.and_then(|h| h.get(LAST_CONSUMER)).and_then(|v| v.as_str().trim().parse().ok());
            let reply = msg.reply.as_ref().map(|r| r.as_str());
            match self.tracker.handle(self.client.now(), status, reply, stalled, last) {
                PushAction::Deliver => {
                    return Some(PullEvent::Message(Message::new(msg, self.client.clone(), self.timeout)))
                }
                PushAction::Reply(subject) => {
                    // Lost with the connection at worst: the server asks again, or names
                    // the stalled request in its next heartbeat.
                    let _ = self.client.publish(subject, bytes::Bytes::new()).await;
                }
                PushAction::Heartbeat { last_consumer_sequence: Some(last) } => {
                    return Some(PullEvent::Heartbeat { last_consumer_sequence: last })
                }
                _ => {}
            }
        }
    }
}
