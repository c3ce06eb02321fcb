//! An asynchronous publisher: many publishes in flight, at most a window of
//! acknowledgements outstanding, every failure reported with the message it belongs to.

use std::collections::VecDeque;

use bytes::Bytes;
use futures_util::FutureExt;

use crate::context::{Context, Publish, PublishAckFuture};
use crate::error::PublishError;
use crate::proto::PubAck;

/// A publish whose acknowledgement failed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PublishFailure {
    /// The id [`Publisher::publish`] returned for it.
    pub id: u64,
    /// Its subject.
    pub subject: String,
    /// Why.
    pub error: PublishError,
}

/// What a [`Publisher`] saw, from [`Publisher::finish`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PublishReport {
    /// Messages acknowledged (duplicates included).
    pub acked: u64,
    /// Of those, duplicates (`Nats-Msg-Id` seen before).
    pub duplicates: u64,
    /// Every failed acknowledgement not yet taken with [`Publisher::take_failures`].
    pub failures: Vec<PublishFailure>,
    /// With [`Publisher::keep_acks`]: every acknowledgement not yet taken with
    /// [`Publisher::take_acks`], with the id [`Publisher::publish`] returned.
    pub acks: Vec<(u64, PubAck)>,
}

/// Publishes without waiting for each acknowledgement, keeping at most `window`
/// outstanding: when the window is full, [`publish`](Self::publish) first waits for the
/// oldest. Acknowledgement failures are collected (never dropped): read them with
/// [`take_failures`](Self::take_failures) as you go, and [`finish`](Self::finish) returns
/// the rest. Failures to send are returned by `publish` itself.
#[derive(Debug)]
pub struct Publisher {
    context: Context,
    window: usize,
    in_flight: VecDeque<(u64, String, PublishAckFuture)>,
    next_id: u64,
    report: PublishReport,
    keep_acks: bool,
}

impl Publisher {
    pub(crate) fn new(context: Context, window: usize) -> Self {
        let window = window.max(1);
        Self {
            context,
            window,
            in_flight: VecDeque::with_capacity(window),
            next_id: 0,
            report: PublishReport::default(),
            keep_acks: false,
        }
    }

    /// Keeps every acknowledgement (stream and sequence of each message) for
    /// [`take_acks`](Self::take_acks) and the report, instead of counting them only.
    pub fn keep_acks(&mut self, keep: bool) {
        self.keep_acks = keep;
    }

    /// The acknowledgements kept so far (with [`keep_acks`](Self::keep_acks)), removing
    /// them from the publisher.
    pub fn take_acks(&mut self) -> Vec<(u64, PubAck)> {
        self.collect_ready();
        std::mem::take(&mut self.report.acks)
    }

    /// Publishes `payload` to `subject`; returns the message's id in this publisher.
    ///
    /// # Errors
    /// A [`PublishError`] when the message cannot be sent (nothing is in flight for it).
    pub async fn publish(&mut self, subject: impl AsRef<str>, payload: Bytes) -> Result<u64, PublishError> {
        self.send(subject, Publish::new().payload(payload)).await
    }

    /// Publishes a [`Publish`] (headers, id, expectations).
    ///
    /// # Errors
    /// As [`publish`](Self::publish).
    pub async fn send(&mut self, subject: impl AsRef<str>, publish: Publish) -> Result<u64, PublishError> {
        self.collect_ready();
        while self.in_flight.len() >= self.window {
            let (id, subject, ack) = self.in_flight.pop_front().expect("the window is not empty");
            let result = ack.await;
            self.record(id, subject, result);
        }
        let subject = subject.as_ref();
        let ack = self.context.send_publish(subject, publish).await?;
        let id = self.next_id;
        self.next_id += 1;
        self.in_flight.push_back((id, subject.to_owned(), ack));
        Ok(id)
    }

    /// Acknowledgements outstanding.
    pub fn in_flight(&self) -> usize {
        self.in_flight.len()
    }

    /// The failures recorded so far (removing them from the publisher).
    pub fn take_failures(&mut self) -> Vec<PublishFailure> {
        self.collect_ready();
        std::mem::take(&mut self.report.failures)
    }

    /// Waits for every outstanding acknowledgement and reports.
    pub async fn finish(mut self) -> PublishReport {
        while let Some((id, subject, ack)) = self.in_flight.pop_front() {
            let result = ack.await;
            self.record(id, subject, result);
        }
        self.report
    }

    /// Records the acknowledgements already in, oldest first, without waiting.
    fn collect_ready(&mut self) {
        while let Some((_, _, ack)) = self.in_flight.front_mut() {
            let Some(result) = ack.now_or_never() else { break };
            let (id, subject, _) = self.in_flight.pop_front().expect("just seen");
            self.record(id, subject, result);
        }
    }

    fn record(&mut self, id: u64, subject: String, result: Result<PubAck, PublishError>) {
        match result {
            Ok(ack) => {
                self.report.acked += 1;
                self.report.duplicates += u64::from(ack.duplicate);
                if self.keep_acks {
                    self.report.acks.push((id, ack));
                }
            }
            Err(error) => self.report.failures.push(PublishFailure { id, subject, error }),
        }
    }
}
