//! Atomic batch publishes: the headers and rules are
//! [`proto::apply_batch_headers`](crate::proto::apply_batch_headers)'s; this module sends.

use nats_client::RequestError;

use crate::context::{Context, Publish};
use crate::error::PublishError;
use crate::proto::{apply_batch_headers, parse_pub_ack, Feature, PubAck};

/// An atomic batch being published. The first message is sent as a request, so that a
/// stream that refuses the batch says so at once; the messages after it are sent without
/// waiting; the commit waits for the stream's acknowledgement of the whole batch. A
/// message lost on the way (a reconnect, say) leaves a gap the commit reports, and nothing
/// of the batch is stored. Dropping the batch without committing abandons it (the server
/// discards it after its timeout).
///
/// ```no_run
/// # async fn demo(js: nats_jetstream::Context) -> Result<(), nats_jetstream::PublishError> {
/// use nats_jetstream::Publish;
///
/// let mut batch = js.atomic_batch();
/// batch.add("orders.lines", Publish::new().payload("line 1".into())).await?;
/// batch.add("orders.lines", Publish::new().payload("line 2".into())).await?;
/// let ack = batch.commit("orders.done", Publish::new().payload("order 7".into())).await?;
/// assert_eq!(ack.batch_size, 3);
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct AtomicBatch {
    context: Context,
    id: String,
    sent: u64,
}

impl AtomicBatch {
    pub(crate) fn new(context: Context) -> Self {
        let inbox = context.client().new_inbox();
        let id = inbox.rsplit('.').next().unwrap_or(&inbox).to_owned();
        Self { context, id, sent: 0 }
    }

    /// The batch's id (`Nats-Batch-Id`).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Messages added so far.
    pub fn len(&self) -> u64 {
        self.sent
    }

    /// Whether nothing was added yet.
    pub fn is_empty(&self) -> bool {
        self.sent == 0
    }

    /// Adds a message to the batch (staged by the stream, stored at the commit).
    ///
    /// # Errors
    /// A [`PublishError`]: the stream refused the batch (not allowed, too large, a header
    /// an atomic batch cannot carry...), [`Unsupported`](PublishError::Unsupported) on a
    /// server before 2.12, or the message could not be sent.
    pub async fn add(&mut self, subject: &str, publish: Publish) -> Result<(), PublishError> {
        self.context.require([Feature::AtomicBatch])?;
        let sequence = self.sent + 1;
        let (headers, payload) = self.message(publish, sequence, false)?;
        let client = self.context.client();
        if sequence == 1 {
            // The stream answers a staged message with an empty message, an error with a
            // publish ack that holds it.
            let reply = client.request_with(subject, Some(&headers), payload, self.context.timeout()).await?;
            if reply.status().is_some_and(|s| s.as_u16() == 503) {
                return Err(PublishError::NoResponders);
            }
            if !reply.payload.is_empty() {
                parse_pub_ack(&reply.payload)?;
            }
        } else {
            client.publish_with_headers(subject, &headers, payload).await.map_err(RequestError::from)?;
        }
        self.sent = sequence;
        Ok(())
    }

    /// Adds the last message and commits: the stream stores the whole batch, or none of it.
    /// The acknowledgement names the batch and its size, and has the last message's
    /// sequence.
    ///
    /// # Errors
    /// A [`PublishError`]: an incomplete batch (a message lost on the way), a refused one,
    /// or [`Timeout`](PublishError::Timeout) (the batch may be stored).
    pub async fn commit(mut self, subject: &str, publish: Publish) -> Result<PubAck, PublishError> {
        self.context.require([Feature::AtomicBatch])?;
        let sequence = self.sent + 1;
        let (headers, payload) = self.message(publish, sequence, true)?;
        let reply = self
            .context
            .client()
            .request_with(subject, Some(&headers), payload, self.context.timeout())
            .await?;
        if reply.status().is_some_and(|s| s.as_u16() == 503) {
            return Err(PublishError::NoResponders);
        }
        self.sent = sequence;
        Ok(parse_pub_ack(&reply.payload)?)
    }

    fn message(
        &self,
        publish: Publish,
        sequence: u64,
        commit: bool,
    ) -> Result<(nats_client::HeaderMap, bytes::Bytes), PublishError> {
        let Publish { payload, headers, expectations } = publish;
        let mut headers = headers.unwrap_or_default();
        expectations.apply(&mut headers)?;
        apply_batch_headers(&mut headers, &self.id, sequence, commit)?;
        Ok((headers, payload))
    }
}
