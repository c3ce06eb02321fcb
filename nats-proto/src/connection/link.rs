//! The link to the server: which transport is current (transports have identity: each
//! [`Action::Connect`](super::Action::Connect) names a new [`TransportId`], and reports
//! about any other transport change nothing), the server it goes to with its last INFO,
//! and the inbound side: the decoder and its read buffer.

use crate::prelude::*;

use bytes::BytesMut;

use super::event::TransportId;
use crate::{decode::ServerDecoder, info::ServerInfo, server_addr::ServerAddr};

#[derive(Debug)]
pub(crate) struct Link {
    next_id: u64,
    /// The transport asked for by the last `Connect`, until it is closed or reported lost.
    current: Option<TransportId>,
    /// Whether `current` is open (reported connected).
    open: bool,
    /// The server of the current (or last) attempt.
    server: Option<ServerAddr>,
    /// The last INFO of the current (or last) server.
    info: Option<Box<ServerInfo>>,
    pub(crate) decoder: ServerDecoder,
    pub(crate) read_buf: BytesMut,
    /// Bytes decoded, over every transport (publish pacing counts what came back).
    pub(crate) received: u64,
}

impl Link {
    pub(crate) fn new(decoder: ServerDecoder) -> Self {
        Self {
            next_id: 0,
            current: None,
            open: false,
            server: None,
            info: None,
            decoder,
            read_buf: BytesMut::with_capacity(64 * 1024),
            received: 0,
        }
    }

    /// A new transport to `server` is asked for; the previous one must have been closed.
    pub(crate) fn start(&mut self, server: ServerAddr) -> TransportId {
        debug_assert!(self.current.is_none());
        self.next_id += 1;
        let id = TransportId(self.next_id);
        self.current = Some(id);
        self.open = false;
        self.server = Some(server);
        self.decoder.reset();
        self.read_buf.clear();
        id
    }

    /// The transport `id` opened; `false` when it is not the one asked for (or is open
    /// already).
    pub(crate) fn opened(&mut self, id: TransportId) -> bool {
        if self.current != Some(id) || self.open {
            return false;
        }
        self.open = true;
        true
    }

    /// Whether `id` is the current transport and open.
    pub(crate) fn is_open(&self, id: TransportId) -> bool {
        self.open && self.current == Some(id)
    }

    /// Whether there is an open transport.
    pub(crate) fn has_open(&self) -> bool {
        self.open
    }

    /// The caller reported `id` gone; `false` (nothing changes) when it is not current.
    pub(crate) fn lost(&mut self, id: TransportId) -> bool {
        if self.current != Some(id) {
            return false;
        }
        self.current = None;
        self.open = false;
        self.read_buf.clear();
        true
    }

    /// The connection gives up the current transport (open or still connecting): the id
    /// to ask the caller to close.
    pub(crate) fn abandon(&mut self) -> Option<TransportId> {
        self.open = false;
        self.read_buf.clear();
        self.current.take()
    }

    /// The current transport, if any.
    pub(crate) fn current(&self) -> Option<TransportId> {
        self.current
    }

    pub(crate) fn server(&self) -> Option<&ServerAddr> {
        self.server.as_ref()
    }

    pub(crate) fn server_mut(&mut self) -> Option<&mut ServerAddr> {
        self.server.as_mut()
    }

    pub(crate) fn info(&self) -> Option<&ServerInfo> {
        self.info.as_deref()
    }

    pub(crate) fn set_info(&mut self, info: Box<ServerInfo>) {
        self.info = Some(info);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_about_other_transports_change_nothing() {
        let mut link = Link::new(ServerDecoder::new());
        let server = ServerAddr::new("127.0.0.1", 4222, false);
        let first = link.start(server.clone());
        assert!(!link.is_open(first));
        assert!(link.opened(first));
        assert!(!link.opened(first), "opened once");
        assert!(link.is_open(first) && link.has_open());
        assert_eq!(link.abandon(), Some(first));
        // The first transport is no longer current: its end and its bytes count for nothing.
        assert!(!link.lost(first));
        assert!(!link.is_open(first));
        let second = link.start(server);
        assert_ne!(first, second);
        assert!(!link.opened(first), "a late connect of the old transport");
        assert!(!link.lost(first));
        assert!(link.opened(second));
        assert!(link.lost(second));
        assert!(!link.has_open());
        assert_eq!(link.abandon(), None, "nothing left to close");
    }
}
