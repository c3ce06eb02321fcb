//! Queue group names.

use crate::prelude::*;

use core::fmt;

use bytestring::ByteString;

/// Why a string is not a valid queue group name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum QueueGroupError {
    /// The name is empty.
    #[error("queue group name is empty")]
    Empty,
    /// The name contains whitespace or a control character.
    #[error("queue group name contains whitespace or a control character at byte {0}")]
    InvalidCharacter(usize),
}

/// A validated queue group name: non-empty, printable, no whitespace.
///
/// Subscribers sharing a subject and a queue group share its messages: each message goes
/// to exactly one of them.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct QueueGroup(ByteString);

impl QueueGroup {
    /// Validates `name` as a queue group.
    ///
    /// # Errors
    /// A [`QueueGroupError`] saying what is wrong.
    pub fn new(name: impl Into<String> + AsRef<str>) -> Result<Self, QueueGroupError> {
        validate(name.as_ref())?;
        Ok(Self(ByteString::from(name.into())))
    }

    /// Validates a queue group decoded from the wire.
    pub(crate) fn from_wire(name: ByteString) -> Result<Self, QueueGroupError> {
        validate(&name)?;
        Ok(Self(name))
    }

    /// The name as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn validate(name: &str) -> Result<(), QueueGroupError> {
    if name.is_empty() {
        return Err(QueueGroupError::Empty);
    }
    match name.bytes().position(|b| b.is_ascii_whitespace() || b.is_ascii_control()) {
        Some(i) => Err(QueueGroupError::InvalidCharacter(i)),
        None => Ok(()),
    }
}

impl fmt::Debug for QueueGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for QueueGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl TryFrom<&str> for QueueGroup {
    type Error = QueueGroupError;
    fn try_from(value: &str) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

impl TryFrom<String> for QueueGroup {
    type Error = QueueGroupError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validates() {
        assert_eq!(QueueGroup::new("workers").unwrap().as_str(), "workers");
        assert_eq!(QueueGroup::new("a.b-c_d*").unwrap().as_str(), "a.b-c_d*");
        assert_eq!(QueueGroup::new(""), Err(QueueGroupError::Empty));
        assert_eq!(QueueGroup::new("a b"), Err(QueueGroupError::InvalidCharacter(1)));
        assert_eq!(QueueGroup::new("ab\r"), Err(QueueGroupError::InvalidCharacter(2)));
        assert_eq!(QueueGroup::new("\x01"), Err(QueueGroupError::InvalidCharacter(0)));
    }
}
