//! Pull requests (ADR-13) and the bookkeeping of one pull subscription: how many messages
//! and bytes are still owed by the server, when to ask for more, idle heartbeats and their
//! absence, the status messages (100, 404, 408, 409, 503) and when a fetch is over.
//!
//! Sans-IO: the caller feeds what arrives on the pull inbox and the time, sends the pull
//! requests [`PullTracker::poll_request`] returns, and sleeps until
//! [`PullTracker::poll_timeout`].

use std::time::Duration;

// The client's clock type: `std::time::Instant`, and in the browser the one that works there.
use nats_client::Instant;
use nats_proto::time::deadline;

use serde::Serialize;

use super::wire::nanos;

/// The default lifetime of a pull request.
pub const DEFAULT_EXPIRES: Duration = Duration::from_secs(30);
/// The default batch of a continuous pull.
pub const DEFAULT_BATCH: usize = 500;
/// How long after a pull request's expiry the client gives up on hearing about it.
const EXPIRY_MARGIN: Duration = Duration::from_secs(1);
/// The wait before a continuous pull asks again after its request reached nobody (503) or
/// could not be sent; doubled after each consecutive failure up to [`MAX_RETRY_BACKOFF`].
pub const RETRY_BACKOFF: Duration = Duration::from_millis(100);
/// The longest wait between a continuous pull's attempts.
pub const MAX_RETRY_BACKOFF: Duration = Duration::from_secs(2);

/// `Nats-Pending-Messages`: on 408/409, messages of the pull not delivered.
pub const PENDING_MESSAGES: &str = "Nats-Pending-Messages";
/// `Nats-Pending-Bytes`: on 408/409, bytes of the pull not delivered.
pub const PENDING_BYTES: &str = "Nats-Pending-Bytes";
/// `Nats-Last-Consumer`: on idle heartbeats, the consumer's last delivered consumer sequence.
pub const LAST_CONSUMER: &str = "Nats-Last-Consumer";
/// `Nats-Pin-Id`: on messages of a pinned-client priority group, the pin the client's
/// next requests carry.
pub const PIN_ID: &str = "Nats-Pin-Id";

/// A pull request's priority group fields (ADR-42; servers since 2.11). A consumer with
/// priority groups serves only requests that name one of them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PriorityRequest {
    /// The group.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// Overflow policy: served only while the consumer has at least this many messages
    /// pending.
    #[serde(skip_serializing_if = "super::wire::is_zero_u64")]
    pub min_pending: u64,
    /// Overflow policy: served only while at least this many acknowledgements are pending.
    #[serde(skip_serializing_if = "super::wire::is_zero_u64")]
    pub min_ack_pending: u64,
    /// Prioritized policy: lower numbers are served first (0 to 9; servers since 2.12).
    #[serde(skip_serializing_if = "is_zero_u8")]
    pub priority: u8,
}

fn is_zero_u8(n: &u8) -> bool {
    *n == 0
}

/// The body of a pull request (`CONSUMER.MSG.NEXT`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PullRequest {
    /// Messages wanted.
    pub batch: usize,
    /// Bytes wanted (0: no limit).
    #[serde(skip_serializing_if = "is_zero")]
    pub max_bytes: usize,
    /// How long the request lives on the server.
    #[serde(with = "nanos", skip_serializing_if = "Duration::is_zero")]
    pub expires: Duration,
    /// Answer at once (404/408) when nothing is pending.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub no_wait: bool,
    /// Idle heartbeat interval (zero: none).
    #[serde(with = "nanos", skip_serializing_if = "Duration::is_zero")]
    pub idle_heartbeat: Duration,
    /// The priority group fields.
    #[serde(flatten)]
    pub priority: PriorityRequest,
    /// The pin of a pinned-client group, once the server gave one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl PullRequest {
    /// The JSON body.
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a pull request serialises")
    }
}

/// How a pull subscription asks for messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullOptions {
    /// Messages per pull request (at least 1).
    pub batch: usize,
    /// Bytes per pull request (0: no limit).
    pub max_bytes: usize,
    /// Lifetime of each pull request.
    pub expires: Duration,
    /// Idle heartbeat interval (zero: none). Two intervals without traffic count as missed
    /// heartbeats.
    pub heartbeat: Duration,
    /// One-shot requests only: answer at once when nothing is pending.
    pub no_wait: bool,
    /// The priority group the requests name, with its conditions.
    pub priority: PriorityRequest,
}

