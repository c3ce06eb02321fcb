//! Validation of names, versions, subjects and queue groups, and queue group inheritance
//! (sans-IO).

use std::collections::BTreeMap;

use nats_client::Subject;

use crate::error::ConfigError;

/// The queue group endpoints use when nothing else is configured (ADR-32).
pub const DEFAULT_QUEUE_GROUP: &str = "q";

/// Checks a service or endpoint name: `^[A-Za-z0-9\-_]+$`, as in nats.go and nats-py.
///
/// # Errors
/// [`ConfigError::InvalidName`].
pub fn validate_name(name: &str) -> Result<(), ConfigError> {
    if !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
        Ok(())
    } else {
        Err(ConfigError::InvalidName(truncated(name)))
    }
}

/// Checks a version against the official semver grammar (the regular expression of
/// semver.org, as nats.go and nats-py use it): `MAJOR.MINOR.PATCH`, numbers without leading
/// zeros, an optional `-pre.release` and an optional `+build.metadata`.
///
/// # Errors
/// [`ConfigError::InvalidVersion`].
pub fn validate_version(version: &str) -> Result<(), ConfigError> {
    if is_semver(version) {
        Ok(())
    } else {
        Err(ConfigError::InvalidVersion(truncated(version)))
    }
}

fn is_semver(version: &str) -> bool {
    let (rest, build) = match version.split_once('+') {
        Some((rest, build)) => (rest, Some(build)),
        None => (version, None),
    };
    let (core, pre) = match rest.split_once('-') {
        Some((core, pre)) => (core, Some(pre)),
        None => (rest, None),
    };
    let numeric =
        |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) && (s == "0" || !s.starts_with('0'));
    let ident_chars = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    let parts: Vec<&str> = core.split('.').collect();
    if parts.len() != 3 || !parts.iter().all(|p| numeric(p)) {
        return false;
    }
    if let Some(pre) = pre {
        // Each identifier: a number without leading zeros, or alphanumerics with at least
        // one non-digit.
        let ok = pre
            .split('.')
            .all(|id| ident_chars(id) && (numeric(id) || !id.bytes().all(|b| b.is_ascii_digit())));
        if !ok {
            return false;
        }
    }
    match build {
        Some(build) => build.split('.').all(ident_chars),
        None => true,
    }
}

/// Checks an endpoint subject: a valid NATS subject (wildcards allowed, `>` only last).
///
/// # Errors
/// [`ConfigError::InvalidSubject`].
pub fn validate_subject(subject: &str) -> Result<(), ConfigError> {
    Subject::new(subject).map(drop).map_err(|e| ConfigError::InvalidSubject(truncated(subject), e))
}

/// Checks a group prefix: empty, or a valid subject without a `>` token (the prefix is put
/// in front of endpoint subjects).
///
/// # Errors
/// [`ConfigError::InvalidGroup`].
pub fn validate_group(prefix: &str) -> Result<(), ConfigError> {
    if prefix.is_empty() {
        return Ok(());
    }
    if Subject::new(prefix).is_err() || prefix.split('.').any(|token| token == ">") {
        return Err(ConfigError::InvalidGroup(truncated(prefix)));
    }
    Ok(())
}

/// Checks a queue group name: non-empty, no whitespace or control characters.
///
/// # Errors
/// [`ConfigError::InvalidQueueGroup`].
pub fn validate_queue_group(name: &str) -> Result<(), ConfigError> {
    if name.is_empty() || name.bytes().any(|b| b.is_ascii_whitespace() || b.is_ascii_control()) {
        Err(ConfigError::InvalidQueueGroup(truncated(name)))
    } else {
        Ok(())
    }
}

/// Keeps error messages bounded whatever the input's size.
fn truncated(s: &str) -> String {
    const MAX: usize = 64;
    if s.len() <= MAX {
        return s.to_owned();
    }
    let mut end = MAX;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}... ({} bytes)", &s[..end], s.len())
}

/// How a service, group or endpoint chooses its queue group.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum QueueGroup {
    /// Use the parent's setting (the service's default is `"q"`).
    #[default]
    Inherit,
    /// A queue group by this name.
    Named(String),
    /// No queue group: a plain subscription, so every instance gets every request (the
    /// ADR's "no queue group" option). Reported as `""` in discovery responses.
    Disabled,
}

impl QueueGroup {
    /// A named queue group.
    pub fn named(name: impl Into<String>) -> Self {
        Self::Named(name.into())
    }

    /// This setting with `parent` filling in [`QueueGroup::Inherit`].
    pub fn or(&self, parent: &Self) -> Self {
        match self {
            Self::Inherit => parent.clone(),
            other => other.clone(),
        }
    }

    /// The queue group to subscribe with: `None` when disabled, `"q"` when nothing set one.
    pub fn resolve(&self) -> Option<&str> {
        match self {
            Self::Inherit => Some(DEFAULT_QUEUE_GROUP),
            Self::Named(name) => Some(name),
            Self::Disabled => None,
        }
    }

    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        match self {
            Self::Named(name) => validate_queue_group(name),
            _ => Ok(()),
        }
    }
}

/// The configuration of a service (ADR-32 `addService` options).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServiceConfig {
    /// The kind of service, shared by all its instances: `A-Z a-z 0-9 - _`.
    pub name: String,
    /// A semantic version.
    pub version: String,
    /// A human-readable description (`""` when none).
    pub description: String,
    /// Free-form metadata about the instance.
    pub metadata: BTreeMap<String, String>,
    /// The default queue group of the service's endpoints.
    pub queue_group: QueueGroup,
    /// The prefix of the discovery subjects, `"$SRV"` unless overridden (ADR-32: for tools
    /// working across accounts). nats.go and nats-py always use `"$SRV"`.
    pub api_prefix: String,
}

