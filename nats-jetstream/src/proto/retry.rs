//! Retrying a publish while a stream elects a leader: which failures are worth another
//! attempt, and when the next one is due within the caller's deadline.
//!
//! During an election the stream has no leader: a publish finds nobody subscribed (no
//! responders, 503), the server answers "JetStream system temporarily unavailable" (503),
//! or nothing answers in time. A retry is safe when the stream cannot have stored the
//! message (no responders, unavailable), or when it carries a `Nats-Msg-Id` so the stream
//! drops a second copy within its duplicate window. A timeout without a message id is
//! never retried: the first copy may be stored, and a retry would store it twice.
//!
//! The same holds for the API requests that are safe to repeat (stream info, stream and
//! consumer creation, message gets, consumer info): [`ApiRetry`] retries them on 503 and timeouts within
//! a deadline.
//!
//! Sans-IO: [`PublishRetry::next_attempt`] and [`ApiRetry::next_attempt`] take the time and
//! return when to try again.

use std::time::Duration;

// The client's clock type: `std::time::Instant`, and in the browser the one that works there.
use nats_client::Instant;
use nats_proto::time::deadline as after;

use super::error::ApiError;

/// Why a publish attempt failed, as far as retrying is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RetryCause {
    /// Nobody subscribed to the subject (503 no responders): the message went nowhere.
    NoResponders,
    /// The stream answered that it cannot take messages now (a 503 API error).
    Unavailable,
    /// No acknowledgement in time: the message may or may not be stored.
    Timeout,
    /// An API request found no JetStream: nobody answered, or "JetStream not enabled" (a
    /// server without JetStream, or one shutting down).
    NotEnabled,
}

impl RetryCause {
    /// The cause an API error in a publish reply stands for, if any: a 503 (JetStream
    /// system temporarily unavailable, no stream leader).
    pub fn from_api_error(error: &ApiError) -> Option<Self> {
        (error.code == 503).then_some(Self::Unavailable)
    }

    /// Whether a failure of this kind may be retried; `has_message_id`: the publish
    /// carries a `Nats-Msg-Id`, so a second copy is de-duplicated by the stream.
    pub fn is_retryable(self, has_message_id: bool) -> bool {
        match self {
            Self::NoResponders | Self::Unavailable => true,
            Self::Timeout => has_message_id,
            Self::NotEnabled => false,
        }
    }
}

/// The retry policy of a publish: at most `attempts` attempts in all, the wait between
/// them doubling from `backoff` up to `max_backoff`, and none started after the deadline
/// the caller gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct PublishRetry {
    /// Attempts in all, the first included (at least 1).
    pub attempts: u32,
    /// The wait before the second attempt.
    pub backoff: Duration,
    /// The longest wait between attempts.
    pub max_backoff: Duration,
}

impl Default for PublishRetry {
    /// As many attempts as the caller's deadline allows, waits from 50 ms doubling up to
    /// 500 ms: an election ends within the deadline, not within a count of attempts, and
    /// a publish resumes within half a second of the new leader.
    fn default() -> Self {
        Self {
            attempts: u32::MAX,
            backoff: Duration::from_millis(50),
            max_backoff: Duration::from_millis(500),
        }
    }
}

impl PublishRetry {
    /// A policy of `attempts` attempts with waits from `backoff` doubling up to
    /// `max_backoff`.
    pub fn new(attempts: u32, backoff: Duration, max_backoff: Duration) -> Self {
        Self { attempts: attempts.max(1), backoff, max_backoff: max_backoff.max(backoff) }
    }

    /// No retries: one attempt.
    pub fn none() -> Self {
        Self::new(1, Duration::ZERO, Duration::ZERO)
    }

    /// The wait after the `made`-th failed attempt (1: after the first).
    pub fn backoff(&self, made: u32) -> Duration {
        let doublings = made.saturating_sub(1).min(31);
        self.backoff.saturating_mul(1 << doublings).min(self.max_backoff)
    }

    /// After `made` attempts, the last failing with `cause` at `now`: when to start the
    /// next one, or `None` to give up (not retryable, attempts used up, or the next attempt
    /// would start at or after `deadline`).
    pub fn next_attempt(
        &self,
        cause: RetryCause,
        has_message_id: bool,
        made: u32,
        now: Instant,
        deadline: Instant,
    ) -> Option<Instant> {
        if !cause.is_retryable(has_message_id) || made >= self.attempts {
            return None;
        }
        let at = after(now, self.backoff(made));
        (at < deadline).then_some(at)
    }
}

/// The default deadline of a retried API request ([`ApiRetry::default`]): twice the
/// nats-server's longest Raft election timeout (9 s), so an election that needs a second
/// round still ends within it.
pub const DEFAULT_API_DEADLINE: Duration = Duration::from_secs(18);

