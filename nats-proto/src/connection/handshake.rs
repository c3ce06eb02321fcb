//! The handshake: INFO, the TLS decision, CONNECT with credentials and the subscriptions,
//! and what follows the PONG (buffered publishes).

use crate::prelude::*;

use crate::time::{deadline, Instant};

use super::event::{Action, ConnectionError, Event};
use super::keepalive::PongWaiter;
use super::timers::Timer;
use super::{Connection, Phase};
use crate::{
    auth::{sign_nonce, Auth, AuthError, Credentials},
    connect::ConnectInfo,
    info::ServerInfo,
    secret::Secret,
    server_addr::ServerAddr,
};

impl<I: Instant> Connection<I> {
    /// Whether the connection is (or must become) TLS. For a WebSocket server only the
    /// URL decides: `wss://` is TLS below the WebSocket, set up by the transport before
    /// the server's INFO, and the INFO's `tls_required` / `tls_available` describe the
    /// server's NATS listener, not its WebSocket one (nats.go ignores them too).
    pub(super) fn needs_tls(&self, info: &ServerInfo) -> bool {
        match self.link.server() {
            Some(server) if server.is_websocket() => server.tls(),
            server => self.options.tls_required || info.tls_required || server.is_some_and(ServerAddr::tls),
        }
    }

    pub(super) fn handle_info(&mut self, now: I, info: Box<ServerInfo>) {
        let current = self.link.server().cloned().expect("a transport has a server");
        let added = if self.options.ignore_discovered_servers {
            Vec::new()
        } else {
            self.pool.discover(&info.connect_urls, &current, self.options.randomize, &mut self.rng)
        };
        match self.phase {
            Phase::AwaitInfo if current.is_websocket() => {
                // No NATS-level TLS over a WebSocket (see `needs_tls`).
                self.link.set_info(info);
                self.send_connect(now);
            }
            Phase::AwaitInfo => {
                let needs_tls = self.needs_tls(&info);
                let offers_tls = info.tls_required || info.tls_available;
                self.link.set_info(info);
                if needs_tls && !offers_tls && !self.options.tls_first {
                    self.fail_attempt(now, ConnectionError::TlsNotAvailable);
                } else if needs_tls && !self.options.tls_first {
                    self.enter(Phase::UpgradingTls);
                    let server_name = self.server_name();
                    let transport = self.link.current().expect("an open transport");
                    self.report.action(Action::StartTls { transport, server_name });
                } else {
                    self.send_connect(now);
                }
            }
            Phase::Connected => {
                let mut info = info;
                // Only the INFO answering the first PING says which account the
                // connection is bound to (2.12+); later updates keep it.
                if let Some(known) = self.link.info().filter(|_| !info.connect_info) {
                    if info.remote_account.is_none() {
                        info.remote_account.clone_from(&known.remote_account);
                        info.is_system_account = known.is_system_account;
                    }
                }
                let lame_duck = info.ldm;
                self.link.set_info(info.clone());
                self.report.event(Event::ServerInfo(info));
                if !added.is_empty() {
                    self.report.event(Event::DiscoveredServers { servers: added });
                }
                if lame_duck {
                    self.report.event(Event::LameDuck { server: current.clone() });
                    if self.pool.has_other_than(&current) {
                        self.pool.demote(&current);
                        self.lose_connection(now, ConnectionError::LameDuck);
                    }
                }
            }
            _ => self.link.set_info(info),
        }
    }

    pub(super) fn send_connect(&mut self, now: I) {
        let info = self.link.info().cloned().unwrap_or_default();
        let connect = match self.connect_info(&info) {
            Ok(connect) => connect,
            Err(error) => {
                self.fail_attempt(now, ConnectionError::Auth(error));
                return;
            }
        };
        if self.options.auth == Auth::Callback && !self.url_has_credentials() {
            // The caller answers with `handle_credentials`; the attempt's deadline runs on.
            let transport = self.link.current().expect("an open transport");
            self.pending_connect = Some(connect);
            self.enter(Phase::AwaitCredentials);
            self.report.action(Action::Authenticate { transport, nonce: info.nonce.clone() });
            return;
        }
        self.write_connect(&connect);
    }

