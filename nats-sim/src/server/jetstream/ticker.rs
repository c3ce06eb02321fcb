//! The ticker task that runs the model's timed work and routes what it sends.

use std::collections::BTreeMap;
use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::task::{Poll, Waker};
use std::time::Duration;

use super::Answer;
use crate::executor::{lock, Sleep};
use crate::net::Net;
use crate::server::{subject, Cluster, ClusterState, Publish};

#[derive(Debug, Default)]
pub(super) struct TickerState {
    running: bool,
    pub(super) waker: Option<Waker>,
    /// When the ticker wakes next, if it has a deadline.
    pub(super) at: Option<Duration>,
}

/// Starts the task that does what the JetStream model has due (`JetStream::tick`) and
/// routes it: deliveries, redeliveries, pull request expiry and heartbeats. It sleeps until
/// the model's next deadline, and the model wakes it when a message, request or ack
/// brings work sooner. Does nothing without JetStream or when the task runs already; the
/// task ends with the run ([`Sim::block_on`](crate::executor::Sim::block_on) drops it),
/// after which it may be started again.
pub fn spawn_ticker(cluster: &Cluster) {
    {
        let mut state = lock(&cluster.0.state);
        let Some(js) = state.jetstream.as_mut() else { return };
        if js.ticker.running {
            return;
        }
        js.ticker.running = true;
    }
    let sim = cluster.0.net.sim().clone();
    let cluster = cluster.clone();
    sim.clone().spawn(async move {
        let _running = TickerRunning(cluster.clone());
        let mut sleep: Option<(Duration, Sleep)> = None;
        poll_fn(|cx| loop {
            let next = {
                let mut state = lock(&cluster.0.state);
                let now = sim.elapsed();
                let ClusterState { servers, conns, jetstream, .. } = &mut *state;
                let Some(js) = jetstream.as_mut() else { return Poll::Ready(()) };
                let interest = |to: &str| {
                    conns.values().any(|c| {
                        c.connected
                            && servers.get(c.server).is_some_and(|s| s.up)
                            && c.subs.values().any(|s| subject::matches(&s.subject, to))
                    })
                };
                let answers = js.tick(&sim, &interest);
                let next = js.next_deadline(now);
                js.ticker.waker = Some(cx.waker().clone());
                js.ticker.at = next;
                route(&mut state, &cluster.0.net, cluster.0.config.max_pending, &answers);
                next
            };
            let Some(at) = next else {
                sleep = None;
                return Poll::Pending;
            };
            if sleep.as_ref().is_none_or(|(planned, _)| *planned != at) {
                sleep = Some((at, sim.sleep_until(at)));
            }
            let Some((_, timer)) = sleep.as_mut() else { return Poll::Pending };
            if Pin::new(timer).poll(cx).is_pending() {
                return Poll::Pending;
            }
            sleep = None;
        })
        .await;
    });
}

/// Marks the ticker stopped when its task is dropped.
struct TickerRunning(Cluster);

impl Drop for TickerRunning {
    fn drop(&mut self) {
        if let Some(js) = lock(&self.0 .0.state).jetstream.as_mut() {
            js.ticker = TickerState::default();
        }
    }
}

/// Routes the model's messages: plain ones as any publish, deliveries to their inbox's
/// subscriptions showing the stored message's subject.
fn route(state: &mut ClusterState, net: &Net, max_pending: usize, answers: &[Answer]) {
    for answer in answers {
        let Some(shown) = &answer.shown_as else {
            let msg = Publish {
                subject: &answer.subject,
                reply: answer.reply.as_deref(),
                headers: answer.headers.as_deref(),
                payload: &answer.payload,
            };
            state.route(net, max_pending, None, &msg);
            continue;
        };
        let mut targets = Vec::new();
        let mut groups: BTreeMap<&str, Vec<(u64, String)>> = BTreeMap::new();
        for (&cid, conn) in &state.conns {
            if !conn.connected || !state.servers.get(conn.server).is_some_and(|s| s.up) {
                continue;
            }
            for (sid, sub) in &conn.subs {
                if subject::matches(&sub.subject, &answer.subject) {
                    match &sub.queue {
                        Some(queue) => groups.entry(queue.as_str()).or_default().push((cid, sid.clone())),
                        None => targets.push((cid, sid.clone())),
                    }
                }
            }
        }
        for members in groups.into_values() {
            let pick = net.sim().with_rng(|rng| rng.below(members.len() as u64));
            if let Some(member) = members.into_iter().nth(usize::try_from(pick).unwrap_or(0)) {
                targets.push(member);
            }
        }
        let msg = Publish {
            subject: shown,
            reply: answer.reply.as_deref(),
            headers: answer.headers.as_deref(),
            payload: &answer.payload,
        };
        for (cid, sid) in targets {
            state.deliver(net, max_pending, cid, &sid, &msg);
        }
    }
}