/// The retry policy of the JetStream API requests that are safe to repeat (stream info,
/// stream creation with the same configuration, message gets, consumer creation, consumer
/// info) while
/// the meta group or a stream elects a leader: a 503 ("JetStream system temporarily
/// unavailable") and a timeout are retried, the wait between attempts doubling from
/// `backoff` up to `max_backoff`, none started after `deadline` from the first attempt.
///
/// "JetStream not enabled" (or nobody answering the API) is retried only with
/// [`retry_not_enabled`](Self::retry_not_enabled): every JetStream server answers the API,
/// so on a single server it means JetStream is off, and waiting only delays the answer;
/// in a cluster, a server shutting down answers so too.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ApiRetry {
    /// How long after the first attempt the last may start (zero: one attempt).
    pub deadline: Duration,
    /// The wait before the second attempt.
    pub backoff: Duration,
    /// The longest wait between attempts.
    pub max_backoff: Duration,
    /// Retry "JetStream not enabled" and no responders too.
    pub retry_not_enabled: bool,
}

impl Default for ApiRetry {
    /// Waits from 100 ms doubling up to 1 s, within [`DEFAULT_API_DEADLINE`]; not enabled
    /// is not retried.
    fn default() -> Self {
        Self {
            deadline: DEFAULT_API_DEADLINE,
            backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(1),
            retry_not_enabled: false,
        }
    }
}

impl ApiRetry {
    /// A policy: attempts within `deadline`, waits from `backoff` doubling up to
    /// `max_backoff`.
    pub fn new(deadline: Duration, backoff: Duration, max_backoff: Duration) -> Self {
        Self { deadline, backoff, max_backoff: max_backoff.max(backoff), retry_not_enabled: false }
    }

    /// One attempt, no retries.
    pub fn none() -> Self {
        Self::new(Duration::ZERO, Duration::ZERO, Duration::ZERO)
    }

    /// With "JetStream not enabled" and no responders retried too.
    #[must_use]
    pub fn retry_not_enabled(mut self, retry: bool) -> Self {
        self.retry_not_enabled = retry;
        self
    }

    /// Whether a failure of this kind is retried.
    pub fn is_retryable(&self, cause: RetryCause) -> bool {
        match cause {
            RetryCause::Unavailable | RetryCause::Timeout => true,
            RetryCause::NoResponders | RetryCause::NotEnabled => self.retry_not_enabled,
        }
    }

    /// The wait after the `made`-th failed attempt (1: after the first).
    pub fn backoff(&self, made: u32) -> Duration {
        let doublings = made.saturating_sub(1).min(31);
        self.backoff.saturating_mul(1 << doublings).min(self.max_backoff)
    }

    /// After `made` attempts since `first` (the start of the first), the last failing with
    /// `cause` at `now`: when to start the next, or `None` to give up.
    pub fn next_attempt(
        &self,
        cause: RetryCause,
        made: u32,
        first: Instant,
        now: Instant,
    ) -> Option<Instant> {
        if !self.is_retryable(cause) {
            return None;
        }
        let at = after(now, self.backoff(made));
        (at < after(first, self.deadline)).then_some(at)
    }

