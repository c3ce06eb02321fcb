//! Commands: they change state only (publish, subscribe, unsubscribe, request, flush,
//! drain, close); what follows is polled.

use core::time::Duration;

use crate::time::{deadline, Instant};

use bytes::Bytes;

use super::event::{FlushError, FlushId, PublishError, RequestId, SubscribeError};
use super::keepalive::PongWaiter;
use super::outbound::BufferFull;
use super::requests::Expected;
use super::subscriptions::PendingLimits;
use super::timers::Timer;
use super::{Connection, Event, Phase};
use crate::{
    headers::HeaderMap,
    queue_group::QueueGroup,
    sid::Sid,
    subject::{validate_publish_subject, Subject},
};

impl<I: Instant> Connection<I> {
    /// Publishes a message. While disconnected it goes to the reconnect buffer.
    ///
    /// # Errors
    /// A [`PublishError`]; nothing was queued then.
    pub fn publish(
        &mut self,
        subject: &Subject,
        reply: Option<&Subject>,
        headers: Option<&HeaderMap>,
        payload: &Bytes,
    ) -> Result<(), PublishError> {
        self.publish_str(subject.as_str(), reply.map(Subject::as_str), headers, payload)
    }

    /// [`publish`](Self::publish) with subjects as plain strings, validated here without
    /// allocating: the hot path of clients that take `&str` from their users.
    ///
    /// # Errors
    /// A [`PublishError`]; nothing was queued then.
    pub fn publish_str(
        &mut self,
        subject: &str,
        reply: Option<&str>,
        headers: Option<&HeaderMap>,
        payload: &Bytes,
    ) -> Result<(), PublishError> {
        if self.phase == Phase::Closed || self.drain.refuses_publishes() {
            return Err(PublishError::Closed);
        }
        validate_publish_subject(subject)?;
        if let Some(reply) = reply {
            validate_publish_subject(reply)?;
        }
        let header_len = match headers {
            Some(headers) => {
                if !self.options.headers || self.link.info().is_some_and(|i| !i.headers) {
                    return Err(PublishError::HeadersNotSupported);
                }
                headers.encoded_len()
            }
            None => 0,
        };
        let size = header_len + payload.len();
        if let Some(max_payload) = self.link.info().map(|i| i.max_payload).filter(|&m| m > 0) {
            if size as u64 > max_payload {
                return Err(PublishError::MaxPayloadExceeded { size, max_payload });
            }
        }
        if self.phase == Phase::Connected {
            let len = self.outbound.publish_live(subject, reply, headers, payload);
            // Nothing comes back to a connection without subscriptions.
            if !self.subs.is_empty() && self.pacing.published(len) {
                self.send_ping(PongWaiter::Pace);
                self.pacing.marked(self.outbound.end(), self.link.received);
            }
        } else {
            self.outbound
                .publish_buffered(subject, reply, headers.map(|h| (h, header_len)), payload)
                .map_err(|BufferFull| PublishError::ReconnectBufferFull {
                    limit: self.outbound.reconnect_limit(),
                })?;
        }
        self.report.stats.out_msgs += 1;
        self.report.stats.out_bytes += size as u64;
        Ok(())
    }

    /// Subscribes to a subject or filter, optionally in a queue group. The subscription is
    /// re-established after every reconnect.
    ///
    /// # Errors
    /// [`SubscribeError::Closed`] when draining or closed.
    pub fn subscribe(
        &mut self,
        subject: Subject,
        queue_group: Option<QueueGroup>,
    ) -> Result<Sid, SubscribeError> {
        if self.phase == Phase::Closed || self.drain.is_active() {
            return Err(SubscribeError::Closed);
        }
        if self.phase.subscriptions_sent() {
            let sid = Sid(self.subs.peek_next_sid());
            self.outbound.queue().write_sub(sid, &subject, queue_group.as_ref());
        }
        self.pacing.subscribed();
        Ok(self.subs.insert(subject, queue_group, false))
    }

    /// Unsubscribes now (`max: None`), or after `max` messages in total (counting those
    /// already delivered; nats.py's `auto_unsubscribe`). Returns whether the subscription
    /// existed. When `max` is already reached it ends at once, with
    /// [`Event::SubscriptionEnded`].
    pub fn unsubscribe(&mut self, sid: Sid, max: Option<u64>) -> bool {
        let connected = self.phase.subscriptions_sent();
        let Some(sub) = self.subs.get_mut(sid) else { return false };
        match max {
            Some(max) if sub.delivered < max => {
                sub.max = Some(max);
                if connected {
                    self.outbound.queue().write_unsub(sid, Some(max));
                }
            }
            _ => {
                self.subs.remove(sid);
                if connected {
                    self.outbound.queue().write_unsub(sid, None);
                }
                if max.is_some() {
                    self.report.event(Event::SubscriptionEnded { sid });
                }
            }
        }
        true
    }

    /// Drains one subscription: UNSUB now, keep delivering what the server sent before it
    /// processed the UNSUB, and end the subscription ([`Event::SubscriptionEnded`]) once the
    /// server's PONG to a PING sent after the UNSUB confirms that nothing more is in flight.
    /// Not connected, it ends at once; a transport lost during the drain ends it too (what
    /// was in flight is lost with the transport, and it is not made again on the next
    /// server). Returns whether the subscription existed.
    pub fn drain_subscription(&mut self, sid: Sid) -> bool {
        let connected = self.phase == Phase::Connected;
        let Some(sub) = self.subs.get_mut(sid) else { return false };
        if sub.draining {
            return true;
        }
        if !connected {
            // During the handshake the server has the SUB already: take it back.
            if self.phase.subscriptions_sent() {
                self.outbound.queue().write_unsub(sid, None);
            }
            self.subs.remove(sid);
            self.report.event(Event::SubscriptionEnded { sid });
            return true;
        }
        sub.draining = true;
        self.outbound.queue().write_unsub(sid, None);
        self.send_ping(PongWaiter::DrainSubscription(sid));
        true
    }

