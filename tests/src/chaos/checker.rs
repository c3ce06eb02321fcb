//! The checker: pure functions over recorded histories and a final read of the stream. No
//! IO, no clock: every instant is an offset from the start of the run, so crafted histories
//! test it exactly.
//!
//! What it checks (JetStream's at-least-once promise and a stream's total order):
//! - every acknowledged publish is in the stream at the sequence its ack named (`lost`: the
//!   id is nowhere; `misplaced`: the acked sequence holds another message, an ack the
//!   server never stored);
//! - no message id is stored twice (`duplicates`);
//! - every stored message reached the durable consumer at least once (`undelivered`), and
//!   each delivery named the message the stream holds at that sequence (`corrupt`);
//! - the ordered consumer saw the stream's order: strictly increasing sequences
//!   (`reordered`), no stored sequence skipped (`gaps`), the right message at each;
//! - unknown outcomes (timeouts: stored or not, nobody can say) are counted, not hidden.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::time::Duration;

/// How one publish attempt ended, as the client reported it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Acknowledged: the stream said it stored the message at this sequence.
    Acked {
        /// The acknowledged stream sequence.
        seq: u64,
        /// When the ack arrived (offset from the start of the run).
        at: Duration,
    },
    /// A definite failure, with the client's error text.
    Failed(String),
    /// No answer either way (a timeout, a closed connection mid-flight): the message may
    /// or may not be stored.
    Unknown(String),
}

/// One publish attempt: a message id, unique across the run, and the payload naming it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    /// The publisher that made it (for the report).
    pub publisher: String,
    /// The `Nats-Msg-Id`.
    pub id: String,
    /// When it was sent (offset from the start of the run).
    pub at: Duration,
    /// How it ended.
    pub outcome: Outcome,
}

/// A message a consumer delivered, with its metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// The message id (read from the payload or headers).
    pub id: String,
    /// Its stream sequence (from the ack subject).
    pub stream_seq: u64,
    /// How many times it was delivered (1 the first time).
    pub delivered: u64,
}

/// What the nemesis did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    /// When (offset from the start of the run).
    pub at: Duration,
    /// What, for the log: "kill leader node-1", "pause node-2", ...
    pub what: String,
    /// Whether it took the stream leader down (a leader kill or pause): the publish stall
    /// after it is measured.
    pub leader: bool,
}

/// Everything recorded in one run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct History {
    /// Every publish attempt of every publisher.
    pub attempts: Vec<Attempt>,
    /// The durable consumer's deliveries, in arrival order.
    pub consumer: Vec<Delivery>,
    /// The ordered consumer's deliveries, in arrival order.
    pub ordered: Vec<Delivery>,
    /// The final read of the stream: sequence -> message id.
    pub stream: BTreeMap<u64, String>,
    /// The faults injected.
    pub faults: Vec<Fault>,
}

/// The publish stall after leader faults: from the fault to the first ack of a publish
/// sent after it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stall {
    /// Median.
    pub p50: Duration,
    /// 99th percentile.
    pub p99: Duration,
    /// Worst.
    pub max: Duration,
    /// How many leader faults were measured.
    pub samples: usize,
}

/// The checker's findings. Every field but the counts of what happened is a violation
/// when non-zero (or non-empty).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// Faults injected.
    pub faults: usize,
    /// Publish attempts.
    pub attempts: usize,
    /// Acknowledged.
    pub acked: usize,
    /// Definitely failed.
    pub failed: usize,
    /// Unknown outcome.
    pub unknown: usize,
    /// Of the unknown, how many the stream holds (an unknown outcome may be either).
    pub unacked_but_stored: usize,
    /// Of the failed, how many the stream holds: a publish reported as not stored that
    /// was (a violation: an application would publish it again as a new message).
    pub failed_but_stored: usize,
    /// Failed and unknown outcomes per publisher (the synchronous ones retry, the async
    /// ones do not).
    pub not_acked_by_publisher: BTreeMap<String, (usize, usize)>,
    /// Messages in the stream.
    pub stored: usize,
    /// Acknowledged ids absent from the stream.
    pub lost: usize,
    /// Acknowledged sequences holding another message (or none while the id is
    /// elsewhere): acks the server never stored.
    pub misplaced: usize,
    /// Ids stored more than once (each extra copy counts).
    pub duplicates: usize,
    /// Stored messages the durable consumer never delivered.
    pub undelivered: usize,
    /// Durable deliveries of redelivered messages (delivered count above 1): allowed.
    pub redelivered: usize,
    /// Deliveries (durable or ordered) naming another message than the stream holds at
    /// that sequence, or a sequence the stream does not hold.
    pub corrupt: usize,
    /// Ordered deliveries whose sequence is not above the previous one.
    pub reordered: usize,
    /// Stored sequences the ordered consumer skipped (before its last delivery).
    pub gaps: usize,
    /// Stored messages after the ordered consumer's last delivery (it had not caught up).
    pub ordered_behind: usize,
    /// Publish stall after leader faults.
    pub stall: Stall,
    /// A line per violation, for the failure message.
    pub violations: Vec<String>,
}

