//! The life of the connection: choosing and starting attempts, losing and closing
//! connections, keepalive.

use super::*;

impl Connection {
    pub(super) fn server_name(&self) -> String {
        self.current.as_ref().map(|s| s.host().to_owned()).unwrap_or_default()
    }

    /// Schedules the next attempt, or closes when no server is left.
    pub(super) fn next_attempt(&mut self, now: Instant) {
        if !self.ever_connected && !self.options.retry_on_initial_connect && self.pool.all_failed() {
            self.close_with(Some(ConnectionError::NoServers));
            return;
        }
        match self.pool.next(now, &self.options, &mut self.rng) {
            Next::Exhausted => self.close_with(Some(ConnectionError::NoServers)),
            Next::Try { at } => {
                self.phase = Phase::Waiting { at };
                if at <= now {
                    self.start_attempt(now);
                }
            }
        }
    }

    pub(super) fn start_attempt(&mut self, now: Instant) {
        let addr = self.pool.start_attempt(now);
        self.current = Some(addr.clone());
        self.decoder.reset();
        self.read_buf.clear();
        self.out.clear();
        self.out_written = 0;
        self.pub_frames.clear();
        self.pongs.clear();
        self.attempt_deadline = now + self.options.connect_timeout;
        self.phase = Phase::Connecting;
        self.actions.push_back(Action::Connect(addr));
    }

    pub(super) fn close_transport(&mut self) {
        if self.transport_open {
            self.transport_open = false;
            self.actions.push_back(Action::CloseTransport);
        }
    }

    /// A connection attempt failed before the handshake completed.
    pub(super) fn fail_attempt(&mut self, now: Instant, error: ConnectionError) {
        self.close_transport();
        if let Some(current) = &self.current {
            self.pool.record(current, false);
        }
        self.last_error = Some(error);
        if self.ever_connected && !self.options.allow_reconnect {
            self.close_with(self.last_error.clone());
        } else {
            self.next_attempt(now);
        }
    }

    /// An error while connected or while handshaking.
    pub(super) fn connection_failed(&mut self, now: Instant, error: ConnectionError) {
        if self.phase == Phase::Connected {
            self.lose_connection(now, error);
        } else {
            self.fail_attempt(now, error);
        }
    }

    /// An established connection is gone.
    pub(super) fn lose_connection(&mut self, now: Instant, error: ConnectionError) {
        self.close_transport();
        self.carry_unwritten_publishes();
        self.last_error = Some(error.clone());
        self.events.push_back(Event::Disconnected { error: error.clone() });
        self.fail_flushes(FlushError::Disconnected);
        if self.drain.is_some() || !self.options.allow_reconnect {
            self.close_with(Some(error));
            return;
        }
        self.next_attempt(now);
    }

    /// Moves the publishes not yet started on the wire into the reconnect buffer (a frame
    /// partly written is lost with the connection, like bytes in the kernel's buffer).
    pub(super) fn carry_unwritten_publishes(&mut self) {
        debug_assert!(self.reconnect_buf.is_empty());
        for &(start, end) in &self.pub_frames {
            if start < self.out_written {
                continue;
            }
            // Offsets of bytes still in `out`: they fit in a usize.
            let offset = |at: u64| usize::try_from(at - self.out_written).expect("an offset within `out`");
            let (from, to) = (offset(start), offset(end));
            self.out.copy_range_into(from, to, &mut self.reconnect_buf);
            self.reconnect_frames.push_back(to - from);
        }
        self.pub_frames.clear();
        self.out.clear();
    }

    pub(super) fn fail_flushes(&mut self, error: FlushError) {
        self.pongs.clear();
        self.flush_deadlines.clear();
        let mut ids: Vec<u64> = self.flushes.drain().map(|(id, _)| id).collect();
        ids.sort_unstable();
        for id in ids {
            self.events.push_back(Event::Flushed { flush: FlushId(id), result: Err(error.clone()) });
        }
    }

    pub(super) fn close_with(&mut self, error: Option<ConnectionError>) {
        if self.phase == Phase::Closed {
            return;
        }
        self.phase = Phase::Closed;
        self.drain = None;
        self.close_transport();
        self.fail_flushes(FlushError::Closed);
        for (request, replies) in self.requests.drain_all() {
            self.events.push_back(Event::RequestEnded { request, outcome: RequestOutcome::Closed, replies });
        }
        self.reconnect_buf.clear();
        self.reconnect_frames.clear();
        // "No servers" is the verdict; the last attempt's error stays the reported cause.
        if let Some(error) =
            error.as_ref().filter(|e| **e != ConnectionError::NoServers || self.last_error.is_none())
        {
            self.last_error = Some(error.clone());
        }
        self.events.push_back(Event::Closed { error });
    }

    pub(super) fn keepalive(&mut self, now: Instant) {
        if self.pings_outstanding >= self.options.max_pings_outstanding {
            self.lose_connection(now, ConnectionError::StaleConnection);
            return;
        }
        self.out.write_ping();
        self.pongs.push_back(PongWaiter::Keepalive);
        self.pings_outstanding += 1;
        self.next_ping = now + self.options.ping_interval;
    }
}