impl Default for PullOptions {
    fn default() -> Self {
        Self {
            batch: DEFAULT_BATCH,
            max_bytes: 0,
            expires: DEFAULT_EXPIRES,
            heartbeat: Duration::ZERO,
            no_wait: false,
            priority: PriorityRequest::default(),
        }
    }
}

impl PullOptions {
    /// With a batch size.
    #[must_use]
    pub fn batch(mut self, batch: usize) -> Self {
        self.batch = batch.max(1);
        self
    }

    /// With a byte limit.
    #[must_use]
    pub fn max_bytes(mut self, bytes: usize) -> Self {
        self.max_bytes = bytes;
        self
    }

    /// With an expiry.
    #[must_use]
    pub fn expires(mut self, expires: Duration) -> Self {
        self.expires = expires;
        self
    }

    /// With idle heartbeats.
    #[must_use]
    pub fn heartbeat(mut self, heartbeat: Duration) -> Self {
        self.heartbeat = heartbeat;
        self
    }

    /// With no-wait.
    #[must_use]
    pub fn no_wait(mut self, no_wait: bool) -> Self {
        self.no_wait = no_wait;
        self
    }

    /// Naming a priority group of the consumer.
    #[must_use]
    pub fn group(mut self, group: impl Into<String>) -> Self {
        self.priority.group = Some(group.into());
        self
    }

    /// Overflow: served only while the consumer has at least `min_pending` messages
    /// pending, or (when non-zero) `min_ack_pending` acknowledgements pending.
    #[must_use]
    pub fn overflow(mut self, min_pending: u64, min_ack_pending: u64) -> Self {
        self.priority.min_pending = min_pending;
        self.priority.min_ack_pending = min_ack_pending;
        self
    }

    /// Prioritized: requests with a lower `priority` (0 to 9) are served first.
    #[must_use]
    pub fn priority(mut self, priority: u8) -> Self {
        self.priority.priority = priority;
        self
    }
}

/// One pull request (a fetch) or a continuous stream of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PullMode {
    /// One request; the subscription ends when it is satisfied, expires or is refused.
    Fetch,
    /// Requests again whenever at most half a batch (or half the bytes) is still owed.
    Continuous,
}

/// What a status message on the pull inbox means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StatusAction {
    /// Nothing to do (heartbeat, an expired request of a continuous pull, ...).
    Continue,
    /// A continuous pull's request reached nobody (503: the consumer's leader is being
    /// elected, or its server is down): the next request goes out after a backoff
    /// ([`PullTracker::poll_timeout`] includes it). Not an error for a durable consumer;
    /// an ordered consumer, whose consumer lives on one server, starts over.
    Backoff,
    /// The fetch is over; no error.
    End,
    /// The subscription cannot go on.
    Terminal(PullFailure),
}

/// Why a pull subscription cannot go on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PullFailure {
    /// The consumer was deleted (409 Consumer Deleted).
    #[error("consumer deleted")]
    ConsumerDeleted,
    /// Nobody answered the pull request (503): no such consumer or no JetStream.
    #[error("no responders: the consumer does not exist or JetStream is unavailable")]
    NoResponders,
    /// Two heartbeat intervals passed without any traffic.
    #[error("missed idle heartbeats")]
    MissedHeartbeats,
    /// The server refused the pull request (409 or 400, with its text).
    #[error("pull request refused: {0}")]
    Refused(String),
}

/// What a timeout meant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PullTimeout {
    /// Heartbeats were missed: for a continuous pull, the owed counts are reset and a new
    /// request follows; for a fetch, it fails.
    MissedHeartbeats,
    /// A fetch's request expired without the server saying so: the fetch is over.
    FetchExpired,
    /// A continuous pull's requests expired without the server saying so: new request.
    Expired,
}