/// At most this many violation lines are kept (the counts say the rest).
const MAX_VIOLATION_LINES: usize = 20;

impl Report {
    /// Whether the histories keep every promise: nothing lost, misplaced, duplicated,
    /// undelivered, corrupt, reordered or skipped, and the ordered consumer caught up.
    pub fn ok(&self) -> bool {
        self.lost == 0
            && self.misplaced == 0
            && self.duplicates == 0
            && self.undelivered == 0
            && self.corrupt == 0
            && self.reordered == 0
            && self.gaps == 0
            && self.ordered_behind == 0
            && self.failed_but_stored == 0
    }

    fn violation(&mut self, line: String) {
        if self.violations.len() < MAX_VIOLATION_LINES {
            self.violations.push(line);
        }
    }
}

fn ms(d: Duration) -> String {
    format!("{} ms", d.as_millis())
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rows: [(&str, String); 19] = [
            ("faults injected", self.faults.to_string()),
            ("publish attempts", self.attempts.to_string()),
            ("acked", self.acked.to_string()),
            ("failed", self.failed.to_string()),
            ("unknown", self.unknown.to_string()),
            ("unknown but stored", self.unacked_but_stored.to_string()),
            ("failed but stored", self.failed_but_stored.to_string()),
            ("stored", self.stored.to_string()),
            ("lost", self.lost.to_string()),
            ("misplaced acks", self.misplaced.to_string()),
            ("duplicates", self.duplicates.to_string()),
            ("undelivered (durable)", self.undelivered.to_string()),
            ("redelivered (durable)", self.redelivered.to_string()),
            ("corrupt deliveries", self.corrupt.to_string()),
            ("reordered (ordered)", self.reordered.to_string()),
            ("gaps (ordered)", (self.gaps + self.ordered_behind).to_string()),
            ("stall after leader fault p50", ms(self.stall.p50)),
            ("stall after leader fault p99", ms(self.stall.p99)),
            ("stall after leader fault max", ms(self.stall.max)),
        ];
        writeln!(f, "+------------------------------+------------+")?;
        for (name, value) in rows {
            writeln!(f, "| {name:<28} | {value:>10} |")?;
        }
        writeln!(f, "+------------------------------+------------+")?;
        writeln!(f, "leader faults measured: {}", self.stall.samples)?;
        for (publisher, (failed, unknown)) in &self.not_acked_by_publisher {
            writeln!(f, "not acked by {publisher}: {failed} failed, {unknown} unknown")?;
        }
        for line in &self.violations {
            writeln!(f, "VIOLATION: {line}")?;
        }
        write!(f, "verdict: {}", if self.ok() { "PASS" } else { "FAIL" })
    }
}

/// The `q`-quantile (nearest rank) of sorted `values`.
fn quantile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss, clippy::cast_precision_loss)]
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

