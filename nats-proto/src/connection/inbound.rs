//! What the server sends once connected: ops, errors, PONGs, messages and replies.

use crate::time::Instant;

use super::event::{ConnectionError, Event, FlushId, RequestId, RequestOutcome};
use super::keepalive::PongWaiter;
use super::requests::Routed;
use super::subscriptions::Delivery;
use super::timers::Timer;
use super::{Connection, Phase};
use crate::{
    headers::HeaderMap,
    op::{Msg, ServerOp},
    server_error::ServerError,
    sid::Sid,
    status_code::StatusCode,
};

impl<I: Instant> Connection<I> {
    pub(super) fn handle_op(&mut self, now: I, op: ServerOp) {
        self.keepalive.traffic();
        match op {
            // Once the subscriptions are sent (with CONNECT), their messages may come
            // before the handshake's PONG.
            ServerOp::Msg(msg) if self.phase.subscriptions_sent() => self.handle_msg(msg),
            ServerOp::Msg(_) => {}
            ServerOp::Info(info) => self.handle_info(now, info),
            ServerOp::Ping if self.phase == Phase::AwaitInfo => {
                self.fail_attempt(now, ConnectionError::ExpectedInfo);
            }
            // Nothing may precede CONNECT, which waits for the caller's credentials.
            ServerOp::Ping if self.phase == Phase::AwaitCredentials => {}
            ServerOp::Ping => self.outbound.queue().write_pong(),
            ServerOp::Pong => self.handle_pong(now),
            ServerOp::Ok => {}
            ServerOp::Err(error) => self.handle_server_error(now, error),
            ServerOp::Undeliverable(dropped) if self.phase.subscriptions_sent() => {
                self.report.stats.undeliverable_msgs += 1;
                if self.subs.count_undelivered(dropped.sid) {
                    self.report.event(Event::SubscriptionEnded { sid: dropped.sid });
                }
                self.report.event(Event::Undeliverable(dropped));
            }
            ServerOp::Undeliverable(_) => {}
        }
    }

    /// The one place a `-ERR` is acted on (its class comes from
    /// [`ServerError::closes_connection`]).
    pub(super) fn handle_server_error(&mut self, now: I, error: ServerError) {
        // A refused SUB sent with CONNECT is reported, as once connected; any other
        // error fails the attempt.
        let handshaking = self.phase != Phase::Connected;
        if handshaking && (self.phase != Phase::AwaitPong || error.closes_connection()) {
            self.fail_attempt(now, ConnectionError::Server(error));
        } else if !handshaking && error.closes_connection() {
            self.lose_connection(now, ConnectionError::Server(error));
        } else {
            self.report.last_error = Some(ConnectionError::Server(error.clone()));
            self.report.event(Event::ServerError(error));
        }
    }

    pub(super) fn handle_pong(&mut self, now: I) {
        match self.keepalive.pong() {
            Some(PongWaiter::Handshake) => self.handshake_done(now),
            Some(PongWaiter::Flush(id)) => {
                self.timers.stop(Timer::Flush(id));
                self.report.event(Event::Flushed { flush: FlushId(id), result: Ok(()) });
            }
            Some(PongWaiter::DrainSubscriptions) => self.drain_subscriptions_done(),
            Some(PongWaiter::DrainPublishes) => self.close_with(None),
            Some(PongWaiter::DrainSubscription(sid)) => {
                if self.subs.get(sid).is_some_and(|s| s.draining) {
                    self.subs.remove(sid);
                    self.report.event(Event::SubscriptionEnded { sid });
                }
            }
            Some(PongWaiter::Pace) => self.pacing.answered(self.link.received),
            Some(PongWaiter::Keepalive) | None => {}
        }
    }

    pub(super) fn handle_msg(&mut self, msg: Msg) {
        let size = msg.payload.len() + msg.headers.as_deref().map_or(0, HeaderMap::encoded_len);
        self.report.stats.in_msgs += 1;
        self.report.stats.in_bytes += size as u64;
        let sid = msg.sid;
        match self.subs.deliver(sid, size as u64) {
            Delivery::Unknown => {}
            Delivery::Inbox => self.handle_reply(msg),
            Delivery::User { last } => {
                self.report.event(Event::Message(msg));
                if last {
                    self.report.event(Event::SubscriptionEnded { sid });
                }
            }
            Delivery::Dropped { episode, last } => {
                if let Some(dropped) = episode {
                    self.report.event(Event::SlowConsumer { sid, dropped });
                }
                if last {
                    self.report.event(Event::SubscriptionEnded { sid });
                }
            }
        }
    }

    pub(super) fn handle_reply(&mut self, msg: Msg) {
        let Some(token) = self.requests.token_of(msg.subject.as_str()) else { return };
        let no_responders = msg.payload.is_empty()
            && msg.headers.as_ref().is_some_and(|h| h.status() == Some(StatusCode::NO_RESPONDERS));
        let request = RequestId(token);
        match self.requests.route(token, no_responders) {
            Routed::Unknown => {}
            Routed::NoResponders { replies } => {
                self.timers.stop(Timer::Request(token));
                self.report.event(Event::RequestEnded {
                    request,
                    outcome: RequestOutcome::NoResponders,
                    replies,
                });
            }
            Routed::Reply { end } => {
                self.report.event(Event::Reply { request, msg });
                if let Some((outcome, replies)) = end {
                    self.timers.stop(Timer::Request(token));
                    self.report.event(Event::RequestEnded { request, outcome, replies });
                }
            }
        }
    }

    /// The shared inbox's subject prefix, subscribing first if needed.
    pub(super) fn ensure_inbox(&mut self) {
        if self.requests.inbox().is_some() {
            return;
        }
        let (prefix, subject) = self.requests.inbox_subject(&self.rng.token());
        if self.phase.subscriptions_sent() {
            self.outbound.queue().write_sub(Sid(self.subs.peek_next_sid()), &subject, None);
        }
        let sid = self.subs.insert(subject, None, true);
        self.requests.set_inbox(sid, prefix);
    }
}