impl ServiceConfig {
    /// A configuration with a name and version, no description, no metadata, queue group `"q"`.
    pub fn new(name: impl Into<String>, version: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            version: version.into(),
            description: String::new(),
            metadata: BTreeMap::new(),
            queue_group: QueueGroup::Inherit,
            api_prefix: crate::messages::API_PREFIX.to_owned(),
        }
    }

    /// Checks the name, version, queue group and API prefix.
    ///
    /// # Errors
    /// A [`ConfigError`].
    pub fn validate(&self) -> Result<(), ConfigError> {
        validate_name(&self.name)?;
        validate_version(&self.version)?;
        self.queue_group.validate()?;
        let literal = Subject::new(&self.api_prefix).is_ok_and(|s| s.validate_publish().is_ok());
        if !literal {
            return Err(ConfigError::InvalidApiPrefix(truncated(&self.api_prefix)));
        }
        Ok(())
    }
}

/// Joins a group prefix and a name or subject with `.`, either part may be empty.
pub fn join_subject(prefix: &str, subject: &str) -> String {
    match (prefix.is_empty(), subject.is_empty()) {
        (true, _) => subject.to_owned(),
        (false, true) => prefix.to_owned(),
        (false, false) => format!("{prefix}.{subject}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for ok in ["a", "Calc", "my-service_2", "-", "_"] {
            assert!(validate_name(ok).is_ok(), "{ok}");
        }
        for bad in ["", "a b", "a.b", "a*", ">", "é", "a\n"] {
            assert!(matches!(validate_name(bad), Err(ConfigError::InvalidName(_))), "{bad:?}");
        }
        // An oversized name is refused with a bounded message, not a panic.
        let huge = "ä".repeat(100_000);
        let err = validate_name(&huge).unwrap_err().to_string();
        assert!(err.len() < 200, "{err}");
        assert!(validate_name(&"x".repeat(100_000)).is_ok());
    }

    #[test]
    fn versions() {
        for ok in [
            "0.0.0",
            "1.2.3",
            "10.20.30",
            "1.0.0-alpha",
            "1.0.0-alpha.1",
            "1.0.0-0.3.7",
            "1.0.0-x.7.z.92",
            "1.0.0-x-y-z.--",
            "1.0.0+20130313144700",
            "1.0.0-beta+exp.sha.5114f85",
            "1.0.0+21AF26D3----117B344092BD",
            "1.0.0-0A.is.legal",
        ] {
            assert!(validate_version(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "1",
            "1.2",
            "1.2.3.4",
            "01.2.3",
            "1.02.3",
            "1.2.03",
            "1.2.3-",
            "1.2.3-01",
            "1.2.3-a..b",
            "1.2.3+",
            "1.2.3+a..b",
            "1.2.3-a+b+c",
            "v1.2.3",
            " 1.2.3",
            "1.2.3 ",
            "1.2.-3",
            "1.2.3-é",
        ] {
            assert!(matches!(validate_version(bad), Err(ConfigError::InvalidVersion(_))), "{bad:?}");
        }
    }

    #[test]
    fn subjects_groups_and_queue_groups() {
        assert!(validate_subject("a.b.*").is_ok());
        assert!(validate_subject("a.>").is_ok());
        for bad in ["", "a..b", "a b", ">.a", "a."] {
            assert!(validate_subject(bad).is_err(), "{bad:?}");
        }
        assert!(validate_group("").is_ok());
        assert!(validate_group("calc.v1").is_ok());
        assert!(validate_group("calc.*").is_ok());
        for bad in ["calc.>", ">", "a..b", "a b"] {
            assert!(validate_group(bad).is_err(), "{bad:?}");
        }
        assert!(validate_queue_group("workers").is_ok());
        for bad in ["", "a b", "a\tb", "a\r\n"] {
            assert!(validate_queue_group(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn queue_group_inheritance() {
        let service = QueueGroup::Inherit;
        assert_eq!(service.resolve(), Some("q"));
        let group = QueueGroup::named("g").or(&service);
        assert_eq!(group.resolve(), Some("g"));
        assert_eq!(QueueGroup::Inherit.or(&group).resolve(), Some("g"));
        assert_eq!(QueueGroup::Disabled.or(&group).resolve(), None);
        assert_eq!(QueueGroup::Inherit.or(&QueueGroup::Disabled).resolve(), None);
        assert_eq!(QueueGroup::named("e").or(&QueueGroup::Disabled).resolve(), Some("e"));
    }

    #[test]
    fn config_validation() {
        assert!(ServiceConfig::new("calc", "1.0.0").validate().is_ok());
        assert!(ServiceConfig::new("calc svc", "1.0.0").validate().is_err());
        assert!(ServiceConfig::new("calc", "1.0").validate().is_err());
        let mut config = ServiceConfig::new("calc", "1.0.0");
        config.queue_group = QueueGroup::named("has space");
        assert!(matches!(config.validate(), Err(ConfigError::InvalidQueueGroup(_))));
        for (prefix, ok) in
            [("$SRV", true), ("acct.$SRV", true), ("", false), ("a.*", false), ("a.>", false), ("a b", false)]
        {
            let mut config = ServiceConfig::new("calc", "1.0.0");
            config.api_prefix = prefix.into();
            assert_eq!(config.validate().is_ok(), ok, "{prefix:?}");
        }
    }

    #[test]
    fn joining() {
        assert_eq!(join_subject("", "add"), "add");
        assert_eq!(join_subject("calc", "add"), "calc.add");
        assert_eq!(join_subject("calc", ""), "calc");
    }
}