/// The bookkeeping of one pull subscription.
#[derive(Debug, Clone)]
pub struct PullTracker {
    options: PullOptions,
    mode: PullMode,
    /// Messages and bytes still owed by the server.
    pending_messages: usize,
    pending_bytes: usize,
    /// A fetch's request has gone out.
    requested: bool,
    done: bool,
    /// Last traffic on the inbox (messages or statuses), or the last request.
    last_activity: Instant,
    /// When the last request was sent.
    last_request: Instant,
    /// A continuous pull sends no request before this (after a 503 or a failed send).
    retry_at: Option<Instant>,
    /// Consecutive failed attempts (503s, failed sends) since the last message.
    failures: u32,
    /// The pin of a pinned-client priority group.
    pin_id: Option<String>,
}

impl PullTracker {
    /// A tracker; nothing is requested yet. A zero batch counts as 1, and a zero expiry
    /// (outside no-wait fetches) as [`DEFAULT_EXPIRES`]: a request that never expires on the
    /// server would outlive the client's interest in it.
    pub fn new(mode: PullMode, options: PullOptions, now: Instant) -> Self {
        let expires = if options.expires.is_zero() { DEFAULT_EXPIRES } else { options.expires };
        let options = PullOptions { batch: options.batch.max(1), expires, ..options };
        Self {
            options,
            mode,
            pending_messages: 0,
            pending_bytes: 0,
            requested: false,
            done: false,
            last_activity: now,
            last_request: now,
            retry_at: None,
            failures: 0,
            pin_id: None,
        }
    }

    /// The pin this client holds in a pinned-client priority group, if any.
    pub fn pin_id(&self) -> Option<&str> {
        self.pin_id.as_deref()
    }

    /// Starts with a pin held from before (an earlier fetch of the same consumer).
    pub fn set_pin_id(&mut self, pin_id: Option<String>) {
        self.pin_id = pin_id;
    }

    /// A message arrived with `Nats-Pin-Id`: the server pinned this client; the next
    /// requests carry the pin.
    pub fn handle_pin_id(&mut self, pin_id: &str) {
        if self.pin_id.as_deref() != Some(pin_id) {
            self.pin_id = Some(pin_id.to_owned());
        }
    }

    /// Whether the subscription is over (a fetch satisfied, expired or ended).
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// Messages still owed.
    pub fn pending_messages(&self) -> usize {
        self.pending_messages
    }

    /// Bytes still owed.
    pub fn pending_bytes(&self) -> usize {
        self.pending_bytes
    }

    /// The next pull request to send, if one is due now.
    pub fn poll_request(&mut self, now: Instant) -> Option<PullRequest> {
        if self.done || self.retry_at.is_some_and(|at| now < at) {
            return None;
        }
        self.retry_at = None;
        let o = &self.options;
        let (priority, id) = (o.priority.clone(), self.pin_id.clone());
        let request = match self.mode {
            PullMode::Fetch => {
                if self.requested {
                    return None;
                }
                self.requested = true;
                PullRequest {
                    batch: o.batch,
                    max_bytes: o.max_bytes,
                    expires: if o.no_wait { Duration::ZERO } else { o.expires },
                    no_wait: o.no_wait,
                    idle_heartbeat: if o.no_wait { Duration::ZERO } else { o.heartbeat },
                    priority,
                    id,
                }
            }
            PullMode::Continuous => {
                let low_messages = self.pending_messages <= o.batch / 2;
                let low_bytes = o.max_bytes > 0 && self.pending_bytes <= o.max_bytes / 2;
                if !(low_messages || low_bytes) {
                    return None;
                }
                let batch = o.batch - self.pending_messages.min(o.batch);
                let max_bytes =
                    if o.max_bytes > 0 { o.max_bytes - self.pending_bytes.min(o.max_bytes) } else { 0 };
                if batch == 0 {
                    return None;
                }
                PullRequest {
                    batch,
                    max_bytes,
                    expires: o.expires,
                    no_wait: false,
                    idle_heartbeat: o.heartbeat,
                    priority,
                    id,
                }
            }
        };
        self.pending_messages += request.batch;
        self.pending_bytes += request.max_bytes;
        self.last_activity = now;
        self.last_request = now;
        Some(request)
    }

