//! Connection events for users ([`ClientEvent`]), as the [`Events`](crate::Events) stream
//! and the callbacks set in [`ConnectOptions`](crate::ConnectOptions) hand them out.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use nats_proto::{Connection, ConnectionError, Event, ServerAddr, ServerError, Sid, Subject, Undeliverable};

/// Something that happened to the connection (nats.py's callbacks: disconnected,
/// reconnected, error, closed; plus lame duck, discovered servers and slow consumers).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClientEvent {
    /// The first connection is up.
    Connected(ServerAddr),
    /// Connected again after a loss.
    Reconnected(ServerAddr),
    /// The connection was lost; reconnecting follows if allowed.
    Disconnected(ConnectionError),
    /// Closed for good (`None`: closed or drained by the application).
    Closed(Option<ConnectionError>),
    /// The server is shutting down (lame duck mode); the client moves to another server
    /// when it knows one.
    LameDuck(ServerAddr),
    /// New servers learned from the cluster.
    DiscoveredServers(Vec<ServerAddr>),
    /// An error the server reported without closing the connection (permissions, ...).
    ServerError(ServerError),
    /// A subscriber fell behind its pending limits and messages were dropped; reported
    /// once per episode with the total dropped so far.
    SlowConsumer {
        /// The subscription.
        sid: Sid,
        /// Its subject, if it is still live.
        subject: Option<Subject>,
        /// Messages dropped for it so far.
        dropped: u64,
    },
    /// A message was dropped because its subject or reply subject is not UTF-8 (another
    /// client published it); the connection stays. Counted in
    /// [`Statistics::undeliverable_msgs`](nats_proto::Statistics::undeliverable_msgs).
    Undeliverable(Undeliverable),
}

impl ClientEvent {
    pub(crate) fn from_core(event: Event, conn: &Connection<crate::time::Instant>) -> Option<Self> {
        Some(match event {
            Event::Connected { server } => Self::Connected(server),
            Event::Reconnected { server } => Self::Reconnected(server),
            Event::Disconnected { error } => Self::Disconnected(error),
            Event::Closed { error } => Self::Closed(error),
            Event::LameDuck { server } => Self::LameDuck(server),
            Event::DiscoveredServers { servers } => Self::DiscoveredServers(servers),
            Event::ServerError(error) => Self::ServerError(error),
            Event::SlowConsumer { sid, dropped } => {
                Self::SlowConsumer { sid, subject: conn.subscription_subject(sid).cloned(), dropped }
            }
            Event::Undeliverable(dropped) => Self::Undeliverable(dropped),
            _ => return None,
        })
    }
}

/// One line for logs: `eprintln!("{event}")`.
///
/// ```
/// use nats_client::{ClientEvent, ServerAddr};
///
/// let event = ClientEvent::Reconnected("nats://10.0.0.2:4222".parse::<ServerAddr>()?);
/// assert_eq!(event.to_string(), "reconnected to nats://10.0.0.2:4222");
/// # Ok::<(), nats_client::ServerAddrError>(())
/// ```
impl std::fmt::Display for ClientEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Connected(server) => write!(f, "connected to {server}"),
            Self::Reconnected(server) => write!(f, "reconnected to {server}"),
            Self::Disconnected(error) => write!(f, "disconnected: {error}"),
            Self::Closed(None) => f.write_str("closed"),
            Self::Closed(Some(error)) => write!(f, "closed: {error}"),
            Self::LameDuck(server) => write!(f, "server {server} entered lame duck mode"),
            Self::DiscoveredServers(servers) => {
                f.write_str("discovered servers:")?;
                for server in servers {
                    write!(f, " {server}")?;
                }
                Ok(())
            }
            Self::ServerError(error) => write!(f, "server error: {error}"),
            Self::SlowConsumer { sid, subject: Some(subject), dropped } => {
                write!(f, "slow consumer: subscription {sid} on {subject} dropped {dropped} messages so far")
            }
            Self::SlowConsumer { sid, subject: None, dropped } => {
                write!(f, "slow consumer: subscription {sid} dropped {dropped} messages so far")
            }
            Self::Undeliverable(dropped) => write!(
                f,
                "undeliverable message for subscription {}: subject {:?} is not UTF-8 ({} bytes dropped)",
                dropped.sid,
                String::from_utf8_lossy(&dropped.subject),
                dropped.size
            ),
        }
    }
}

/// An async callback for [`ClientEvent`]s.
pub type EventCallback = Arc<dyn Fn(ClientEvent) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;
