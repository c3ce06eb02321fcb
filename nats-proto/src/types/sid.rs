//! Subscription ids.

use core::fmt;

/// A subscription id: the number a client gives each of its subscriptions, echoed by the
/// server in every `MSG` for it. Written on the wire in decimal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Sid(pub u64);

impl Sid {
    /// The numeric value.
    pub fn get(self) -> u64 {
        self.0
    }
}

impl fmt::Display for Sid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl From<u64> for Sid {
    fn from(value: u64) -> Self {
        Self(value)
    }
}
