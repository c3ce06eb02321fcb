//! Request/reply: the shared inbox subscription and the table of in-flight requests with
//! their reply counts. Every request leaves the table when it completes, times out, is
//! cancelled or the connection closes. Deadlines live in the timer table.

use crate::prelude::*;

use core::fmt::Write as _;

use hashbrown::HashMap;

use super::event::{RequestId, RequestOutcome};
use crate::{sid::Sid, subject::Subject};

/// How many replies a request waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Expected {
    /// End after this many replies (nats.py's `expected=N`; 1 for a plain request).
    Count(usize),
    /// Collect replies until the deadline (scatter-gather).
    UntilTimeout,
}

#[derive(Debug)]
struct Request {
    expected: Expected,
    replies: usize,
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

#[derive(Debug)]
pub(crate) struct Requests {
    /// The base of inbox subjects (`_INBOX` by default).
    inbox_prefix: Subject,
    /// The shared inbox: its sid and subject prefix (ending with `.`), once created.
    inbox: Option<(Sid, String)>,
    live: HashMap<u64, Request>,
    next_token: u64,
    /// The reply subject being written ([`reply_subject`](Self::reply_subject)); its room
    /// is reused from request to request.
    reply: String,
}

impl Requests {
    pub(crate) fn new(inbox_prefix: Subject) -> Self {
        Self { inbox_prefix, inbox: None, live: HashMap::new(), next_token: 0, reply: String::new() }
    }

    /// The reply subject of request `id` on the shared inbox (which must exist), in a
    /// buffer reused from request to request: give it back with
    /// [`reuse_reply_subject`](Self::reuse_reply_subject).
    pub(crate) fn reply_subject(&mut self, id: RequestId) -> String {
        let mut reply = core::mem::take(&mut self.reply);
        reply.clear();
        reply.push_str(self.inbox().expect("the inbox exists"));
        // Writing to a String cannot fail.
        let _ = write!(reply, "{}", id.0);
        reply
    }

    /// Takes back the buffer of [`reply_subject`](Self::reply_subject).
    pub(crate) fn reuse_reply_subject(&mut self, reply: String) {
        self.reply = reply;
    }

    /// The prefix of this connection's inbox subjects, if the inbox exists.
    pub(crate) fn inbox(&self) -> Option<&str> {
        self.inbox.as_ref().map(|(_, prefix)| prefix.as_str())
    }

    /// The inbox subscription `SUBJECT.*` to create with `token` as its random part; the
    /// caller subscribes and reports the sid with [`set_inbox`](Self::set_inbox).
    pub(crate) fn inbox_subject(&self, token: &str) -> (String, Subject) {
        let prefix = format!("{}.{token}.", self.inbox_prefix);
        let subject = Subject::new(format!("{prefix}*")).expect("inbox subjects are valid");
        (prefix, subject)
    }

    pub(crate) fn set_inbox(&mut self, sid: Sid, prefix: String) {
        self.inbox = Some((sid, prefix));
    }

    /// The inbox subscription ended (drain).
    pub(crate) fn forget_inbox(&mut self) {
        self.inbox = None;
    }

    /// The request token a reply subject carries, if it is one of ours.
    pub(crate) fn token_of(&self, subject: &str) -> Option<u64> {
        let prefix = self.inbox()?;
        subject.strip_prefix(prefix)?.parse().ok()
    }

    pub(crate) fn insert(&mut self, expected: Expected) -> RequestId {
        self.next_token += 1;
        let token = self.next_token;
        self.live.insert(token, Request { expected, replies: 0 });
        RequestId(token)
    }

    pub(crate) fn len(&self) -> usize {
        self.live.len()
    }

    /// Routes a reply with the inbox `token`.
    pub(crate) fn route(&mut self, token: u64, no_responders: bool) -> Routed {
        let Some(request) = self.live.get_mut(&token) else { return Routed::Unknown };
        if no_responders {
            let replies = request.replies;
            self.live.remove(&token);
            return Routed::NoResponders { replies };
        }
        request.replies += 1;
        let replies = request.replies;
        match request.expected {
            Expected::Count(n) if replies >= n => {
                self.live.remove(&token);
                Routed::Reply { end: Some((RequestOutcome::Completed, replies)) }
            }
            _ => Routed::Reply { end: None },
        }
    }

    /// Removes a request (cancelled or timed out); returns its reply count if it was live.
    pub(crate) fn remove(&mut self, id: RequestId) -> Option<usize> {
        self.live.remove(&id.0).map(|r| r.replies)
    }

    /// Removes every request.
    pub(crate) fn drain_all(&mut self) -> Vec<(RequestId, usize)> {
        let mut all: Vec<_> = self.live.drain().map(|(token, r)| (RequestId(token), r.replies)).collect();
        all.sort_unstable();
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn requests() -> Requests {
        Requests::new(Subject::new("_INBOX").unwrap())
    }

    #[test]
    fn counts_and_removal() {
        let mut requests = requests();
        let one = requests.insert(Expected::Count(1));
        let two = requests.insert(Expected::Count(2));
        let all = requests.insert(Expected::UntilTimeout);
        assert_eq!(requests.route(one.0, false), Routed::Reply { end: Some((RequestOutcome::Completed, 1)) });
        assert_eq!(requests.route(one.0, false), Routed::Unknown, "a late reply");
        assert_eq!(requests.route(two.0, false), Routed::Reply { end: None });
        assert_eq!(requests.route(all.0, false), Routed::Reply { end: None });
        assert_eq!(requests.remove(two), Some(1));
        assert_eq!(requests.remove(all), Some(1));
        assert_eq!(requests.remove(all), None);
        assert_eq!(requests.len(), 0);
    }

    #[test]
    fn no_responders_removes() {
        let mut requests = requests();
        let id = requests.insert(Expected::Count(1));
        assert_eq!(requests.route(id.0, true), Routed::NoResponders { replies: 0 });
        assert_eq!(requests.len(), 0);
    }

    #[test]
    fn inbox_tokens() {
        let mut requests = requests();
        assert_eq!(requests.token_of("_INBOX.abc.1"), None, "no inbox yet");
        let (prefix, subject) = requests.inbox_subject("abc");
        assert_eq!(subject.as_str(), "_INBOX.abc.*");
        requests.set_inbox(Sid(1), prefix);
        assert_eq!(requests.token_of("_INBOX.abc.17"), Some(17));
        assert_eq!(requests.token_of("_INBOX.abc.x"), None);
        assert_eq!(requests.token_of("other.17"), None);
        requests.forget_inbox();
        assert_eq!(requests.inbox(), None);
    }
}
