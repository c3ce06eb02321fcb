//! Status codes carried in the header block of `HMSG` (for example 503 no responders).

use core::fmt;

/// A three-digit status code from a header block's `NATS/1.0 <code>` line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StatusCode(u16);

/// A status code outside `100..=999`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("status code {0} is not three digits")]
pub struct InvalidStatusCode(pub u16);

impl StatusCode {
    /// 100: idle heartbeat or flow control (JetStream).
    pub const IDLE_HEARTBEAT: Self = Self(100);
    /// 400: bad request.
    pub const BAD_REQUEST: Self = Self(400);
    /// 404: not found / no messages.
    pub const NOT_FOUND: Self = Self(404);
    /// 408: request timeout.
    pub const REQUEST_TIMEOUT: Self = Self(408);
    /// 409: conflict.
    pub const CONFLICT: Self = Self(409);
    /// 412: precondition failed (newer servers).
    pub const PRECONDITION_FAILED: Self = Self(412);
    /// 423: locked (newer servers).
    pub const LOCKED: Self = Self(423);
    /// 429: too many requests (newer servers).
    pub const TOO_MANY_REQUESTS: Self = Self(429);
    /// 503: no responders for a request.
    pub const NO_RESPONDERS: Self = Self(503);

    /// Validates a code in `100..=999`.
    ///
    /// # Errors
    /// [`InvalidStatusCode`] when the code does not have three digits.
    pub fn new(code: u16) -> Result<Self, InvalidStatusCode> {
        if (100..=999).contains(&code) {
            Ok(Self(code))
        } else {
            Err(InvalidStatusCode(code))
        }
    }

    /// The numeric code.
    pub fn as_u16(self) -> u16 {
        self.0
    }

    /// Parses exactly three ASCII digits.
    pub(crate) fn from_ascii(digits: &[u8]) -> Option<Self> {
        match digits {
            [a @ b'1'..=b'9', b @ b'0'..=b'9', c @ b'0'..=b'9'] => {
                Some(Self(u16::from(a - b'0') * 100 + u16::from(b - b'0') * 10 + u16::from(c - b'0')))
            }
            _ => None,
        }
    }

    /// The three ASCII digits.
    pub(crate) fn to_ascii(self) -> [u8; 3] {
        let c = self.0;
        // Each digit is below 10, so the narrowing casts cannot truncate.
        #[allow(clippy::cast_possible_truncation)]
        [b'0' + (c / 100) as u8, b'0' + (c / 10 % 10) as u8, b'0' + (c % 10) as u8]
    }
}

impl fmt::Display for StatusCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// `msg.status() == Some(503)` reads naturally: a status code equals its number.
impl PartialEq<u16> for StatusCode {
    fn eq(&self, other: &u16) -> bool {
        self.0 == *other
    }
}

impl PartialEq<StatusCode> for u16 {
    fn eq(&self, other: &StatusCode) -> bool {
        *self == other.0
    }
}

impl From<StatusCode> for u16 {
    fn from(code: StatusCode) -> Self {
        code.0
    }
}

impl TryFrom<u16> for StatusCode {
    type Error = InvalidStatusCode;
    fn try_from(value: u16) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn three_digits_only() {
        assert_eq!(StatusCode::new(503).unwrap(), StatusCode::NO_RESPONDERS);
        assert_eq!(StatusCode::new(99), Err(InvalidStatusCode(99)));
        assert_eq!(StatusCode::new(1000), Err(InvalidStatusCode(1000)));
        assert_eq!(StatusCode::from_ascii(b"408"), Some(StatusCode::REQUEST_TIMEOUT));
        assert_eq!(StatusCode::from_ascii(b"099"), None);
        assert_eq!(StatusCode::from_ascii(b"40"), None);
        assert_eq!(StatusCode::from_ascii(b"4x8"), None);
        assert_eq!(&StatusCode::new(100).unwrap().to_ascii(), b"100");
        assert_eq!(&StatusCode::new(999).unwrap().to_ascii(), b"999");
    }

    #[test]
    fn compares_with_numbers() {
        assert_eq!(StatusCode::NO_RESPONDERS, 503);
        assert_eq!(503, StatusCode::NO_RESPONDERS);
        assert_ne!(StatusCode::NO_RESPONDERS, 408);
        assert_eq!(Some(StatusCode::REQUEST_TIMEOUT), Some(StatusCode::new(408).unwrap()));
        assert_eq!(u16::from(StatusCode::NO_RESPONDERS), 503);
    }
}