/// Checks a run's histories.
pub fn check(history: &History) -> Report {
    let mut report = Report {
        faults: history.faults.len(),
        attempts: history.attempts.len(),
        stored: history.stream.len(),
        ..Report::default()
    };

    // Where each id is stored.
    let mut stored_at: HashMap<&str, Vec<u64>> = HashMap::new();
    for (&seq, id) in &history.stream {
        stored_at.entry(id.as_str()).or_default().push(seq);
    }
    let mut duplicate_lines = Vec::new();
    for (id, seqs) in &stored_at {
        if seqs.len() > 1 {
            report.duplicates += seqs.len() - 1;
            duplicate_lines.push(format!("id {id} stored at sequences {seqs:?}"));
        }
    }
    duplicate_lines.sort();
    for line in duplicate_lines {
        report.violation(line);
    }

    // Publishes.
    let mut ack_times = Vec::new();
    for attempt in &history.attempts {
        match &attempt.outcome {
            Outcome::Acked { seq, at } => {
                report.acked += 1;
                ack_times.push((attempt.at, *at));
                match history.stream.get(seq) {
                    Some(id) if *id == attempt.id => {}
                    held => {
                        let elsewhere = stored_at.get(attempt.id.as_str());
                        if elsewhere.is_none() {
                            report.lost += 1;
                            report.violation(format!(
                                "{} acked at {seq} by {} is not in the stream",
                                attempt.id, attempt.publisher
                            ));
                        } else {
                            report.misplaced += 1;
                            report.violation(format!(
                                "{} acked at {seq} by {}, but {seq} holds {held:?} and the id is at {elsewhere:?}",
                                attempt.id, attempt.publisher
                            ));
                        }
                    }
                }
            }
            Outcome::Failed(error) => {
                report.failed += 1;
                report.not_acked_by_publisher.entry(attempt.publisher.clone()).or_default().0 += 1;
                if let Some(seq) = stored_at.get(attempt.id.as_str()) {
                    report.failed_but_stored += 1;
                    report.violation(format!(
                        "{} by {} failed as not stored ({error}), yet the stream holds it at {seq:?}",
                        attempt.id, attempt.publisher
                    ));
                }
            }
            Outcome::Unknown(_) => {
                report.unknown += 1;
                report.not_acked_by_publisher.entry(attempt.publisher.clone()).or_default().1 += 1;
                if stored_at.contains_key(attempt.id.as_str()) {
                    report.unacked_but_stored += 1;
                }
            }
        }
    }

    // The durable consumer.
    let mut delivered: HashSet<u64> = HashSet::new();
    for d in &history.consumer {
        if d.delivered > 1 {
            report.redelivered += 1;
        }
        if history.stream.get(&d.stream_seq) == Some(&d.id) {
            delivered.insert(d.stream_seq);
        } else {
            report.corrupt += 1;
            report.violation(format!(
                "durable delivery of {} at {} but the stream holds {:?}",
                d.id,
                d.stream_seq,
                history.stream.get(&d.stream_seq)
            ));
        }
    }
    for (&seq, id) in &history.stream {
        if !delivered.contains(&seq) {
            report.undelivered += 1;
            report.violation(format!("{id} at {seq} never reached the durable consumer"));
        }
    }

    // The ordered consumer: it must walk the stream's sequences one by one.
    let mut expected = history.stream.iter().peekable();
    let mut last: u64 = 0;
    for d in &history.ordered {
        if d.stream_seq <= last {
            report.reordered += 1;
            report.violation(format!("ordered delivery of {} at {} after {last}", d.id, d.stream_seq));
            continue;
        }
        last = d.stream_seq;
        while let Some((&seq, id)) = expected.peek() {
            if seq >= d.stream_seq {
                break;
            }
            report.gaps += 1;
            report.violation(format!("ordered replay skipped {id} at {seq}"));
            expected.next();
        }
        match expected.peek() {
            Some((&seq, id)) if seq == d.stream_seq && **id == d.id => {
                expected.next();
            }
            _ => {
                report.corrupt += 1;
                report.violation(format!(
                    "ordered delivery of {} at {} but the stream holds {:?}",
                    d.id,
                    d.stream_seq,
                    history.stream.get(&d.stream_seq)
                ));
                if expected.peek().is_some_and(|(&seq, _)| seq == d.stream_seq) {
                    expected.next();
                }
            }
        }
    }
    let behind = expected.count();
    if behind > 0 {
        report.ordered_behind = behind;
        report.violation(format!("ordered replay stopped at {last} with {behind} stored messages after it"));
    }

    // Stall: from each leader fault to the first ack of a publish sent after it (acks of
    // publishes sent before it may still trickle in from the old leader).
    let mut stalls: Vec<Duration> = history
        .faults
        .iter()
        .filter(|f| f.leader)
        .filter_map(|f| {
            ack_times
                .iter()
                .filter(|(sent, _)| *sent >= f.at)
                .map(|(_, acked)| *acked)
                .min()
                .map(|t| t - f.at)
        })
        .collect();
    stalls.sort();
    report.stall = Stall {
        p50: quantile(&stalls, 0.5),
        p99: quantile(&stalls, 0.99),
        max: stalls.last().copied().unwrap_or_default(),
        samples: stalls.len(),
    };
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: u64) -> Duration {
        Duration::from_millis(ms)
    }

    fn acked(id: &str, seq: u64) -> Attempt {
        Attempt {
            publisher: "p".into(),
            id: id.into(),
            at: at(seq * 10),
            outcome: Outcome::Acked { seq, at: at(seq * 10 + 1) },
        }
    }

    fn delivery(id: &str, seq: u64) -> Delivery {
        Delivery { id: id.into(), stream_seq: seq, delivered: 1 }
    }

    /// Three messages, acked, stored, delivered and replayed in order.
    fn clean() -> History {
        let ids = ["a", "b", "c"];
        History {
            attempts: ids.iter().zip(1..).map(|(id, seq)| acked(id, seq)).collect(),
            consumer: ids.iter().zip(1..).map(|(id, seq)| delivery(id, seq)).collect(),
            ordered: ids.iter().zip(1..).map(|(id, seq)| delivery(id, seq)).collect(),
            stream: ids.iter().zip(1..).map(|(id, seq)| (seq, (*id).to_owned())).collect(),
            faults: Vec::new(),
        }
    }

    #[test]
    fn a_clean_history_passes() {
        let report = check(&clean());
        assert!(report.ok(), "{report}");
        assert_eq!((report.attempts, report.acked, report.stored), (3, 3, 3));
        assert!(report.to_string().ends_with("verdict: PASS"));
    }

    #[test]
    fn a_lost_ack_is_flagged() {
        let mut h = clean();
        h.stream.remove(&2);
        h.consumer.retain(|d| d.stream_seq != 2);
        h.ordered.retain(|d| d.stream_seq != 2);
        let report = check(&h);
        assert_eq!(report.lost, 1, "{report}");
        assert!(!report.ok());
        assert!(report.to_string().ends_with("verdict: FAIL"));
    }

    #[test]
    fn a_duplicate_id_is_flagged() {
        let mut h = clean();
        h.stream.insert(4, "b".into());
        h.consumer.push(delivery("b", 4));
        h.ordered.push(delivery("b", 4));
        let report = check(&h);
        assert_eq!(report.duplicates, 1, "{report}");
        assert_eq!((report.lost, report.misplaced), (0, 0));
        assert!(!report.ok());
    }

    #[test]
    fn a_gap_in_ordered_replay_is_flagged() {
        let mut h = clean();
        h.ordered.remove(1);
        let report = check(&h);
        assert_eq!(report.gaps, 1, "{report}");
        assert_eq!(report.reordered, 0);
        assert!(!report.ok());
    }

    #[test]
    fn an_ordered_replay_that_stops_early_is_flagged() {
        let mut h = clean();
        h.ordered.pop();
        let report = check(&h);
        assert_eq!(report.ordered_behind, 1, "{report}");
        assert!(!report.ok());
    }

    #[test]
    fn a_reorder_is_flagged() {
        let mut h = clean();
        h.ordered.swap(1, 2);
        let report = check(&h);
        assert!(report.reordered >= 1, "{report}");
        assert!(!report.ok());
    }

    #[test]
    fn an_ack_the_server_never_stored_is_flagged() {
        // "b" was acked at 2, but 2 holds "x"; "b" itself is at 4.
        let mut h = clean();
        h.stream.insert(2, "x".into());
        h.stream.insert(4, "b".into());
        h.consumer = vec![delivery("a", 1), delivery("x", 2), delivery("c", 3), delivery("b", 4)];
        h.ordered = h.consumer.clone();
        let report = check(&h);
        assert_eq!(report.misplaced, 1, "{report}");
        assert_eq!(report.lost, 0);
        assert!(!report.ok());
    }

    #[test]
    fn an_undelivered_message_and_a_corrupt_delivery_are_flagged() {
        let mut h = clean();
        h.consumer.remove(0);
        h.consumer.push(delivery("z", 2));
        let report = check(&h);
        assert_eq!((report.undelivered, report.corrupt), (1, 1), "{report}");
        assert!(!report.ok());
    }

    #[test]
    fn unknown_outcomes_and_redeliveries_are_counted_not_failed() {
        let mut h = clean();
        h.attempts[2].outcome = Outcome::Unknown("timeout".into());
        h.attempts.push(Attempt {
            publisher: "p".into(),
            id: "d".into(),
            at: at(50),
            outcome: Outcome::Failed("no responders".into()),
        });
        h.consumer.push(Delivery { id: "a".into(), stream_seq: 1, delivered: 2 });
        let report = check(&h);
        assert!(report.ok(), "{report}");
        assert_eq!(
            (report.unknown, report.failed, report.unacked_but_stored, report.redelivered),
            (1, 1, 1, 1)
        );
    }

    #[test]
    fn a_failure_the_stream_holds_anyway_is_a_violation() {
        let mut h = clean();
        h.attempts[2].outcome = Outcome::Failed("no responders".into());
        let report = check(&h);
        assert_eq!((report.failed, report.failed_but_stored), (1, 1), "{report}");
        assert!(!report.ok());
    }

    #[test]
    fn stall_after_leader_faults() {
        let mut h = clean();
        // Acks at 11, 21, 31 ms.
        h.faults = vec![
            Fault { at: at(5), what: "kill leader".into(), leader: true },
            Fault { at: at(12), what: "pause other".into(), leader: false },
            Fault { at: at(15), what: "pause leader".into(), leader: true },
            Fault { at: at(40), what: "kill leader".into(), leader: true },
        ];
        let report = check(&h);
        // 6 ms and 6 ms; the last has no ack after it.
        assert_eq!(report.stall, Stall { p50: at(6), p99: at(6), max: at(6), samples: 2 });
        assert_eq!(report.faults, 4);
    }

    #[test]
    fn quantiles() {
        let v: Vec<Duration> = (1..=100).map(at).collect();
        assert_eq!(quantile(&v, 0.5), at(50));
        assert_eq!(quantile(&v, 0.99), at(99));
        assert_eq!(quantile(&[], 0.5), Duration::ZERO);
    }
}
