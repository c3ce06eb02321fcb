//! The chaos schedule: faults drawn from the run's seed, applied to the network and the
//! servers until a given time, then healed.
//!
//! Faults: a server restart (down for a while; what was in flight is lost), a server in
//! lame-duck mode (then stopped, then restarted), a connection reset, a stalled direction
//! (a client that stops reading, or a server that stops answering: slow-consumer and
//! stale-connection cut-offs follow when it lasts), a partition between a host and a
//! server, a JetStream leader election (the API answers 503 meanwhile), and now and then an
//! outage of every server at once.

use std::time::Duration;

use crate::net::{Net, Side};
use crate::server::Cluster;

/// What the schedule may do, and until when.
#[derive(Debug, Clone)]
pub struct Chaos {
    /// No new fault starts after this virtual time.
    pub until: Duration,
    /// Time between faults, drawn from this range.
    pub gap: (Duration, Duration),
    /// The longest a fault lasts (stalls, partitions, downtime).
    pub longest: Duration,
    /// The client hosts that partitions may cut off.
    pub hosts: Vec<u32>,
}

/// The kinds of fault, for counting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Fault {
    /// A server stopped and started again.
    Restart,
    /// A server put in lame-duck mode, stopped after its grace period, started again.
    LameDuck,
    /// A connection reset.
    Reset,
    /// One direction of a connection held back.
    Stall,
    /// A host cut off from a server.
    Partition,
    /// A JetStream leader election.
    Election,
    /// Every server down at once, then started again.
    Outage,
}

impl Chaos {
    /// Applies faults until `self.until`; returns the faults applied and the virtual time
    /// by which all of them are healed (every server up, no stall or partition left).
    pub async fn run(self, net: Net, cluster: Cluster) -> (Vec<Fault>, Duration) {
        let sim = net.sim().clone();
        let mut faults = Vec::new();
        let mut healed = Duration::ZERO;
        let ms = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        loop {
            let gap = sim.with_rng(|rng| rng.between(ms(self.gap.0), ms(self.gap.1)));
            sim.sleep(Duration::from_millis(gap)).await;
            let now = sim.elapsed();
            if now >= self.until {
                break;
            }
            let span = Duration::from_millis(sim.with_rng(|rng| rng.between(10, ms(self.longest))));
            let up: Vec<usize> = (0..cluster.len()).filter(|&i| cluster.is_up(i)).collect();
            let links = net.links();
            // Elections (5) only with JetStream.
            let kinds: &[u64] = if cluster.with_jetstream(|_| ()).is_some() {
                &[0, 1, 2, 3, 4, 5, 6]
            } else {
                &[0, 1, 2, 3, 4, 6]
            };
            let kind = kinds[sim.with_rng(|rng| rng.index(kinds.len()))];
            // Outages are rarer than the other faults: one draw in three of their share.
            let kind = if kind == 6 && sim.with_rng(|rng| !rng.chance(33)) { 0 } else { kind };
            let fault = match kind {
                0 | 1 if up.len() > 1 => {
                    let server = up[sim.with_rng(|rng| rng.index(up.len()))];
                    let lame = kind == 1;
                    if lame {
                        cluster.lame_duck(server);
                    } else {
                        cluster.stop(server);
                    }
                    let (cluster, sim2) = (cluster.clone(), sim.clone());
                    let down_for = span + if lame { Duration::from_secs(3) } else { Duration::ZERO };
                    sim.spawn(async move {
                        sim2.sleep(down_for).await;
                        cluster.start(server);
                    });
                    healed = healed.max(now + down_for);
                    if lame {
                        Fault::LameDuck
                    } else {
                        Fault::Restart
                    }
                }
                2 if !links.is_empty() => {
                    let link = &links[sim.with_rng(|rng| rng.index(links.len()))];
                    net.reset(link.id);
                    Fault::Reset
                }
                3 if !links.is_empty() => {
                    let link = &links[sim.with_rng(|rng| rng.index(links.len()))];
                    let side = if sim.with_rng(|rng| rng.chance(70)) { Side::Server } else { Side::Client };
                    net.stall(link.id, side, now + span);
                    healed = healed.max(now + span);
                    Fault::Stall
                }
                4 if !self.hosts.is_empty() => {
                    let host = self.hosts[sim.with_rng(|rng| rng.index(self.hosts.len()))];
                    let server = sim.with_rng(|rng| rng.index(cluster.len()));
                    net.partition(host, &Cluster::address(server), now + span);
                    healed = healed.max(now + span);
                    Fault::Partition
                }
                5 => {
                    cluster.with_jetstream(|js| js.elect(now + span));
                    healed = healed.max(now + span);
                    Fault::Election
                }
                6 if !up.is_empty() => {
                    for &server in &up {
                        cluster.stop(server);
                    }
                    let (cluster, sim2) = (cluster.clone(), sim.clone());
                    sim.spawn(async move {
                        sim2.sleep(span).await;
                        for server in up {
                            cluster.start(server);
                        }
                    });
                    healed = healed.max(now + span);
                    Fault::Outage
                }
                _ => continue,
            };
            faults.push(fault);
        }
        (faults, healed.max(sim.elapsed()))
    }
}