    /// A message of the consumer arrived (`size`: payload plus headers).
    pub fn handle_message(&mut self, now: Instant, size: usize) {
        self.last_activity = now;
        self.failures = 0;
        self.pending_messages = self.pending_messages.saturating_sub(1);
        self.pending_bytes = self.pending_bytes.saturating_sub(size);
        if self.mode == PullMode::Fetch
            && (self.pending_messages == 0 || (self.options.max_bytes > 0 && self.pending_bytes == 0))
        {
            self.done = true;
        }
    }

    /// A status message arrived: `code`, its description, and the `Nats-Pending-Messages`
    /// / `Nats-Pending-Bytes` headers when present.
    pub fn handle_status(
        &mut self,
        now: Instant,
        code: u16,
        description: &str,
        pending_messages: Option<usize>,
        pending_bytes: Option<usize>,
    ) -> StatusAction {
        self.last_activity = now;
        let description_lc = description.to_ascii_lowercase();
        let action = match code {
            100 => return StatusAction::Continue,
            404 | 408 => StatusAction::End,
            // Another client holds the group's pin (or ours was lost): the request is
            // over, and the next goes without a pin, to be pinned anew.
            423 => {
                self.pin_id = None;
                StatusAction::End
            }
            409 if description_lc.contains("consumer deleted") => {
                StatusAction::Terminal(PullFailure::ConsumerDeleted)
            }
            409 if description_lc.contains("exceeded max")
                || description_lc.contains("push based")
                || description_lc.contains("consumer is push") =>
            {
                StatusAction::Terminal(PullFailure::Refused(format!("409 {description}")))
            }
            // Message size exceeds max bytes, batch completed, leadership change, server
            // shutdown: this request is over.
            409 => StatusAction::End,
            503 if self.mode == PullMode::Continuous => {
                self.back_off(now);
                return StatusAction::Backoff;
            }
            503 => StatusAction::Terminal(PullFailure::NoResponders),
            _ => StatusAction::Terminal(PullFailure::Refused(format!("{code} {description}"))),
        };
        match (self.mode, &action) {
            (PullMode::Fetch, StatusAction::End | StatusAction::Terminal(_)) => {
                self.done = true;
                action
            }
            (PullMode::Continuous, StatusAction::End) => {
                // The request is over: what it still owed, it will not send.
                match (pending_messages, pending_bytes) {
                    (Some(m), b) => {
                        self.pending_messages = self.pending_messages.saturating_sub(m);
                        self.pending_bytes = self.pending_bytes.saturating_sub(b.unwrap_or(0));
                    }
                    (None, _) => {
                        self.pending_messages = 0;
                        self.pending_bytes = 0;
                    }
                }
                StatusAction::Continue
            }
            _ => action,
        }
    }

    /// A continuous pull's request could not be sent (disconnected with a full buffer,
    /// say): what it asked for is not owed, and the next attempt waits for a backoff.
    pub fn handle_send_failure(&mut self, now: Instant) {
        if self.mode == PullMode::Continuous {
            self.back_off(now);
        } else {
            self.done = true;
        }
    }

    /// Forgets what is owed and holds the next request back for the current backoff.
    fn back_off(&mut self, now: Instant) {
        let doublings = self.failures.min(16);
        let wait = RETRY_BACKOFF.saturating_mul(1 << doublings).min(MAX_RETRY_BACKOFF);
        self.failures = self.failures.saturating_add(1);
        self.pending_messages = 0;
        self.pending_bytes = 0;
        self.retry_at = Some(deadline(now, wait));
    }

    /// When two heartbeat intervals will have passed without traffic.
    fn heartbeats_missed_at(&self) -> Instant {
        deadline(self.last_activity, self.options.heartbeat.saturating_mul(2))
    }

