//! A server's version, as `INFO` gives it (`2.15.1`, `2.11.0-RC.1`): compared to find
//! out what the server supports.

use core::fmt;

/// A nats-server version: major, minor, patch. Pre-release and build suffixes are not
/// kept (`2.11.0-RC.1` is `2.11.0`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ServerVersion {
    /// Major.
    pub major: u16,
    /// Minor.
    pub minor: u16,
    /// Patch.
    pub patch: u16,
}

impl ServerVersion {
    /// A version.
    pub const fn new(major: u16, minor: u16, patch: u16) -> Self {
        Self { major, minor, patch }
    }

    /// Parses `2.15.1`, `v2.9.10`, `2.11.0-RC.1`, `2.12` (patch 0); `None` for anything
    /// else.
    ///
    /// ```
    /// use nats_proto::ServerVersion;
    ///
    /// assert_eq!(ServerVersion::parse("2.11.0-RC.1"), Some(ServerVersion::new(2, 11, 0)));
    /// assert!(ServerVersion::parse("2.9.10").unwrap() < ServerVersion::new(2, 10, 0));
    /// ```
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.trim().trim_start_matches('v');
        let core = text.split(['-', '+']).next()?;
        let mut parts = core.split('.');
        let major = parts.next()?.parse().ok()?;
        let minor = parts.next()?.parse().ok()?;
        let patch = match parts.next() {
            Some(p) => p.parse().ok()?,
            None => 0,
        };
        parts.next().is_none().then_some(Self { major, minor, patch })
    }
}

impl fmt::Display for ServerVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prelude::*;

    #[test]
    fn versions_parse_and_order() {
        assert_eq!(ServerVersion::parse("2.15.1"), Some(ServerVersion::new(2, 15, 1)));
        assert_eq!(ServerVersion::parse("v2.9.10"), Some(ServerVersion::new(2, 9, 10)));
        assert_eq!(ServerVersion::parse("2.12"), Some(ServerVersion::new(2, 12, 0)));
        assert_eq!(ServerVersion::parse("2.12.0+build.5"), Some(ServerVersion::new(2, 12, 0)));
        for bad in ["", "2", "x.y.z", "2.1.2.3", "2..1", "-1.2.3", "2.70000.0"] {
            assert_eq!(ServerVersion::parse(bad), None, "{bad}");
        }
        assert!(ServerVersion::new(2, 9, 10) < ServerVersion::new(2, 10, 0));
        assert!(ServerVersion::new(2, 11, 0) > ServerVersion::new(2, 10, 24));
        assert_eq!(ServerVersion::new(2, 15, 1).to_string(), "2.15.1");
    }
}