    /// Sets (or removes) the pending limits of a subscription: past them its messages are
    /// dropped and [`Event::SlowConsumer`] reports the episode. The reader reports what it
    /// consumed with [`handle_consumed`](Self::handle_consumed).
    pub fn set_pending_limits(&mut self, sid: Sid, limits: Option<PendingLimits>) -> bool {
        self.subs.set_limits(sid, limits)
    }

    /// The reader of a subscription consumed `messages` messages of `bytes` payload bytes.
    pub fn handle_consumed(&mut self, sid: Sid, messages: u64, bytes: u64) {
        self.subs.consumed(sid, messages, bytes);
    }

    /// Publishes a request with a reply subject on the shared inbox; replies arrive as
    /// [`Event::Reply`] and the end as [`Event::RequestEnded`].
    ///
    /// # Errors
    /// A [`PublishError`]; the request was not made then.
    pub fn request(
        &mut self,
        now: I,
        subject: &Subject,
        headers: Option<&HeaderMap>,
        payload: &Bytes,
        timeout: Duration,
        expected: Expected,
    ) -> Result<RequestId, PublishError> {
        self.request_str(now, subject.as_str(), headers, payload, timeout, expected)
    }

    /// [`request`](Self::request) with the subject as a plain string, validated here: with
    /// the reply subject written into a reused buffer, a request allocates nothing in the
    /// core once the inbox exists.
    ///
    /// # Errors
    /// A [`PublishError`]; the request was not made then.
    pub fn request_str(
        &mut self,
        now: I,
        subject: &str,
        headers: Option<&HeaderMap>,
        payload: &Bytes,
        timeout: Duration,
        expected: Expected,
    ) -> Result<RequestId, PublishError> {
        if self.phase == Phase::Closed || self.drain.is_active() {
            return Err(PublishError::Closed);
        }
        validate_publish_subject(subject)?;
        self.ensure_inbox();
        let id = self.requests.insert(expected);
        let reply = self.requests.reply_subject(id);
        let published = self.publish_str(subject, Some(&reply), headers, payload);
        self.requests.reuse_reply_subject(reply);
        if let Err(error) = published {
            self.requests.remove(id);
            return Err(error);
        }
        self.timers.set(Timer::Request(id.0), deadline(now, timeout));
        Ok(id)
    }

    /// Forgets a request; returns whether it was still live. No event follows for it.
    pub fn cancel_request(&mut self, id: RequestId) -> bool {
        self.timers.stop(Timer::Request(id.0));
        self.requests.remove(id).is_some()
    }

    /// Asks the server to confirm it processed everything written so far; the answer comes
    /// as [`Event::Flushed`] (at once with an error when not connected).
    pub fn flush(&mut self, now: I, timeout: Duration) -> FlushId {
        let id = self.keepalive.next_flush_id();
        let error = match self.phase {
            Phase::Closed => Some(FlushError::Closed),
            Phase::Connected => None,
            _ => Some(FlushError::Disconnected),
        };
        if let Some(error) = error {
            self.report.event(Event::Flushed { flush: FlushId(id), result: Err(error) });
        } else {
            self.send_ping(PongWaiter::Flush(id));
            self.timers.set(Timer::Flush(id), deadline(now, timeout));
        }
        FlushId(id)
    }

    /// Drains: unsubscribes everything, lets messages already in flight be delivered,
    /// confirms the publishes made so far, then closes (with
    /// [`ConnectionError::DrainTimeout`](super::ConnectionError::DrainTimeout) if that takes longer than `drain_timeout`).
    /// Not connected: closes at once.
    pub fn drain(&mut self, now: I) {
        if self.phase != Phase::Connected {
            self.close_with(None);
            return;
        }
        if !self.drain.start() {
            return;
        }
        for sid in self.subs.sids() {
            if let Some(sub) = self.subs.get_mut(sid) {
                sub.draining = true;
                self.outbound.queue().write_unsub(sid, None);
            }
        }
        self.send_ping(PongWaiter::DrainSubscriptions);
        self.timers.set(Timer::Drain, deadline(now, self.options.drain_timeout));
    }

    /// Drops the current connection and reconnects through the server pool at once, with
    /// no reconnect wait for this attempt (the next server of the pool, which may be the
    /// same one when it is the only one). Everything a lost connection keeps is kept:
    /// subscriptions are made again on the new connection, and publishes not yet written
    /// move to the reconnect buffer. Reports
    /// [`Event::Disconnected`] with
    /// [`ConnectionError::ForcedReconnect`](super::ConnectionError::ForcedReconnect)
    /// (the current transport is closed with
    /// [`Action::CloseTransport`](super::Action::CloseTransport)), then
    /// [`Event::Reconnected`] once the new handshake completes.
    ///
    /// Returns `false` and does nothing when not connected, while draining, or when
    /// `allow_reconnect` is off.
    pub fn force_reconnect(&mut self, now: I) -> bool {
        if self.phase != Phase::Connected || self.drain.is_active() || !self.options.allow_reconnect {
            return false;
        }
        self.lose_connection_then(now, super::ConnectionError::ForcedReconnect, true);
        true
    }

    /// Closes at once. Unwritten bytes may still be written before the transport is
    /// closed ([`Action::CloseTransport`](super::Action::CloseTransport)); requests and flushes end with `Closed`.
    pub fn close(&mut self) {
        self.close_with(None);
    }
}