    /// The earliest deadline: the end of a backoff, missed heartbeats, or a request's
    /// expiry.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if let Some(at) = self.retry_at.filter(|_| !self.done) {
            return Some(at);
        }
        if self.done {
            return None;
        }
        if self.mode == PullMode::Fetch && !self.requested {
            return None;
        }
        let fetch_no_wait = self.mode == PullMode::Fetch && self.options.no_wait;
        let heartbeat =
            (!self.options.heartbeat.is_zero() && !fetch_no_wait).then(|| self.heartbeats_missed_at());
        let expiry = match self.mode {
            PullMode::Fetch if self.options.no_wait => Some(deadline(self.last_request, DEFAULT_EXPIRES)),
            _ => Some(deadline(self.last_request, self.options.expires.saturating_add(EXPIRY_MARGIN))),
        };
        match (heartbeat, expiry) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Fires what is due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) -> Option<PullTimeout> {
        if self.retry_at.is_some() {
            // The end of a backoff: nothing fires; the next request is due.
            return None;
        }
        let deadline = self.poll_timeout()?;
        if now < deadline {
            return None;
        }
        let missed = !self.options.heartbeat.is_zero() && now >= self.heartbeats_missed_at();
        let outcome = match (self.mode, missed) {
            (PullMode::Fetch, true) => PullTimeout::MissedHeartbeats,
            (PullMode::Fetch, false) => PullTimeout::FetchExpired,
            (PullMode::Continuous, true) => PullTimeout::MissedHeartbeats,
            (PullMode::Continuous, false) => PullTimeout::Expired,
        };
        match self.mode {
            PullMode::Fetch => self.done = true,
            PullMode::Continuous => {
                self.pending_messages = 0;
                self.pending_bytes = 0;
                self.last_activity = now;
                self.last_request = now;
            }
        }
        Some(outcome)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    #[test]
    fn pull_request_json() {
        let r = PullRequest {
            batch: 10,
            max_bytes: 0,
            expires: secs(5),
            no_wait: false,
            idle_heartbeat: secs(1),
            priority: PriorityRequest::default(),
            id: None,
        };
        assert_eq!(
            String::from_utf8(r.to_json()).unwrap(),
            r#"{"batch":10,"expires":5000000000,"idle_heartbeat":1000000000}"#
        );
        let r = PullRequest {
            batch: 1,
            max_bytes: 100,
            expires: Duration::ZERO,
            no_wait: true,
            idle_heartbeat: Duration::ZERO,
            priority: PriorityRequest::default(),
            id: None,
        };
        assert_eq!(String::from_utf8(r.to_json()).unwrap(), r#"{"batch":1,"max_bytes":100,"no_wait":true}"#);
    }

    #[test]
    fn priority_groups_name_their_group_and_carry_the_pin_once_given() {
        let t0 = Instant::now();
        let options = PullOptions::default().batch(10).group("jobs").overflow(5, 0).priority(2);
        let mut t = PullTracker::new(PullMode::Continuous, options, t0);
        let first = t.poll_request(t0).unwrap();
        assert_eq!(
            serde_json::to_value(&first).unwrap(),
            serde_json::json!({"batch":10,"expires":30_000_000_000u64,"group":"jobs","min_pending":5,"priority":2})
        );
        // Pinned: the next requests carry the pin.
        t.handle_pin_id("pin-1");
        for _ in 0..6 {
            t.handle_message(t0, 10);
        }
        assert_eq!(t.poll_request(t0).unwrap().id.as_deref(), Some("pin-1"));
        assert_eq!(t.pin_id(), Some("pin-1"));
        // Another client holds the pin now: 423 ends the request and drops ours.
        assert_eq!(
            t.handle_status(t0, 423, "Nats-Pin-Id mismatch", Some(10), Some(0)),
            StatusAction::Continue
        );
        assert_eq!(t.pin_id(), None);
        let again = t.poll_request(t0).expect("a request without the pin");
        assert_eq!(again.id, None);

        // A fetch starts with the pin an earlier fetch was given, and ends on 423.
        let mut fetch = PullTracker::new(PullMode::Fetch, PullOptions::default().group("jobs"), t0);
        fetch.set_pin_id(Some("pin-2".into()));
        assert_eq!(fetch.poll_request(t0).unwrap().id.as_deref(), Some("pin-2"));
        assert_eq!(fetch.handle_status(t0, 423, "Nats-Wrong-Pin-Id", None, None), StatusAction::End);
        assert!(fetch.is_done() && fetch.pin_id().is_none());
    }

    #[test]
    fn expiries_and_heartbeats_of_duration_max_mean_never() {
        use nats_proto::time::NEVER;

        let t0 = Instant::now();
        let decade = secs(10 * 365 * 86_400);
        let huge = PullOptions::default().expires(Duration::MAX).heartbeat(Duration::MAX);
        for mode in [PullMode::Fetch, PullMode::Continuous] {
            let mut t = PullTracker::new(mode, huge.clone(), t0);
            let r = t.poll_request(t0).unwrap();
            let json: serde_json::Value = serde_json::from_slice(&r.to_json()).unwrap();
            assert_eq!(json["expires"].as_i64(), Some(i64::MAX), "a Go duration, saturated");
            assert_eq!(json["idle_heartbeat"].as_i64(), Some(i64::MAX));
            assert_eq!(t.poll_timeout(), Some(t0 + NEVER), "{mode:?}");
            assert_eq!(t.handle_timeout(t0 + decade), None, "{mode:?}: nothing is due");
            t.handle_message(t0 + decade, 1);
            if mode == PullMode::Continuous {
                assert_eq!(t.poll_timeout(), Some(t0 + NEVER), "the request's expiry comes first");
                assert_eq!(t.handle_timeout(t0 + NEVER), Some(PullTimeout::Expired));
                assert_eq!(t.poll_timeout(), Some(t0 + NEVER + NEVER));
            }
        }
    }

    #[test]
    fn a_fetch_ends_after_its_batch() {
        let t0 = Instant::now();
        let mut t = PullTracker::new(PullMode::Fetch, PullOptions::default().batch(3).expires(secs(5)), t0);
        assert_eq!(t.poll_timeout(), None, "nothing sent yet");
        let r = t.poll_request(t0).unwrap();
        assert_eq!((r.batch, r.expires), (3, secs(5)));
        assert_eq!(t.poll_request(t0), None, "one request per fetch");
        assert_eq!(t.poll_timeout(), Some(t0 + secs(6)));
        for _ in 0..2 {
            t.handle_message(t0, 10);
            assert!(!t.is_done());
        }
        t.handle_message(t0, 10);
        assert!(t.is_done());
        assert_eq!(t.poll_timeout(), None);
    }

    #[test]
    fn a_fetch_ends_on_404_408_and_409_size() {
        let t0 = Instant::now();
        for (code, text) in [
            (404, "No Messages"),
            (408, "Request Timeout"),
            (409, "Message Size Exceeds MaxBytes"),
            (409, "Leadership Change"),
        ] {
            let mut t = PullTracker::new(PullMode::Fetch, PullOptions::default().batch(3), t0);
            t.poll_request(t0).unwrap();
            assert_eq!(t.handle_status(t0, code, text, None, None), StatusAction::End, "{code} {text}");
            assert!(t.is_done());
        }
    }

    #[test]
    fn terminal_statuses() {
        let t0 = Instant::now();
        for mode in [PullMode::Fetch, PullMode::Continuous] {
            let mut t = PullTracker::new(mode, PullOptions::default(), t0);
            t.poll_request(t0).unwrap();
            assert_eq!(t.handle_status(t0, 100, "Idle Heartbeat", None, None), StatusAction::Continue);
            assert_eq!(
                t.handle_status(t0, 409, "Consumer Deleted", None, None),
                StatusAction::Terminal(PullFailure::ConsumerDeleted)
            );
            let expected = match mode {
                PullMode::Fetch => StatusAction::Terminal(PullFailure::NoResponders),
                PullMode::Continuous => StatusAction::Backoff,
            };
            assert_eq!(t.handle_status(t0, 503, "", None, None), expected);
            assert!(matches!(
                t.handle_status(t0, 409, "Exceeded MaxWaiting", None, None),
                StatusAction::Terminal(PullFailure::Refused(_))
            ));
            assert!(matches!(t.handle_status(t0, 400, "Bad Request", None, None), StatusAction::Terminal(_)));
        }
    }

    #[test]
    fn zero_batch_and_expiry_get_defaults() {
        let t0 = Instant::now();
        for mode in [PullMode::Fetch, PullMode::Continuous] {
            let mut t = PullTracker::new(
                mode,
                PullOptions { batch: 0, expires: Duration::ZERO, ..PullOptions::default() },
                t0,
            );
            let r = t.poll_request(t0).unwrap();
            assert_eq!((r.batch, r.expires), (1, DEFAULT_EXPIRES), "{mode:?}");
        }
    }

    #[test]
    fn no_wait_fetch() {
        let t0 = Instant::now();
        let mut t = PullTracker::new(
            PullMode::Fetch,
            PullOptions::default().batch(5).no_wait(true).heartbeat(secs(1)),
            t0,
        );
        let r = t.poll_request(t0).unwrap();
        assert!(r.no_wait);
        assert_eq!(r.expires, Duration::ZERO);
        assert_eq!(r.idle_heartbeat, Duration::ZERO, "heartbeats make no sense without waiting");
        assert_eq!(t.poll_timeout(), Some(t0 + DEFAULT_EXPIRES));
        t.handle_message(t0, 1);
        assert_eq!(t.handle_status(t0, 404, "No Messages", None, None), StatusAction::End);
    }

    #[test]
    fn a_fetch_fails_on_missed_heartbeats_and_ends_on_expiry() {
        let t0 = Instant::now();
        let mut t = PullTracker::new(
            PullMode::Fetch,
            PullOptions::default().expires(secs(10)).heartbeat(secs(2)),
            t0,
        );
        t.poll_request(t0).unwrap();
        assert_eq!(t.poll_timeout(), Some(t0 + secs(4)));
        assert_eq!(t.handle_timeout(t0 + secs(3)), None, "not yet");
        t.handle_status(t0 + secs(3), 100, "Idle Heartbeat", None, None);
        assert_eq!(t.poll_timeout(), Some(t0 + secs(7)), "a heartbeat moves the deadline");
        assert_eq!(t.handle_timeout(t0 + secs(7)), Some(PullTimeout::MissedHeartbeats));
        assert!(t.is_done());

        let mut t = PullTracker::new(PullMode::Fetch, PullOptions::default().expires(secs(10)), t0);
        t.poll_request(t0).unwrap();
        assert_eq!(t.handle_timeout(t0 + secs(11)), Some(PullTimeout::FetchExpired));
        assert!(t.is_done());
    }

    #[test]
    fn continuous_pulls_refill_at_half_a_batch() {
        let t0 = Instant::now();
        let mut t = PullTracker::new(PullMode::Continuous, PullOptions::default().batch(10), t0);
        assert_eq!(t.poll_request(t0).unwrap().batch, 10);
        assert_eq!(t.poll_request(t0), None);
        for _ in 0..4 {
            t.handle_message(t0, 1);
        }
        assert_eq!(t.pending_messages(), 6);
        assert_eq!(t.poll_request(t0), None, "more than half still owed");
        t.handle_message(t0, 1);
        assert_eq!(t.poll_request(t0).unwrap().batch, 5, "tops up to a batch");
        assert_eq!(t.pending_messages(), 10);
        assert!(!t.is_done(), "continuous pulls never end by themselves");
    }

    #[test]
    fn continuous_pulls_account_for_expired_requests() {
        let t0 = Instant::now();
        let mut t =
            PullTracker::new(PullMode::Continuous, PullOptions::default().batch(10).max_bytes(1000), t0);
        let r = t.poll_request(t0).unwrap();
        assert_eq!((r.batch, r.max_bytes), (10, 1000));
        t.handle_message(t0, 100);
        assert_eq!(t.poll_request(t0), None);
        // The request expired with 9 messages and 900 bytes not used.
        assert_eq!(t.handle_status(t0, 408, "Request Timeout", Some(9), Some(900)), StatusAction::Continue);
        assert_eq!((t.pending_messages(), t.pending_bytes()), (0, 0));
        assert_eq!(t.poll_request(t0).unwrap().batch, 10);
        // Without the headers, everything the requests owed is forgotten.
        assert_eq!(t.handle_status(t0, 408, "Request Timeout", None, None), StatusAction::Continue);
        assert_eq!(t.pending_messages(), 0);
        // Bytes alone can trigger a refill.
        let r = t.poll_request(t0).unwrap();
        assert_eq!(r.max_bytes, 1000);
        t.handle_message(t0, 600);
        let r = t.poll_request(t0).unwrap();
        assert_eq!((r.batch, r.max_bytes), (1, 600));
    }

    #[test]
    fn continuous_pulls_repull_after_missed_heartbeats() {
        let t0 = Instant::now();
        let mut t = PullTracker::new(
            PullMode::Continuous,
            PullOptions::default().batch(4).expires(secs(30)).heartbeat(secs(5)),
            t0,
        );
        t.poll_request(t0).unwrap();
        assert_eq!(t.poll_timeout(), Some(t0 + secs(10)));
        let t1 = t0 + secs(10);
        assert_eq!(t.handle_timeout(t1), Some(PullTimeout::MissedHeartbeats));
        assert_eq!(t.pending_messages(), 0, "the server forgot the request (restart, say)");
        assert!(!t.is_done());
        assert_eq!(t.poll_request(t1).unwrap().batch, 4);
        assert_eq!(t.poll_timeout(), Some(t1 + secs(10)));
        // Without heartbeats, expiry plus a margin triggers the new request.
        let mut t = PullTracker::new(PullMode::Continuous, PullOptions::default().expires(secs(3)), t0);
        t.poll_request(t0).unwrap();
        assert_eq!(t.handle_timeout(t0 + secs(4)), Some(PullTimeout::Expired));
        assert!(t.poll_request(t0 + secs(4)).is_some());
    }

    /// A durable consumer's leader is elected anew (or its server is down): pull requests
    /// reach nobody (503) and cannot be sent for a while. The continuous pull backs off
    /// (100, 200, 400 ms ...), never ends, and asks again; a message resets the backoff.
    #[test]
    fn continuous_pulls_back_off_on_503_and_send_failures() {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        let mut t = PullTracker::new(
            PullMode::Continuous,
            PullOptions::default().batch(10).expires(secs(5)).heartbeat(secs(1)),
            t0,
        );
        t.poll_request(t0).unwrap();
        assert_eq!(t.handle_status(t0, 503, "No Responders", None, None), StatusAction::Backoff);
        assert_eq!(t.pending_messages(), 0, "nobody holds the request");
        assert_eq!(t.poll_request(t0 + ms(50)), None, "backing off");
        assert_eq!(t.poll_timeout(), Some(t0 + ms(100)));
        assert_eq!(t.handle_timeout(t0 + ms(100)), None, "the end of a backoff is no failure");
        let t1 = t0 + ms(100);
        assert_eq!(t.poll_request(t1).unwrap().batch, 10);
        assert_eq!(t.poll_timeout(), Some(t1 + secs(2)), "heartbeats watched again");
        // Again: the wait doubles.
        assert_eq!(t.handle_status(t1, 503, "No Responders", None, None), StatusAction::Backoff);
        assert_eq!(t.poll_timeout(), Some(t1 + ms(200)));
        let t2 = t1 + ms(200);
        t.poll_request(t2).unwrap();
        t.handle_send_failure(t2);
        assert_eq!(t.poll_timeout(), Some(t2 + ms(400)), "a failed send counts too");
        assert_eq!(t.poll_request(t2 + ms(399)), None);
        let t3 = t2 + ms(400);
        t.poll_request(t3).unwrap();
        // Many failures: capped.
        for _ in 0..20 {
            t.handle_status(t3, 503, "", None, None);
        }
        assert_eq!(t.poll_timeout(), Some(t3 + MAX_RETRY_BACKOFF));
        let t4 = t3 + MAX_RETRY_BACKOFF;
        t.poll_request(t4).unwrap();
        t.handle_message(t4, 1);
        assert_eq!(t.handle_status(t4, 503, "", None, None), StatusAction::Backoff);
        assert_eq!(t.poll_timeout(), Some(t4 + ms(100)), "a message reset the backoff");
        assert!(!t.is_done());
        // A fetch whose request cannot be sent is over.
        let mut f = PullTracker::new(PullMode::Fetch, PullOptions::default(), t0);
        f.poll_request(t0).unwrap();
        f.handle_send_failure(t0);
        assert!(f.is_done());
    }
}
