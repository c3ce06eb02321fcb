//! Subjects: validated, cheaply clonable subject names and subscription filters.

use crate::prelude::*;

use core::fmt;

use bytestring::ByteString;

/// Why a string is not a valid subject.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SubjectError {
    /// The subject is the empty string.
    #[error("subject is empty")]
    Empty,
    /// A token is empty: the subject starts or ends with `.` or contains `..`.
    #[error("subject has an empty token (leading, trailing or double '.')")]
    EmptyToken,
    /// The subject contains a space, tab, CR, LF, form feed or NUL.
    #[error("subject contains whitespace or a control character at byte {0}")]
    InvalidCharacter(usize),
    /// `>` is used before the last token.
    #[error("'>' is only allowed as the last token of a subject")]
    FullWildcardNotLast,
    /// A wildcard (`*` or `>` as a whole token) where only a literal subject is allowed,
    /// for example when publishing.
    #[error("wildcards are not allowed in a publish subject")]
    WildcardInPublish,
}

/// A NATS subject or subscription filter.
///
/// Tokens are separated by `.` and must be non-empty; no whitespace or control characters.
/// `*` as a whole token matches one token, `>` as the last token matches one or more;
/// inside a token (`foo*`) they are ordinary characters. [`Subject::new`] accepts
/// filters; publishing additionally requires [`Subject::validate_publish`] to pass.
///
/// Cloning is cheap: the bytes are reference counted and, for subjects decoded from the
/// network, shared with the read buffer.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Subject(ByteString);

impl Subject {
    /// Validates `subject` as a subject or subscription filter.
    ///
    /// # Errors
    /// A [`SubjectError`] saying what is wrong.
    pub fn new(subject: impl Into<String> + AsRef<str>) -> Result<Self, SubjectError> {
        validate(subject.as_ref())?;
        Ok(Self(ByteString::from(subject.into())))
    }

    /// A subject from a `'static` string, validated once.
    ///
    /// # Errors
    /// A [`SubjectError`] saying what is wrong.
    pub fn from_static(subject: &'static str) -> Result<Self, SubjectError> {
        validate(subject)?;
        Ok(Self(ByteString::from_static(subject)))
    }

    /// A subject decoded from the wire. The peer already split it on whitespace, so only
    /// emptiness is checked: a server forwards whatever subjects its other clients
    /// published (`foo..bar` is legal there outside pedantic mode), and such a message must
    /// not break the connection.
    pub(crate) fn from_wire(subject: ByteString) -> Option<Self> {
        (!subject.is_empty()).then_some(Self(subject))
    }

    /// Checks that this subject is a literal subject that can be published to (no `*` or
    /// `>` token).
    ///
    /// # Errors
    /// [`SubjectError::WildcardInPublish`].
    pub fn validate_publish(&self) -> Result<(), SubjectError> {
        if self.has_wildcards() {
            Err(SubjectError::WildcardInPublish)
        } else {
            Ok(())
        }
    }

    /// Whether any token is a wildcard (`*`, or `>` last).
    pub fn has_wildcards(&self) -> bool {
        self.0.split('.').any(|token| token == "*" || token == ">")
    }

    /// The subject as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The subject's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }

    /// The length in bytes.
    #[allow(clippy::len_without_is_empty)] // a subject is never empty
    pub fn len(&self) -> usize {
        self.0.len()
    }
}

/// Validates a subject that can be published to: valid syntax, no wildcard token. One
/// pass over the bytes: this runs on every publish.
pub(crate) fn validate_publish_subject(subject: &str) -> Result<(), SubjectError> {
    scan(subject, true)
}

/// Validates subject syntax; wildcards are allowed as whole tokens, `>` only last.
fn validate(subject: &str) -> Result<(), SubjectError> {
    scan(subject, false)
}

/// Checks the syntax in one pass; with `publish`, a wildcard token is an error too.
fn scan(subject: &str, publish: bool) -> Result<(), SubjectError> {
    let bytes = subject.as_bytes();
    if bytes.is_empty() {
        return Err(SubjectError::Empty);
    }
    let mut token_start = 0;
    let mut full_wildcard_seen = false;
    // Checks the token ending at `end` (exclusive).
    let mut end_token = |start: usize, end: usize| {
        if end == start {
            return Err(SubjectError::EmptyToken);
        }
        if full_wildcard_seen {
            return Err(SubjectError::FullWildcardNotLast);
        }
        if end - start == 1 && matches!(bytes[start], b'*' | b'>') {
            if publish {
                return Err(SubjectError::WildcardInPublish);
            }
            full_wildcard_seen = bytes[start] == b'>';
        }
        Ok(())
    };
    for (i, &b) in bytes.iter().enumerate() {
        // Most bytes are printable and not a dot.
        if b > b' ' && b != b'.' {
            continue;
        }
        match b {
            b'.' => {
                end_token(token_start, i)?;
                token_start = i + 1;
            }
            b' ' | b'\t' | b'\r' | b'\n' | 0x0c | 0 => return Err(SubjectError::InvalidCharacter(i)),
            _ => {}
        }
    }
    end_token(token_start, bytes.len())
}

impl fmt::Debug for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A subject reads as the string it is (`msg.subject.starts_with("orders.")`), as
/// async-nats' does.
impl core::ops::Deref for Subject {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for Subject {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl TryFrom<&str> for Subject {
    type Error = SubjectError;
    fn try_from(value: &str) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

impl TryFrom<String> for Subject {
    type Error = SubjectError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

impl core::str::FromStr for Subject {
    type Err = SubjectError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

impl PartialEq<str> for Subject {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Subject {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_literals_and_filters() {
        for ok in ["foo", "foo.bar", "foo.*", "foo.>", "*", ">", "foo*.bar", "a.*.c.>", "f>o", "ünï.cödé"]
        {
            let subject = Subject::new(ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
            assert_eq!(subject, ok);
        }
    }

    #[test]
    fn rejects_malformed() {
        let cases = [
            ("", SubjectError::Empty),
            (".", SubjectError::EmptyToken),
            ("foo.", SubjectError::EmptyToken),
            (".foo", SubjectError::EmptyToken),
            ("foo..bar", SubjectError::EmptyToken),
            ("foo bar", SubjectError::InvalidCharacter(3)),
            ("foo\tbar", SubjectError::InvalidCharacter(3)),
            ("foo\r\n", SubjectError::InvalidCharacter(3)),
            ("a\x0cb", SubjectError::InvalidCharacter(1)),
            (">.foo", SubjectError::FullWildcardNotLast),
            ("foo.>.bar", SubjectError::FullWildcardNotLast),
        ];
        for (input, expected) in cases {
            assert_eq!(Subject::new(input), Err(expected), "{input:?}");
        }
    }

    #[test]
    fn publish_rejects_wildcard_tokens_only() {
        assert!(Subject::new("foo.bar").unwrap().validate_publish().is_ok());
        assert!(Subject::new("foo*.b>").unwrap().validate_publish().is_ok());
        for wild in ["foo.*", "*.foo", ">", "foo.>"] {
            assert_eq!(Subject::new(wild).unwrap().validate_publish(), Err(SubjectError::WildcardInPublish));
        }
    }
}
