//! One client connection's task on a simulated server: writes what is queued for the
//! client, PINGs it, reads and handles its operations.

use std::future::poll_fn;
use std::pin::Pin;
use std::task::Poll;

use futures_io::{AsyncRead, AsyncWrite};

use super::parse::{parse, ClientOp, ParseError};
use super::{auth, subject, Close, Cluster, ClusterState, Info, Publish, Sub};
use crate::executor::lock;
use crate::net::SimStream;

/// Serves connection `cid` until it closes.
pub(super) async fn serve(cluster: Cluster, cid: u64, mut stream: SimStream) {
    let sim = cluster.0.net.sim().clone();
    let interval = cluster.0.config.ping_interval;
    let mut ping = sim.sleep(interval);
    let mut input = Vec::new();
    let mut chunk = vec![0u8; 16 * 1024];
    poll_fn(|cx| loop {
        {
            let mut state = lock(&cluster.0.state);
            let Some(conn) = state.conns.get_mut(&cid) else { return Poll::Ready(()) };
            conn.waker = Some(cx.waker().clone());
            while !conn.out.is_empty() {
                match Pin::new(&mut stream).poll_write(cx, &conn.out) {
                    Poll::Ready(Ok(n)) => drop(conn.out.drain(..n)),
                    Poll::Ready(Err(_)) => {
                        state.conns.remove(&cid);
                        return Poll::Ready(());
                    }
                    Poll::Pending => break,
                }
            }
            if conn.close == Some(Close::Now) || (conn.close.is_some() && conn.out.is_empty()) {
                state.conns.remove(&cid);
                drop(state);
                stream.shutdown();
                return Poll::Ready(());
            }
        }
        if Pin::new(&mut ping).poll(cx).is_ready() {
            let mut state = lock(&cluster.0.state);
            let max = cluster.0.config.ping_max;
            if let Some(conn) = state.conns.get_mut(&cid) {
                if conn.pings_out >= max {
                    state.fail(cid, "Stale Connection");
                } else {
                    conn.pings_out += 1;
                    state.send(cid, b"PING\r\n");
                }
            }
            ping = sim.sleep(interval);
            continue;
        }
        match Pin::new(&mut stream).poll_read(cx, &mut chunk) {
            Poll::Ready(Ok(0) | Err(_)) => {
                lock(&cluster.0.state).conns.remove(&cid);
                return Poll::Ready(());
            }
            Poll::Ready(Ok(n)) => {
                input.extend_from_slice(&chunk[..n]);
                handle_input(&cluster, cid, &mut input);
            }
            Poll::Pending => return Poll::Pending,
        }
    })
    .await;
}

use std::future::Future;

/// Whether the servers' version sends an INFO with `connect_info` after the first PONG
/// (nats-server 2.12 and later).
fn sends_connect_info(config: &super::ServerConfig) -> bool {
    nats_client::ServerVersion::parse(&config.version)
        .is_none_or(|v| v >= nats_client::ServerVersion::new(2, 12, 0))
}

/// Handles every complete operation at the front of `input`.
fn handle_input(cluster: &Cluster, cid: u64, input: &mut Vec<u8>) {
    let config = &cluster.0.config;
    let mut state = lock(&cluster.0.state);
    let mut used = 0;
    loop {
        if state.conns.get(&cid).is_none_or(|c| c.close.is_some()) {
            break;
        }
        match parse(&input[used..], config.max_payload) {
            Ok(Some((op, n))) => {
                used += n;
                handle(cluster, &mut state, cid, op);
            }
            Ok(None) => break,
            Err(ParseError::Err(text)) => {
                state.fail(cid, text);
                break;
            }
            Err(ParseError::Silent) => {
                if let Some(conn) = state.conns.get_mut(&cid) {
                    conn.close = Some(Close::Now);
                }
                break;
            }
        }
    }
    input.drain(..used.min(input.len()));
}

fn handle(cluster: &Cluster, state: &mut ClusterState, cid: u64, op: ClientOp) {
    let config = &cluster.0.config;
    let net = &cluster.0.net;
    let Some(conn) = state.conns.get_mut(&cid) else { return };
    if !conn.connected && !matches!(op, ClientOp::Connect(_)) && auth::required(config) {
        state.fail(cid, "Authorization Violation");
        return;
    }
    let ok = conn.verbose && conn.connected;
    match op {
        ClientOp::Connect(json) => {
            let Ok(connect) = serde_json::from_str::<serde_json::Value>(&json) else {
                conn.close = Some(Close::Now);
                return;
            };
            if !auth::authorized(config, conn.nonce.as_deref(), &connect) {
                state.fail(cid, "Authorization Violation");
                return;
            }
            let flag =
                |name: &str, default: bool| connect.get(name).and_then(|v| v.as_bool()).unwrap_or(default);
            conn.verbose = flag("verbose", true);
            conn.echo = flag("echo", true);
            conn.headers = flag("headers", false);
            conn.no_responders = flag("no_responders", false);
            if conn.no_responders && !conn.headers {
                state.fail(cid, "no responders requires headers support");
                return;
            }
            conn.protocol = connect.get("protocol").and_then(serde_json::Value::as_u64).unwrap_or(0);
            conn.connected = true;
            if conn.verbose {
                state.send(cid, b"+OK\r\n");
            }
        }
        ClientOp::Ping => {
            let connect_info =
                conn.connected && !conn.first_pong_sent && conn.protocol >= 1 && sends_connect_info(config);
            conn.first_pong_sent |= conn.connected;
            state.send(cid, b"PONG\r\n");
            if connect_info {
                let info = cluster.info(state, cid, Info::Bound);
                state.send(cid, info.as_bytes());
            }
        }
        ClientOp::Pong => conn.pings_out = 0,
        ClientOp::Sub { subject, queue, sid } => {
            if !subject::valid_filter(&subject) {
                state.send(cid, b"-ERR 'Invalid Subject'\r\n");
                return;
            }
            conn.subs.entry(sid).or_insert(Sub { subject, queue, max: None, delivered: 0 });
            if ok {
                state.send(cid, b"+OK\r\n");
            }
        }
        ClientOp::Unsub { sid, max } => {
            match (conn.subs.get_mut(&sid), max) {
                (Some(sub), Some(max)) if sub.delivered < max => sub.max = Some(max),
                (Some(_), _) => drop(conn.subs.remove(&sid)),
                (None, _) => {}
            }
            if ok {
                state.send(cid, b"+OK\r\n");
            }
        }
        ClientOp::Pub { subject, reply, headers, payload } => {
            if headers.is_some() && !conn.headers {
                conn.close = Some(Close::Now);
                return;
            }
            let no_responders = conn.no_responders;
            if ok {
                state.send(cid, b"+OK\r\n");
            }
            let msg = Publish {
                subject: &subject,
                reply: reply.as_deref(),
                headers: headers.as_deref(),
                payload: &payload,
            };
            let mut delivered = state.route(net, config.max_pending, Some(cid), &msg);
            if let Some(js) = state.jetstream.as_mut() {
                let answers = js.handle(net.sim(), &msg);
                delivered += usize::from(answers.handled);
                for answer in answers.replies {
                    let reply = Publish {
                        subject: &answer.subject,
                        reply: answer.reply.as_deref(),
                        headers: answer.headers.as_deref(),
                        payload: &answer.payload,
                    };
                    state.route(net, config.max_pending, None, &reply);
                }
            }
            if delivered == 0 && no_responders {
                if let Some(reply) = &reply {
                    state.status(net, cid, reply, b"NATS/1.0 503\r\n\r\n");
                }
            }
        }
    }
}