    /// The caller's answer to [`Action::Authenticate`].
    pub(super) fn credentials_ready(&mut self, now: I, credentials: Result<Credentials, AuthError>) {
        let Some(mut connect) = self.pending_connect.take() else { return };
        match credentials {
            Ok(credentials) => {
                credentials.apply(&mut connect);
                self.write_connect(&connect);
            }
            Err(error) => self.fail_attempt(now, ConnectionError::Auth(error)),
        }
    }

    fn url_has_credentials(&self) -> bool {
        self.link.server().is_some_and(|s| s.token().is_some() || s.user().is_some())
    }

    /// CONNECT, then the subscriptions (with their remaining auto-unsubscribe counts),
    /// then the handshake's PING. The server handles them in order, so its PONG means the
    /// subscriptions are live: when [`Event::Connected`] or [`Event::Reconnected`] is
    /// reported, a message published anywhere reaches them.
    fn write_connect(&mut self, connect: &ConnectInfo) {
        self.outbound.queue().write_connect(connect);
        for (sid, sub) in self.subs.iter_sorted() {
            self.outbound.queue().write_sub(sid, &sub.subject, sub.queue_group.as_ref());
            if let Some(remaining) = sub.remaining() {
                self.outbound.queue().write_unsub(sid, Some(remaining));
            }
        }
        self.send_ping(PongWaiter::Handshake);
        self.enter(Phase::AwaitPong);
    }

    pub(super) fn connect_info(&self, info: &ServerInfo) -> Result<ConnectInfo, AuthError> {
        let headers = self.options.headers && info.headers;
        let mut connect = ConnectInfo {
            verbose: self.options.verbose,
            pedantic: self.options.pedantic,
            tls_required: self.needs_tls(info),
            name: self.options.name.clone(),
            echo: self.options.echo,
            headers,
            no_responders: headers && self.options.no_responders,
            ..ConnectInfo::default()
        };
        let server = self.link.server();
        if let Some(token) = server.and_then(ServerAddr::token) {
            connect.auth_token = Some(token.clone());
            return Ok(connect);
        }
        if let Some(user) = server.and_then(ServerAddr::user) {
            connect.user = Some(user.to_owned());
            connect.pass = server.and_then(ServerAddr::pass).cloned();
            return Ok(connect);
        }
        let sign = |seed: &Secret| -> Result<Option<(String, Secret)>, AuthError> {
            info.nonce.as_deref().map(|nonce| sign_nonce(seed, nonce)).transpose()
        };
        match &self.options.auth {
            Auth::None => {}
            Auth::UserPassword { user, password } => {
                connect.user = Some(user.clone());
                connect.pass = Some(password.clone());
            }
            Auth::Token(token) => connect.auth_token = Some(token.clone()),
            Auth::NKey(seed) => {
                let (public, sig) = sign(seed)?.ok_or(AuthError::MissingNonce)?;
                connect.nkey = Some(public);
                connect.sig = Some(sig);
            }
            Auth::Jwt { jwt, seed } => {
                connect.jwt = Some(jwt.clone());
                connect.sig = sign(seed)?.map(|(_, sig)| sig);
            }
            Auth::JwtSigner { jwt, signer } => {
                connect.jwt = Some(jwt.clone());
                connect.sig = info.nonce.as_deref().map(|nonce| signer.sign(nonce.as_bytes())).transpose()?;
            }
            // Filled in by the caller's answer (`credentials_ready`).
            Auth::Callback => {}
        }
        Ok(connect)
    }

    pub(super) fn handshake_done(&mut self, now: I) {
        let server = self.link.server().cloned().expect("a transport has a server");
        self.pool.record(&server, true);
        self.enter(Phase::Connected);
        self.timers.stop(Timer::Attempt);
        self.timers.set(Timer::Ping, deadline(now, self.options.ping_interval));
        self.keepalive.traffic();
        // The subscriptions went with CONNECT; now the publishes buffered while
        // disconnected, tracked as if just written.
        let (pacing, subscribed) = (&mut self.pacing, !self.subs.is_empty());
        for end in self.outbound.release_buffered(|len| subscribed && pacing.published(len)) {
            self.keepalive.ping_sent(PongWaiter::Pace);
            self.pacing.marked(end, self.link.received);
        }
        if self.report.ever_connected {
            self.report.stats.reconnects += 1;
            self.report.event(Event::Reconnected { server });
        } else {
            self.report.ever_connected = true;
            self.report.event(Event::Connected { server });
        }
    }
}
