//! Messages delivered by a consumer, with their acknowledgements and metadata.

use std::ops::Deref;
use std::time::Duration;

use futures_util::StreamExt;
use nats_client::Client;

use crate::error::AckError;
use crate::proto::{parse_metadata, AckKind, Metadata, NotAckSubject};

/// A message from a consumer. Derefs to the core [`nats_client::Message`] (subject,
/// headers, payload).
#[derive(Debug, Clone)]
pub struct Message {
    /// The message as received.
    pub message: nats_client::Message,
    client: Client,
    timeout: Duration,
}

impl Deref for Message {
    type Target = nats_client::Message;

    fn deref(&self) -> &Self::Target {
        &self.message
    }
}

impl Message {
    pub(crate) fn new(message: nats_client::Message, client: Client, timeout: Duration) -> Self {
        Self { message, client, timeout }
    }

    /// The stream, consumer, sequences, delivery count, timestamp and pending count
    /// encoded in the reply subject.
    ///
    /// # Errors
    /// [`NotAckSubject`] when the reply subject is not a JetStream ack subject.
    pub fn info(&self) -> Result<Metadata, NotAckSubject> {
        let reply = self.message.reply.as_ref().map_or("", |r| r.as_str());
        parse_metadata(reply)
    }

    /// Acknowledges: processed.
    ///
    /// # Errors
    /// An [`AckError`].
    pub async fn ack(&self) -> Result<(), AckError> {
        self.ack_with(AckKind::Ack).await
    }

    /// Acknowledges and waits until the server confirms it has recorded the ack.
    ///
    /// # Errors
    /// An [`AckError`], [`AckError::Timeout`] without confirmation.
    pub async fn double_ack(&self) -> Result<(), AckError> {
        let reply = self.reply_subject()?;
        self.client.request_with(reply, None, AckKind::Ack.body().into(), self.timeout).await?;
        Ok(())
    }

    /// Negative acknowledgement: redeliver now.
    ///
    /// # Errors
    /// An [`AckError`].
    pub async fn nak(&self) -> Result<(), AckError> {
        self.ack_with(AckKind::Nak(None)).await
    }

    /// Negative acknowledgement: redeliver after `delay`.
    ///
    /// # Errors
    /// An [`AckError`].
    pub async fn nak_with_delay(&self, delay: Duration) -> Result<(), AckError> {
        self.ack_with(AckKind::Nak(Some(delay))).await
    }

    /// Work in progress: restarts the server's ack timer.
    ///
    /// # Errors
    /// An [`AckError`].
    pub async fn in_progress(&self) -> Result<(), AckError> {
        self.ack_with(AckKind::Progress).await
    }

    /// Terminates: never redeliver.
    ///
    /// # Errors
    /// An [`AckError`].
    pub async fn term(&self) -> Result<(), AckError> {
        self.ack_with(AckKind::Term).await
    }

    /// Terminates with a reason: never redeliver; the server's termination advisory
    /// carries the reason.
    ///
    /// # Errors
    /// An [`AckError`].
    pub async fn term_with_reason(&self, reason: impl Into<String>) -> Result<(), AckError> {
        self.ack_with(AckKind::TermWithReason(reason.into())).await
    }

    /// Sends an acknowledgement of any kind.
    ///
    /// # Errors
    /// An [`AckError`].
    pub async fn ack_with(&self, kind: AckKind) -> Result<(), AckError> {
        let reply = self.reply_subject()?;
        self.client.publish(reply, kind.body().into()).await?;
        Ok(())
    }

    /// Sends an acknowledgement of any kind (but [`AckKind::Next`]) and waits until the
    /// server confirms it has recorded it: a nak, a term or a progress update, as
    /// [`double_ack`](Self::double_ack) does for an ack.
    ///
    /// # Errors
    /// An [`AckError`], [`AckError::Timeout`] without confirmation.
    pub async fn double_ack_with(&self, kind: AckKind) -> Result<(), AckError> {
        let reply = self.reply_subject()?;
        self.client.request_with(reply, None, kind.body().into(), self.timeout).await?;
        Ok(())
    }

    /// Acknowledges and asks for the next message in the same request (a pull consumer's
    /// `+NXT`): the next message, or `None` when none came within `expires` (zero: the
    /// context's timeout).
    ///
    /// # Errors
    /// An [`AckError`].
    pub async fn ack_next(&self, expires: Duration) -> Result<Option<Message>, AckError> {
        let reply = self.reply_subject()?;
        let expires = if expires.is_zero() { self.timeout } else { expires };
        let kind = AckKind::Next { batch: 1, expires };
        // JetStream delivers with the message's own subject, not the inbox's: a request's
        // reply routing cannot recognise it, so the answer gets a subscription of its own.
        let inbox = self.client.new_inbox();
        let closed = || AckError::Request(nats_client::RequestError::Closed);
        let mut answers = self.client.subscribe(&inbox).await.map_err(|_| closed())?;
        // Ended already (closed) is fine: the subscription is dropped below either way.
        let _ = answers.unsubscribe_after(1).into_inner();
        self.client.publish_with_reply(reply, &inbox, kind.body().into()).await?;
        // The server answers with the message, or a 408 status at the request's expiry.
        let wait =
            self.client.sleep_until(self.client.deadline(expires.saturating_add(Duration::from_secs(1))));
        match futures_util::future::select(answers.next(), wait).await {
            futures_util::future::Either::Left((Some(next), _)) if next.status().is_none() => {
                Ok(Some(Message::new(next, self.client.clone(), self.timeout)))
            }
            futures_util::future::Either::Left((None, _)) => Err(closed()),
            _ => Ok(None),
        }
    }

    fn reply_subject(&self) -> Result<&str, AckError> {
        self.message.reply.as_ref().map(|r| r.as_str()).ok_or(AckError::NoReply)
    }
}
