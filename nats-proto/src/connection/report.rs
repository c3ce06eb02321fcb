//! What the connection reports: events and actions waiting to be polled, the last error
//! and the statistics.

use alloc::collections::VecDeque;

use super::event::{Action, ConnectionError, Event, Statistics};

#[derive(Debug, Default)]
pub(crate) struct Report {
    pub(crate) events: VecDeque<Event>,
    pub(crate) actions: VecDeque<Action>,
    pub(crate) last_error: Option<ConnectionError>,
    /// The error the connection closed with (`None` while open, or closed on request).
    pub(crate) closed_with: Option<ConnectionError>,
    pub(crate) stats: Statistics,
    /// Whether a connection was ever established (later ones are reconnections).
    pub(crate) ever_connected: bool,
}

impl Report {
    pub(crate) fn event(&mut self, event: Event) {
        self.events.push_back(event);
    }

    pub(crate) fn action(&mut self, action: Action) {
        self.actions.push_back(action);
    }
}
