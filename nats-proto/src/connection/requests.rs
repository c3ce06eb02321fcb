//! The request table: in-flight requests on the shared inbox, their deadlines and reply
//! counts. Every request leaves the table when it completes, times out, is cancelled or
//! the connection closes.

use std::collections::{BTreeSet, HashMap};
use std::time::Instant;

use super::event::{RequestId, RequestOutcome};

/// How many replies a request waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Expected {
    /// End after this many replies (the seed's `expected=N`; 1 for a plain request).
    Count(usize),
    /// Collect replies until the deadline (scatter-gather).
    UntilTimeout,
}

#[derive(Debug)]
struct Request {
    expected: Expected,
    replies: usize,
    deadline: Instant,
}

/// The result of routing one reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Routed {
    /// No such request (late, or unknown token): drop the reply.
    Unknown,
    /// A reply; `end` is set when the request is now complete (and removed).
    Reply { end: Option<(RequestOutcome, usize)> },
    /// A no-responders status: the request is removed.
    NoResponders { replies: usize },
}

#[derive(Debug, Default)]
pub(crate) struct Requests {
    live: HashMap<u64, Request>,
    deadlines: BTreeSet<(Instant, u64)>,
    next_token: u64,
}

impl Requests {
    pub(crate) fn insert(&mut self, expected: Expected, deadline: Instant) -> RequestId {
        self.next_token += 1;
        let token = self.next_token;
        self.live.insert(token, Request { expected, replies: 0, deadline });
        self.deadlines.insert((deadline, token));
        RequestId(token)
    }

    pub(crate) fn len(&self) -> usize {
        self.live.len()
    }

    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.deadlines.first().map(|&(at, _)| at)
    }

    fn remove(&mut self, token: u64) -> Option<Request> {
        let request = self.live.remove(&token)?;
        self.deadlines.remove(&(request.deadline, token));
        Some(request)
    }

    /// Routes a reply with the inbox `token`.
    pub(crate) fn route(&mut self, token: u64, no_responders: bool) -> Routed {
        let Some(request) = self.live.get_mut(&token) else { return Routed::Unknown };
        if no_responders {
            let replies = request.replies;
            self.remove(token);
            return Routed::NoResponders { replies };
        }
        request.replies += 1;
        let replies = request.replies;
        match request.expected {
            Expected::Count(n) if replies >= n => {
                self.remove(token);
                Routed::Reply { end: Some((RequestOutcome::Completed, replies)) }
            }
            _ => Routed::Reply { end: None },
        }
    }

    /// Removes a request; returns its reply count if it was live.
    pub(crate) fn cancel(&mut self, id: RequestId) -> Option<usize> {
        self.remove(id.0).map(|r| r.replies)
    }

    /// Removes and returns every request whose deadline is at or before `now`.
    pub(crate) fn expire(&mut self, now: Instant) -> Vec<(RequestId, usize)> {
        let mut expired = Vec::new();
        while let Some(&(at, token)) = self.deadlines.first() {
            if at > now {
                break;
            }
            if let Some(request) = self.remove(token) {
                expired.push((RequestId(token), request.replies));
            }
        }
        expired
    }

    /// Removes every request.
    pub(crate) fn drain_all(&mut self) -> Vec<(RequestId, usize)> {
        self.deadlines.clear();
        let mut all: Vec<_> = self.live.drain().map(|(token, r)| (RequestId(token), r.replies)).collect();
        all.sort_unstable();
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn counts_expire_and_cancel() {
        let t0 = Instant::now();
        let mut requests = Requests::default();
        let one = requests.insert(Expected::Count(1), t0 + Duration::from_secs(1));
        let two = requests.insert(Expected::Count(2), t0 + Duration::from_secs(2));
        let all = requests.insert(Expected::UntilTimeout, t0 + Duration::from_secs(3));
        assert_eq!(requests.next_deadline(), Some(t0 + Duration::from_secs(1)));
        assert_eq!(requests.route(one.0, false), Routed::Reply { end: Some((RequestOutcome::Completed, 1)) });
        assert_eq!(requests.route(one.0, false), Routed::Unknown, "a late reply");
        assert_eq!(requests.route(two.0, false), Routed::Reply { end: None });
        assert_eq!(requests.route(all.0, false), Routed::Reply { end: None });
        assert_eq!(requests.expire(t0 + Duration::from_secs(2)), [(two, 1)]);
        assert_eq!(requests.cancel(all), Some(1));
        assert_eq!(requests.cancel(all), None);
        assert_eq!(requests.len(), 0);
        assert_eq!(requests.next_deadline(), None);
    }

    #[test]
    fn no_responders_removes() {
        let t0 = Instant::now();
        let mut requests = Requests::default();
        let id = requests.insert(Expected::Count(1), t0);
        assert_eq!(requests.route(id.0, true), Routed::NoResponders { replies: 0 });
        assert_eq!(requests.len(), 0);
        assert!(requests.deadlines.is_empty());
    }
}
