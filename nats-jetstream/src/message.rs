//! Messages delivered by a consumer, with their acknowledgements and metadata.

use std::ops::Deref;
use std::time::Duration;

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

    /// Sends an acknowledgement of any kind.
    ///
    /// # Errors
    /// An [`AckError`].
    pub async fn ack_with(&self, kind: AckKind) -> Result<(), AckError> {
        let reply = self.reply_subject()?;
        self.client.publish(reply, kind.body().into()).await?;
        Ok(())
    }

    fn reply_subject(&self) -> Result<&str, AckError> {
        self.message.reply.as_ref().map(|r| r.as_str()).ok_or(AckError::NoReply)
    }
}
