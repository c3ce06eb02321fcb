//! Logs of connection-level events through `tracing` (feature `tracing`, on by default).
//!
//! The core emits events and never logs; this module turns the events the client routes into
//! log records, at the levels a Rust user expects: the connection coming up at `info`, a loss
//! and lame duck at `warn`, server errors and slow consumers at `warn`, a close with an error
//! at `error`, a dropped message with a non-UTF-8 subject at `debug`. Nothing here runs per message, and nothing logged carries a secret: server
//! addresses are displayed without their credentials.

use crate::event::ClientEvent;

/// Logs `event` (a no-op without the `tracing` feature).
#[cfg(feature = "tracing")]
pub(crate) fn event(event: &ClientEvent) {
    match event {
        ClientEvent::Connected(server) => tracing::info!(target: "nats", server = %server, "connected"),
        ClientEvent::Reconnected(server) => tracing::info!(target: "nats", server = %server, "reconnected"),
        ClientEvent::Disconnected(error) => tracing::warn!(target: "nats", %error, "disconnected"),
        ClientEvent::Closed(None) => tracing::info!(target: "nats", "closed"),
        ClientEvent::Closed(Some(error)) => tracing::error!(target: "nats", %error, "closed"),
        ClientEvent::LameDuck(server) => {
            tracing::warn!(target: "nats", server = %server, "server entered lame duck mode");
        }
        ClientEvent::DiscoveredServers(servers) => {
            tracing::debug!(target: "nats", count = servers.len(), "discovered servers");
        }
        ClientEvent::ServerError(error) => tracing::warn!(target: "nats", %error, "server error"),
        ClientEvent::SlowConsumer { sid, subject, dropped } => tracing::warn!(
            target: "nats",
            sid = %sid,
            subject = subject.as_ref().map_or("", |s| s.as_str()),
            dropped,
            "slow consumer: messages dropped"
        ),
        // One per dropped message, so `debug`: a publisher of bad subjects must not flood the
        // log; the count is in `Statistics::undeliverable_msgs`.
        ClientEvent::Undeliverable(dropped) => tracing::debug!(
            target: "nats",
            sid = %dropped.sid,
            size = dropped.size,
            "dropped a message whose subject is not UTF-8"
        ),
    }
}

/// Logs `event` (a no-op without the `tracing` feature).
#[cfg(not(feature = "tracing"))]
pub(crate) fn event(_event: &ClientEvent) {}

/// Logs that the credentials callback failed, which fails the connection attempt.
#[cfg(feature = "tracing")]
pub(crate) fn auth_failed(error: &nats_proto::AuthError) {
    tracing::warn!(target: "nats", %error, "no credentials for the connection attempt");
}

/// Logs that the credentials callback failed (a no-op without the `tracing` feature).
#[cfg(not(feature = "tracing"))]
pub(crate) fn auth_failed(_error: &nats_proto::AuthError) {}

#[cfg(all(test, feature = "tracing"))]
mod tests {
    use std::sync::{Arc, Mutex};

    use nats_proto::{ConnectionError, ServerAddr};
    use tracing::field::{Field, Visit};
    use tracing::span::{Attributes, Id, Record};
    use tracing::{Event, Level, Metadata, Subscriber};

    use crate::event::ClientEvent;

    /// Collects each record as "LEVEL message field=value ...".
    #[derive(Clone, Default)]
    struct Collect(Arc<Mutex<Vec<String>>>);

    struct Line(String);

    impl Visit for Line {
        fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
            if field.name() == "message" {
                self.0.push_str(&format!(" {value:?}"));
            } else {
                self.0.push_str(&format!(" {}={value:?}", field.name()));
            }
        }
    }

    impl Subscriber for Collect {
        fn enabled(&self, _: &Metadata<'_>) -> bool {
            true
        }
        fn new_span(&self, _: &Attributes<'_>) -> Id {
            Id::from_u64(1)
        }
        fn record(&self, _: &Id, _: &Record<'_>) {}
        fn record_follows_from(&self, _: &Id, _: &Id) {}
        fn event(&self, event: &Event<'_>) {
            let mut line = Line(event.metadata().level().to_string());
            event.record(&mut line);
            self.0.lock().unwrap().push(line.0);
        }
        fn enter(&self, _: &Id) {}
        fn exit(&self, _: &Id) {}
    }

    fn logged(events: &[ClientEvent]) -> Vec<String> {
        let collect = Collect::default();
        tracing::subscriber::with_default(collect.clone(), || events.iter().for_each(super::event));
        let lines = collect.0.lock().unwrap().clone();
        lines
    }

    #[test]
    fn connection_events_are_logged_at_their_levels_without_secrets() {
        let server = "nats://alice:s3cret@127.0.0.1:4222".parse::<ServerAddr>().unwrap();
        let lines = logged(&[
            ClientEvent::Connected(server.clone()),
            ClientEvent::LameDuck(server),
            ClientEvent::Closed(Some(ConnectionError::NoServers)),
        ]);
        assert_eq!(lines.len(), 3, "{lines:?}");
        assert!(
            lines[0].starts_with(&Level::INFO.to_string()) && lines[0].contains("connected"),
            "{lines:?}"
        );
        assert!(lines[0].contains("nats://127.0.0.1:4222"), "{lines:?}");
        assert!(
            lines[1].starts_with(&Level::WARN.to_string()) && lines[1].contains("lame duck"),
            "{lines:?}"
        );
        assert!(lines[2].starts_with(&Level::ERROR.to_string()), "{lines:?}");
        assert!(lines.iter().all(|l| !l.contains("s3cret") && !l.contains("alice")), "{lines:?}");
    }
}
