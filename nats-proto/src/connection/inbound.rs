//! What the server sends once connected: ops, errors, PONGs, messages and replies.

use super::*;

impl Connection {
    pub(super) fn handle_op(&mut self, now: Instant, op: ServerOp) {
        self.pings_outstanding = 0;
        match op {
            ServerOp::Msg(msg) if self.phase == Phase::Connected => self.handle_msg(msg),
            ServerOp::Msg(_) => {}
            ServerOp::Info(info) => self.handle_info(now, info),
            ServerOp::Ping if self.phase == Phase::AwaitInfo => {
                self.fail_attempt(now, ConnectionError::ExpectedInfo);
            }
            ServerOp::Ping => self.out.write_pong(),
            ServerOp::Pong => self.handle_pong(now),
            ServerOp::Ok => {}
            ServerOp::Err(error) => self.handle_server_error(now, error),
            ServerOp::Undeliverable(dropped) if self.phase == Phase::Connected => {
                self.stats.undeliverable_msgs += 1;
                if self.subs.count_undelivered(dropped.sid) {
                    self.events.push_back(Event::SubscriptionEnded { sid: dropped.sid });
                }
                self.events.push_back(Event::Undeliverable(dropped));
            }
            ServerOp::Undeliverable(_) => {}
        }
    }

    pub(super) fn handle_server_error(&mut self, now: Instant, error: ServerError) {
        if self.phase != Phase::Connected {
            self.fail_attempt(now, ConnectionError::Server(error));
        } else if error.closes_connection() {
            self.lose_connection(now, ConnectionError::Server(error));
        } else {
            self.last_error = Some(ConnectionError::Server(error.clone()));
            self.events.push_back(Event::ServerError(error));
        }
    }

    pub(super) fn handle_pong(&mut self, now: Instant) {
        match self.pongs.pop_front() {
            Some(PongWaiter::Handshake) => self.handshake_done(now),
            Some(PongWaiter::Flush(id)) => {
                if let Some(deadline) = self.flushes.remove(&id) {
                    self.flush_deadlines.remove(&(deadline, id));
                    self.events.push_back(Event::Flushed { flush: FlushId(id), result: Ok(()) });
                }
            }
            Some(PongWaiter::DrainSubscriptions) => {
                for sid in self.subs.sids() {
                    if self.subs.get(sid).is_some_and(|s| s.draining) {
                        // The request inbox is internal: its sid means nothing to users.
                        if self.subs.remove(sid).is_some_and(|s| !s.internal) {
                            self.events.push_back(Event::SubscriptionEnded { sid });
                        }
                    }
                }
                self.inbox = None;
                if let Some((stage, _)) = &mut self.drain {
                    *stage = DrainStage::Publishes;
                }
                self.out.write_ping();
                self.pongs.push_back(PongWaiter::DrainPublishes);
            }
            Some(PongWaiter::DrainPublishes) => self.close_with(None),
            Some(PongWaiter::Keepalive) | None => {}
        }
    }

    pub(super) fn handle_msg(&mut self, msg: Msg) {
        let size = msg.payload.len() + msg.headers.as_deref().map_or(0, HeaderMap::encoded_len);
        self.stats.in_msgs += 1;
        self.stats.in_bytes += size as u64;
        let sid = msg.sid;
        match self.subs.deliver(sid, size as u64) {
            Delivery::Unknown => {}
            Delivery::Inbox => self.handle_reply(msg),
            Delivery::User { last } => {
                self.events.push_back(Event::Message(msg));
                if last {
                    self.events.push_back(Event::SubscriptionEnded { sid });
                }
            }
            Delivery::Dropped { episode, last } => {
                if let Some(dropped) = episode {
                    self.events.push_back(Event::SlowConsumer { sid, dropped });
                }
                if last {
                    self.events.push_back(Event::SubscriptionEnded { sid });
                }
            }
        }
    }

    pub(super) fn handle_reply(&mut self, msg: Msg) {
        let Some((_, prefix)) = &self.inbox else { return };
        let Some(token) =
            msg.subject.as_str().strip_prefix(prefix.as_str()).and_then(|t| t.parse::<u64>().ok())
        else {
            return;
        };
        let no_responders = msg.payload.is_empty()
            && msg.headers.as_ref().is_some_and(|h| h.status() == Some(StatusCode::NO_RESPONDERS));
        let request = RequestId(token);
        match self.requests.route(token, no_responders) {
            Routed::Unknown => {}
            Routed::NoResponders { replies } => {
                self.events.push_back(Event::RequestEnded {
                    request,
                    outcome: RequestOutcome::NoResponders,
                    replies,
                });
            }
            Routed::Reply { end } => {
                self.events.push_back(Event::Reply { request, msg });
                if let Some((outcome, replies)) = end {
                    self.events.push_back(Event::RequestEnded { request, outcome, replies });
                }
            }
        }
    }

    pub(super) fn ensure_inbox(&mut self) -> String {
        if let Some((_, prefix)) = &self.inbox {
            return prefix.clone();
        }
        let prefix = format!("{}.{}.", self.inbox_prefix, self.rng.token());
        let subject = Subject::new(format!("{prefix}*")).expect("inbox subjects are valid");
        if self.phase == Phase::Connected {
            self.out.write_sub(Sid(self.subs.peek_next_sid()), &subject, None);
        }
        let sid = self.subs.insert(subject, None, true);
        self.inbox = Some((sid, prefix.clone()));
        prefix
    }
}