    /// The timeout of an attempt starting at `now`: the request timeout, but not past
    /// the deadline (at least `floor`, so an attempt is never hopeless).
    pub fn attempt_timeout(
        &self,
        timeout: Duration,
        first: Instant,
        now: Instant,
        floor: Duration,
    ) -> Duration {
        let left = after(first, self.deadline).saturating_duration_since(now);
        timeout.min(left.max(floor))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::ErrorCode;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn what_is_retryable() {
        assert!(RetryCause::NoResponders.is_retryable(false));
        assert!(RetryCause::Unavailable.is_retryable(false));
        assert!(RetryCause::Timeout.is_retryable(true));
        // Without an id, a timed-out message may be stored: a retry could store it twice.
        assert!(!RetryCause::Timeout.is_retryable(false));
        let unavailable = ApiError {
            code: 503,
            err_code: ErrorCode(10008),
            description: "JetStream system temporarily unavailable".into(),
        };
        assert_eq!(RetryCause::from_api_error(&unavailable), Some(RetryCause::Unavailable));
        let wrong =
            ApiError { code: 400, err_code: ErrorCode::STREAM_WRONG_LAST_SEQUENCE, description: "d".into() };
        assert_eq!(RetryCause::from_api_error(&wrong), None);
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let policy = PublishRetry::new(10, 100 * MS, 1000 * MS);
        let waits: Vec<Duration> = (1..=6).map(|n| policy.backoff(n)).collect();
        assert_eq!(waits, [100 * MS, 200 * MS, 400 * MS, 800 * MS, 1000 * MS, 1000 * MS]);
        assert_eq!(policy.backoff(u32::MAX), 1000 * MS);
    }

    #[test]
    fn a_schedule_within_the_deadline() {
        let policy = PublishRetry::new(10, 100 * MS, 1000 * MS);
        let start = Instant::now();
        let deadline = start + 1000 * MS;
        // Attempts fail at once: next at 100, 300 (100 + 200), 700 (300 + 400); the fourth
        // wait (800 ms) would end after the deadline.
        let mut now = start;
        let mut starts = Vec::new();
        let mut made = 1;
        while let Some(at) = policy.next_attempt(RetryCause::NoResponders, false, made, now, deadline) {
            starts.push(at - start);
            now = at;
            made += 1;
        }
        assert_eq!(starts, [100 * MS, 300 * MS, 700 * MS]);
    }

    #[test]
    fn attempts_run_out_and_the_unretryable_stop_at_once() {
        let policy = PublishRetry::new(3, MS, MS);
        let now = Instant::now();
        let far = now + Duration::from_secs(60);
        assert!(policy.next_attempt(RetryCause::Timeout, true, 1, now, far).is_some());
        assert!(policy.next_attempt(RetryCause::Timeout, true, 2, now, far).is_some());
        assert_eq!(policy.next_attempt(RetryCause::Timeout, true, 3, now, far), None);
        assert_eq!(policy.next_attempt(RetryCause::Timeout, false, 1, now, far), None);
        assert_eq!(PublishRetry::none().next_attempt(RetryCause::NoResponders, true, 1, now, far), None);
        assert_eq!(PublishRetry::new(0, MS, MS).attempts, 1);
    }

    #[test]
    fn api_requests_retry_503_and_timeouts_within_the_deadline() {
        let policy = ApiRetry::new(Duration::from_secs(3), 100 * MS, 1000 * MS);
        let first = Instant::now();
        // An election: 503, 503, timeout (2 s), then an answer. Waits 100, 200, 400 ms.
        let t1 = policy.next_attempt(RetryCause::Unavailable, 1, first, first).unwrap();
        assert_eq!(t1 - first, 100 * MS);
        let t2 = policy.next_attempt(RetryCause::Unavailable, 2, first, t1).unwrap();
        assert_eq!(t2 - first, 300 * MS);
        assert_eq!(
            policy.attempt_timeout(Duration::from_secs(2), first, t2, 100 * MS),
            Duration::from_secs(2)
        );
        let timed_out = t2 + Duration::from_secs(2);
        let t3 = policy.next_attempt(RetryCause::Timeout, 3, first, timed_out).unwrap();
        assert_eq!(t3 - first, 2700 * MS);
        // The last attempt's timeout ends at the deadline.
        assert_eq!(policy.attempt_timeout(Duration::from_secs(2), first, t3, 100 * MS), 300 * MS);
        // Past the deadline: no more attempts.
        assert_eq!(policy.next_attempt(RetryCause::Timeout, 4, first, t3 + 300 * MS), None);
        assert_eq!(policy.attempt_timeout(Duration::from_secs(2), first, t3 + 300 * MS, 100 * MS), 100 * MS);
    }

    #[test]
    fn waits_and_deadlines_of_duration_max_saturate() {
        use nats_proto::time::NEVER;

        let now = Instant::now();
        let decade = Duration::from_secs(10 * 365 * 86_400);
        // A backoff of Duration::MAX: the next attempt would come never, so there is none.
        let never = PublishRetry::new(10, Duration::MAX, Duration::MAX);
        assert_eq!(never.backoff(u32::MAX), Duration::MAX);
        assert_eq!(never.next_attempt(RetryCause::NoResponders, false, 3, now, now + decade), None);
        // A deadline of never: retries as usual.
        let policy = ApiRetry::new(Duration::MAX, 100 * MS, Duration::MAX);
        assert_eq!(policy.next_attempt(RetryCause::Unavailable, 1, now, now), Some(now + 100 * MS));
        let waits_never = ApiRetry::new(Duration::MAX, Duration::MAX, Duration::MAX);
        assert_eq!(waits_never.next_attempt(RetryCause::Unavailable, 1, now, now), None);
        let later = now + decade;
        assert_eq!(policy.attempt_timeout(Duration::MAX, now, later, 100 * MS), NEVER - decade);
        assert_eq!(
            policy.attempt_timeout(Duration::from_secs(5), now, later, 100 * MS),
            Duration::from_secs(5)
        );
    }

    #[test]
    fn not_enabled_is_retried_only_when_asked() {
        let first = Instant::now();
        let policy = ApiRetry::default();
        assert_eq!(policy.deadline, DEFAULT_API_DEADLINE);
        for cause in [RetryCause::NotEnabled, RetryCause::NoResponders] {
            assert_eq!(policy.next_attempt(cause, 1, first, first), None, "{cause:?}");
            assert!(policy.retry_not_enabled(true).next_attempt(cause, 1, first, first).is_some());
        }
        assert_eq!(ApiRetry::none().next_attempt(RetryCause::Unavailable, 1, first, first), None);
        assert!(!RetryCause::NotEnabled.is_retryable(true), "publishes never see it");
    }
}
