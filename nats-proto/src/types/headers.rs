//! Message headers: names, values, the multi-valued map and its `NATS/1.0` wire block.

use crate::prelude::*;

use core::fmt;

use bytes::{BufMut, Bytes};
use bytestring::ByteString;

use crate::status_code::StatusCode;

/// The first bytes of every header block.
const VERSION_LINE: &[u8] = b"NATS/1.0";

/// Why a header name, value or block is invalid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HeaderError {
    /// A header name is empty.
    #[error("header name is empty")]
    EmptyName,
    /// A header name has a byte outside printable ASCII (33..=126) or a `:`.
    #[error("header name has an invalid byte at {0}")]
    InvalidNameByte(usize),
    /// A header value (or status description) contains CR or LF.
    #[error("header value contains CR or LF")]
    ValueLineBreak,
    /// A header value (or status description) starts or ends with a space or tab, which
    /// would not survive the trip over the wire.
    #[error("header value starts or ends with whitespace")]
    ValueSurroundingWhitespace,
    /// The block does not start with `NATS/1.0`.
    #[error("header block does not start with NATS/1.0")]
    MissingVersion,
    /// The status in the version line is not three digits.
    #[error("header block has an invalid status code")]
    InvalidStatus,
    /// A header line has no `:`.
    #[error("header line without ':'")]
    MissingColon,
    /// A name, value or description is not UTF-8.
    #[error("header block is not valid UTF-8")]
    NotUtf8,
    /// The block does not end with an empty line.
    #[error("header block is not terminated by an empty line")]
    Unterminated,
    /// Bytes follow the empty line that ends the block.
    #[error("bytes after the end of the header block")]
    TrailingBytes,
}

/// A header name: printable ASCII except `:`, case preserved.
///
/// Lookups in a [`HeaderMap`] compare names exactly (case-sensitively), as `nats-server`
/// does for the headers it reads (`Nats-Msg-Id`, `Nats-Expected-Stream`, ...).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct HeaderName(ByteString);

impl HeaderName {
    /// Validates a header name.
    ///
    /// # Errors
    /// [`HeaderError::EmptyName`] or [`HeaderError::InvalidNameByte`].
    pub fn new(name: impl Into<String> + AsRef<str>) -> Result<Self, HeaderError> {
        validate_name(name.as_ref().as_bytes())?;
        Ok(Self(ByteString::from(name.into())))
    }

    /// A name known when the program is written, checked at compile time when used in a
    /// `const` (the standard names in [`header`](crate::header) are made this way).
    ///
    /// # Panics
    /// If `name` is not a valid header name: empty, or a byte outside printable ASCII or a
    /// `:` (in a `const`, this is a compile error).
    ///
    /// ```
    /// use nats_proto::HeaderName;
    ///
    /// const TRACE_ID: HeaderName = HeaderName::from_static("Trace-Id");
    /// assert_eq!(TRACE_ID, "Trace-Id");
    /// ```
    pub const fn from_static(name: &'static str) -> Self {
        let bytes = name.as_bytes();
        assert!(!bytes.is_empty(), "header name is empty");
        let mut i = 0;
        while i < bytes.len() {
            assert!(
                bytes[i] >= 33 && bytes[i] <= 126 && bytes[i] != b':',
                "header name has a byte outside printable ASCII or a ':'"
            );
            i += 1;
        }
        Self(ByteString::from_static(name))
    }

    /// The name as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn validate_name(name: &[u8]) -> Result<(), HeaderError> {
    if name.is_empty() {
        return Err(HeaderError::EmptyName);
    }
    match name.iter().position(|&b| !(33..=126).contains(&b) || b == b':') {
        Some(i) => Err(HeaderError::InvalidNameByte(i)),
        None => Ok(()),
    }
}

/// A header value: any UTF-8 without CR or LF, not starting or ending with whitespace.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct HeaderValue(ByteString);

impl HeaderValue {
    /// Validates a header value.
    ///
    /// # Errors
    /// [`HeaderError::ValueLineBreak`] or [`HeaderError::ValueSurroundingWhitespace`].
    pub fn new(value: impl Into<String> + AsRef<str>) -> Result<Self, HeaderError> {
        validate_value(value.as_ref().as_bytes())?;
        Ok(Self(ByteString::from(value.into())))
    }

    /// The value as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What [`HeaderMap::insert`] and [`HeaderMap::append`] take as a name: a [`HeaderName`],
/// or a string (`&str`, `String`) that is one.
///
/// A string that is not a valid header name panics on conversion, like a malformed
/// literal; names from untrusted input go through [`HeaderMap::try_insert`] or
/// [`HeaderName::new`], which return the error instead.
pub trait IntoHeaderName {
    /// The name.
    ///
    /// # Panics
    /// If a string is not a valid header name (empty, or a byte outside printable ASCII or
    /// a `:`).
    fn into_header_name(self) -> HeaderName;
}

impl IntoHeaderName for HeaderName {
    fn into_header_name(self) -> HeaderName {
        self
    }
}

impl IntoHeaderName for &HeaderName {
    fn into_header_name(self) -> HeaderName {
        self.clone()
    }
}

impl IntoHeaderName for &str {
    fn into_header_name(self) -> HeaderName {
        HeaderName::new(self).unwrap_or_else(|e| panic!("invalid header name {self:?}: {e}"))
    }
}

impl IntoHeaderName for String {
    fn into_header_name(self) -> HeaderName {
        if let Err(e) = validate_name(self.as_bytes()) {
            panic!("invalid header name {self:?}: {e}");
        }
        HeaderName(ByteString::from(self))
    }
}

impl IntoHeaderName for &String {
    fn into_header_name(self) -> HeaderName {
        self.as_str().into_header_name()
    }
}

/// What [`HeaderMap::insert`] and [`HeaderMap::append`] take as a value: a
/// [`HeaderValue`], a string (`&str`, `String`) that is one, or an integer.
///
/// A string that is not a valid header value (a CR or LF, or surrounding whitespace)
/// panics on conversion; values from untrusted input go through [`HeaderMap::try_insert`]
/// or [`HeaderValue::new`], which return the error instead. Integers are always valid.
pub trait IntoHeaderValue {
    /// The value.
    ///
    /// # Panics
    /// If a string is not a valid header value.
    fn into_header_value(self) -> HeaderValue;
}

impl IntoHeaderValue for HeaderValue {
    fn into_header_value(self) -> HeaderValue {
        self
    }
}

impl IntoHeaderValue for &HeaderValue {
    fn into_header_value(self) -> HeaderValue {
        self.clone()
    }
}

impl IntoHeaderValue for &str {
    fn into_header_value(self) -> HeaderValue {
        HeaderValue::new(self).unwrap_or_else(|e| panic!("invalid header value {self:?}: {e}"))
    }
}

impl IntoHeaderValue for String {
    fn into_header_value(self) -> HeaderValue {
        if let Err(e) = validate_value(self.as_bytes()) {
            panic!("invalid header value {self:?}: {e}");
        }
        HeaderValue(ByteString::from(self))
    }
}

impl IntoHeaderValue for &String {
    fn into_header_value(self) -> HeaderValue {
        self.as_str().into_header_value()
    }
}

macro_rules! integer_values {
    ($($int:ty),*) => {$(
        impl IntoHeaderValue for $int {
            fn into_header_value(self) -> HeaderValue {
                HeaderValue(ByteString::from(self.to_string()))
            }
        }
        impl From<$int> for HeaderValue {
            fn from(value: $int) -> Self {
                value.into_header_value()
            }
        }
    )*};
}
integer_values!(u8, u16, u32, u64, u128, usize, i8, i16, i32, i64, i128, isize);

fn validate_value(value: &[u8]) -> Result<(), HeaderError> {
    if memchr::memchr2(b'\r', b'\n', value).is_some() {
        return Err(HeaderError::ValueLineBreak);
    }
    let is_blank = |b: Option<&u8>| matches!(b, Some(b' ' | b'\t'));
    if is_blank(value.first()) || is_blank(value.last()) {
        return Err(HeaderError::ValueSurroundingWhitespace);
    }
    Ok(())
}

macro_rules! string_like {
    ($ty:ty) => {
        impl fmt::Debug for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(self.as_str(), f)
            }
        }
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
        impl TryFrom<&str> for $ty {
            type Error = HeaderError;
            fn try_from(value: &str) -> Result<Self, Self::Error> {
                Self::new(value)
            }
        }
        impl core::str::FromStr for $ty {
            type Err = HeaderError;
            fn from_str(value: &str) -> Result<Self, Self::Err> {
                Self::new(value)
            }
        }
        impl AsRef<str> for $ty {
            fn as_ref(&self) -> &str {
                self.as_str()
            }
        }
        impl TryFrom<String> for $ty {
            type Error = HeaderError;
            fn try_from(value: String) -> Result<Self, Self::Error> {
                Self::new(value)
            }
        }
        impl PartialEq<str> for $ty {
            fn eq(&self, other: &str) -> bool {
                self.as_str() == other
            }
        }
        impl PartialEq<&str> for $ty {
            fn eq(&self, other: &&str) -> bool {
                self.as_str() == *other
            }
        }
    };
}
string_like!(HeaderName);
string_like!(HeaderValue);

/// Message headers: an optional status line and an ordered list of name/value pairs in
/// which a name may repeat. Order and case are preserved on the wire.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HeaderMap {
    status: Option<StatusCode>,
    description: Option<HeaderValue>,
    entries: Vec<(HeaderName, HeaderValue)>,
}

impl HeaderMap {
    /// An empty map (encodes as `NATS/1.0\r\n\r\n`).
    pub fn new() -> Self {
        Self::default()
    }

    /// The status code of the version line, if any (503 for no responders, ...).
    pub fn status(&self) -> Option<StatusCode> {
        self.status
    }

    /// The description following the status code, if any.
    pub fn description(&self) -> Option<&HeaderValue> {
        self.description.as_ref()
    }

    /// Sets (or clears, with `None`) the status line; a description needs a status.
    pub fn set_status(&mut self, status: Option<(StatusCode, Option<HeaderValue>)>) {
        (self.status, self.description) = match status {
            Some((code, description)) => (Some(code), description.filter(|d| !d.0.is_empty())),
            None => (None, None),
        };
    }

    /// The first value of `name` (compared exactly, case included).
    ///
    /// ```
    /// use nats_proto::HeaderMap;
    ///
    /// let mut headers = HeaderMap::new();
    /// headers.insert("Trace-Id", "abc");
    /// assert_eq!(headers.get("Trace-Id").map(|v| v.as_str()), Some("abc"));
    /// assert_eq!(headers.get("trace-id"), None);
    /// ```
    pub fn get(&self, name: impl AsRef<str>) -> Option<&HeaderValue> {
        let name = name.as_ref();
        self.entries.iter().find(|(n, _)| n.as_str() == name).map(|(_, v)| v)
    }

    /// The last value of `name`: the one a later [`append`](Self::append) added.
    pub fn get_last(&self, name: impl AsRef<str>) -> Option<&HeaderValue> {
        let name = name.as_ref();
        self.entries.iter().rev().find(|(n, _)| n.as_str() == name).map(|(_, v)| v)
    }

    /// Every value of `name`, in order.
    pub fn get_all<N: AsRef<str>>(&self, name: N) -> impl Iterator<Item = &HeaderValue> + use<'_, N> {
        self.entries.iter().filter(move |(n, _)| n.as_str() == name.as_ref()).map(|(_, v)| v)
    }

    /// Replaces every value of `name` with `value`. Names and values may be strings:
    /// `headers.insert("Trace-Id", "abc")`.
    ///
    /// # Panics
    /// If a string given is not a valid name or value (see [`IntoHeaderName`],
    /// [`IntoHeaderValue`]); [`try_insert`](Self::try_insert) returns the error instead.
    pub fn insert(&mut self, name: impl IntoHeaderName, value: impl IntoHeaderValue) {
        let name = name.into_header_name();
        let value = value.into_header_value();
        self.remove(name.as_str());
        self.entries.push((name, value));
    }

    /// Adds a value for `name`, keeping existing ones.
    ///
    /// # Panics
    /// As [`insert`](Self::insert); [`try_append`](Self::try_append) returns the error
    /// instead.
    pub fn append(&mut self, name: impl IntoHeaderName, value: impl IntoHeaderValue) {
        self.entries.push((name.into_header_name(), value.into_header_value()));
    }

    /// [`insert`](Self::insert) for names and values from untrusted input: checks both
    /// and changes nothing when either is invalid.
    ///
    /// # Errors
    /// The [`HeaderError`] of the name or of the value.
    ///
    /// ```
    /// use nats_proto::{HeaderError, HeaderMap};
    ///
    /// let mut headers = HeaderMap::new();
    /// headers.try_insert("Trace-Id", "abc")?;
    /// assert_eq!(headers.try_insert("Bad:Name", "x"), Err(HeaderError::InvalidNameByte(3)));
    /// assert_eq!(headers.try_insert("Note", "two\r\nlines"), Err(HeaderError::ValueLineBreak));
    /// assert_eq!(headers.len(), 1);
    /// # Ok::<(), HeaderError>(())
    /// ```
    pub fn try_insert(&mut self, name: impl AsRef<str>, value: impl AsRef<str>) -> Result<(), HeaderError> {
        let (name, value) = (HeaderName::new(name.as_ref())?, HeaderValue::new(value.as_ref())?);
        self.insert(name, value);
        Ok(())
    }

    /// [`append`](Self::append) for names and values from untrusted input.
    ///
    /// # Errors
    /// The [`HeaderError`] of the name or of the value; nothing is added then.
    pub fn try_append(&mut self, name: impl AsRef<str>, value: impl AsRef<str>) -> Result<(), HeaderError> {
        let (name, value) = (HeaderName::new(name.as_ref())?, HeaderValue::new(value.as_ref())?);
        self.entries.push((name, value));
        Ok(())
    }

    /// Removes every value of `name`; returns whether any was present.
    pub fn remove(&mut self, name: impl AsRef<str>) -> bool {
        let name = name.as_ref();
        let before = self.entries.len();
        self.entries.retain(|(n, _)| n.as_str() != name);
        before != self.entries.len()
    }

    /// All name/value pairs, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&HeaderName, &HeaderValue)> {
        self.entries.iter().map(|(n, v)| (n, v))
    }

    /// The number of name/value pairs.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no name/value pairs (a status line may still be present).
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The exact size of the encoded block, as announced in `HPUB`/`HMSG`.
    pub fn encoded_len(&self) -> usize {
        let mut len = VERSION_LINE.len() + 2 + 2;
        if self.status.is_some() {
            len += 4;
            if let Some(d) = &self.description {
                len += 1 + d.0.len();
            }
        }
        for (name, value) in &self.entries {
            len += name.0.len() + 2 + value.0.len() + 2;
        }
        len
    }

    /// Writes the block (`NATS/1.0 ...\r\n`, one line per pair, then `\r\n`).
    pub fn encode(&self, out: &mut impl BufMut) {
        out.put_slice(VERSION_LINE);
        if let Some(status) = self.status {
            out.put_u8(b' ');
            out.put_slice(&status.to_ascii());
            if let Some(d) = &self.description {
                out.put_u8(b' ');
                out.put_slice(d.0.as_bytes());
            }
        }
        out.put_slice(b"\r\n");
        for (name, value) in &self.entries {
            out.put_slice(name.0.as_bytes());
            out.put_slice(b": ");
            out.put_slice(value.0.as_bytes());
            out.put_slice(b"\r\n");
        }
        out.put_slice(b"\r\n");
    }

    /// Parses a header block. Names, values and the description are slices of `block`
    /// (no copy). Line ends may be CRLF or LF; runs of spaces in the version line and
    /// around values are tolerated.
    ///
    /// # Errors
    /// A [`HeaderError`] for a malformed block.
    pub fn decode(block: &Bytes) -> Result<Self, HeaderError> {
        let mut map = Self::new();
        let mut lines = Lines { block, pos: 0 };
        let (start, end) = lines.next().ok_or(HeaderError::Unterminated)?;
        let version = &block[start..end];
        let rest = version.strip_prefix(VERSION_LINE).ok_or(HeaderError::MissingVersion)?;
        if !rest.is_empty() {
            if !matches!(rest[0], b' ' | b'\t') {
                return Err(HeaderError::MissingVersion);
            }
            let (code_start, code_end) = trim_range(version, VERSION_LINE.len(), version.len());
            let code_and_desc = &version[code_start..code_end];
            if !code_and_desc.is_empty() {
                let digits_end = code_and_desc
                    .iter()
                    .position(|b| matches!(b, b' ' | b'\t'))
                    .unwrap_or(code_and_desc.len());
                map.status = Some(
                    StatusCode::from_ascii(&code_and_desc[..digits_end]).ok_or(HeaderError::InvalidStatus)?,
                );
                let (d_start, d_end) = trim_range(version, code_start + digits_end, code_end);
                if d_start < d_end {
                    map.description = Some(HeaderValue(utf8(block.slice(start + d_start..start + d_end))?));
                }
            }
        }
        loop {
            let (start, end) = lines.next().ok_or(HeaderError::Unterminated)?;
            if start == end {
                break;
            }
            let line = &block[start..end];
            let colon = memchr::memchr(b':', line).ok_or(HeaderError::MissingColon)?;
            validate_name(&line[..colon])?;
            let (v_start, v_end) = trim_range(line, colon + 1, line.len());
            map.entries.push((
                HeaderName(utf8(block.slice(start..start + colon))?),
                HeaderValue(utf8(block.slice(start + v_start..start + v_end))?),
            ));
        }
        if lines.pos != block.len() {
            return Err(HeaderError::TrailingBytes);
        }
        Ok(map)
    }
}

/// The range of `bytes[start..end]` without leading and trailing spaces and tabs.
fn trim_range(bytes: &[u8], mut start: usize, mut end: usize) -> (usize, usize) {
    while start < end && matches!(bytes[start], b' ' | b'\t') {
        start += 1;
    }
    while end > start && matches!(bytes[end - 1], b' ' | b'\t') {
        end -= 1;
    }
    (start, end)
}

fn utf8(bytes: Bytes) -> Result<ByteString, HeaderError> {
    ByteString::try_from(bytes).map_err(|_| HeaderError::NotUtf8)
}

/// Iterates over the lines of a block as `(start, end)` ranges without the line end.
struct Lines<'a> {
    block: &'a Bytes,
    pos: usize,
}

impl Iterator for Lines<'_> {
    type Item = (usize, usize);
    fn next(&mut self) -> Option<(usize, usize)> {
        let lf = self.pos + memchr::memchr(b'\n', &self.block[self.pos..])?;
        let start = self.pos;
        let end = if lf > start && self.block[lf - 1] == b'\r' { lf - 1 } else { lf };
        self.pos = lf + 1;
        Some((start, end))
    }
}

impl<'a> IntoIterator for &'a HeaderMap {
    type Item = (&'a HeaderName, &'a HeaderValue);
    type IntoIter = core::iter::Map<
        core::slice::Iter<'a, (HeaderName, HeaderValue)>,
        fn(&'a (HeaderName, HeaderValue)) -> (&'a HeaderName, &'a HeaderValue),
    >;
    fn into_iter(self) -> Self::IntoIter {
        self.entries.iter().map(|(n, v)| (n, v))
    }
}

/// Pairs in order, as [`append`](HeaderMap::append) adds them (a repeated name keeps
/// every value).
///
/// # Panics
/// As [`HeaderMap::append`], for a string that is not a valid name or value.
///
/// ```
/// use nats_proto::HeaderMap;
///
/// let headers: HeaderMap = [("Trace-Id", "abc"), ("Tag", "a"), ("Tag", "b")].into_iter().collect();
/// assert_eq!(headers.get_all("Tag").count(), 2);
/// ```
impl<N: IntoHeaderName, V: IntoHeaderValue> FromIterator<(N, V)> for HeaderMap {
    fn from_iter<T: IntoIterator<Item = (N, V)>>(iter: T) -> Self {
        let mut map = Self::new();
        map.extend(iter);
        map
    }
}

impl<N: IntoHeaderName, V: IntoHeaderValue> Extend<(N, V)> for HeaderMap {
    fn extend<T: IntoIterator<Item = (N, V)>>(&mut self, iter: T) {
        for (name, value) in iter {
            self.append(name, value);
        }
    }
}

#[cfg(test)]
mod conversion_tests {
    use super::*;

    #[test]
    fn names_and_values_parse_display_and_compare_like_strings() {
        let name: HeaderName = "Nats-Msg-Id".parse().unwrap();
        let value: HeaderValue = "abc 1".parse().unwrap();
        assert_eq!(name, "Nats-Msg-Id");
        assert_eq!(value.as_ref(), "abc 1");
        assert_eq!(format!("{name}: {value}"), "Nats-Msg-Id: abc 1");
        assert!("bad:name".parse::<HeaderName>().is_err());
        assert!(" padded".parse::<HeaderValue>().is_err());
        assert_eq!(HeaderName::try_from(String::from("X")).unwrap(), "X");
    }

    #[test]
    fn maps_take_strings_integers_and_typed_names_and_values() {
        let mut headers = HeaderMap::new();
        headers.insert("Trace-Id", "abc");
        headers.insert(String::from("Owner"), String::from("team-a"));
        headers.append(HeaderName::from_static("Tag"), HeaderValue::new("x").unwrap());
        headers.append("Tag", 42_u64);
        headers.insert("Delta", -7_i32);
        assert_eq!(headers.get("Trace-Id").unwrap(), "abc");
        assert_eq!(headers.get(String::from("Owner")).unwrap(), "team-a");
        assert_eq!(headers.get(HeaderName::from_static("Tag")).unwrap(), "x");
        assert_eq!(headers.get_last("Tag").unwrap(), "42");
        assert_eq!(headers.get_all("Tag").map(HeaderValue::as_str).collect::<Vec<_>>(), ["x", "42"]);
        assert_eq!(headers.get("Delta").unwrap(), "-7");
        assert_eq!(HeaderValue::from(7_u8), "7");
        assert!(headers.remove("Tag"));
        assert_eq!(headers.len(), 3);
    }

    #[test]
    fn checked_inserts_report_the_error_and_change_nothing() {
        let mut headers = HeaderMap::new();
        assert_eq!(headers.try_insert("", "v"), Err(HeaderError::EmptyName));
        assert_eq!(headers.try_insert("A B", "v"), Err(HeaderError::InvalidNameByte(1)));
        assert_eq!(headers.try_append("A", " v"), Err(HeaderError::ValueSurroundingWhitespace));
        assert_eq!(headers.try_append("A", "v\n"), Err(HeaderError::ValueLineBreak));
        assert!(headers.is_empty());
        headers.try_append("A", "1").unwrap();
        headers.try_append("A", "2").unwrap();
        headers.try_insert("A", "3").unwrap();
        assert_eq!(headers.get_all("A").map(HeaderValue::as_str).collect::<Vec<_>>(), ["3"]);
    }

    #[test]
    #[should_panic(expected = "invalid header name")]
    fn an_invalid_name_given_as_a_string_panics() {
        HeaderMap::new().insert("Bad:Name", "v");
    }

    #[test]
    #[should_panic(expected = "invalid header value")]
    fn an_invalid_value_given_as_a_string_panics() {
        HeaderMap::new().insert("Name", String::from("line\r\nbreak"));
    }

    #[test]
    #[should_panic(expected = "header name is empty")]
    fn an_empty_static_name_panics() {
        let _ = HeaderName::from_static("");
    }

    #[test]
    fn collected_pairs_keep_every_value_in_order() {
        let mut headers: HeaderMap = vec![("A", "1"), ("B", "2"), ("A", "3")].into_iter().collect();
        headers.extend([(String::from("C"), 4_u32)]);
        let pairs: Vec<_> = headers.iter().map(|(n, v)| format!("{n}={v}")).collect();
        assert_eq!(pairs, ["A=1", "B=2", "A=3", "C=4"]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(block: &'static [u8]) -> Result<HeaderMap, HeaderError> {
        HeaderMap::decode(&Bytes::from_static(block))
    }

    fn name(s: &str) -> HeaderName {
        HeaderName::new(s).unwrap()
    }

    fn value(s: &str) -> HeaderValue {
        HeaderValue::new(s).unwrap()
    }

    #[test]
    fn minimal_block() {
        let map = decode(b"NATS/1.0\r\n\r\n").unwrap();
        assert_eq!(map, HeaderMap::new());
        let mut out = Vec::new();
        map.encode(&mut out);
        assert_eq!(out, b"NATS/1.0\r\n\r\n");
        assert_eq!(map.encoded_len(), out.len());
    }

    #[test]
    fn no_responders_status() {
        let map = decode(b"NATS/1.0 503\r\n\r\n").unwrap();
        assert_eq!(map.status(), Some(StatusCode::NO_RESPONDERS));
        assert_eq!(map.description(), None);
        assert!(map.is_empty());
    }

    #[test]
    fn status_with_description_and_extra_spaces() {
        let map = decode(b"NATS/1.0  404   No Messages  \r\n\r\n").unwrap();
        assert_eq!(map.status(), Some(StatusCode::NOT_FOUND));
        assert_eq!(map.description().unwrap(), "No Messages");
    }

    #[test]
    fn repeated_names_keep_order_and_case() {
        let map = decode(b"NATS/1.0\r\nA: 1\r\nb:2\r\nA:   3  \r\nEmpty:\r\n\r\n").unwrap();
        assert_eq!(map.get_all("A").map(HeaderValue::as_str).collect::<Vec<_>>(), ["1", "3"]);
        assert_eq!(map.get("b").unwrap(), "2");
        assert_eq!(map.get("B"), None);
        assert_eq!(map.get("Empty").unwrap(), "");
        let names: Vec<_> = map.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["A", "b", "A", "Empty"]);
    }

    #[test]
    fn lf_only_lines_are_tolerated() {
        let map = decode(b"NATS/1.0\nX: y\n\n").unwrap();
        assert_eq!(map.get("X").unwrap(), "y");
    }

    #[test]
    fn encode_decode_identity() {
        let mut map = HeaderMap::new();
        map.set_status(Some((StatusCode::REQUEST_TIMEOUT, Some(value("Request Timeout")))));
        map.append(name("Nats-Msg-Id"), value("abc"));
        map.append(name("Nats-Msg-Id"), value("def"));
        map.append(name("empty"), value(""));
        let mut out = Vec::new();
        map.encode(&mut out);
        assert_eq!(
            out,
            b"NATS/1.0 408 Request Timeout\r\nNats-Msg-Id: abc\r\nNats-Msg-Id: def\r\nempty: \r\n\r\n"
        );
        assert_eq!(map.encoded_len(), out.len());
        assert_eq!(HeaderMap::decode(&Bytes::from(out)).unwrap(), map);
    }

    #[test]
    fn insert_replaces_and_remove_removes() {
        let mut map = HeaderMap::new();
        map.append(name("a"), value("1"));
        map.append(name("a"), value("2"));
        map.insert(name("a"), value("3"));
        assert_eq!(map.get_all("a").count(), 1);
        assert!(map.remove("a"));
        assert!(!map.remove("a"));
        assert!(map.is_empty());
    }

    #[test]
    fn malformed_blocks() {
        let cases: &[(&'static [u8], HeaderError)] = &[
            (b"", HeaderError::Unterminated),
            (b"NATS/1.0\r\n", HeaderError::Unterminated),
            (b"NATS/1.0\r\nA: b\r\n", HeaderError::Unterminated),
            (b"HTTP/1.1\r\n\r\n", HeaderError::MissingVersion),
            (b"NATS/1.01\r\n\r\n", HeaderError::MissingVersion),
            (b"NATS/1.0 5x3\r\n\r\n", HeaderError::InvalidStatus),
            (b"NATS/1.0 50\r\n\r\n", HeaderError::InvalidStatus),
            (b"NATS/1.0\r\nnocolon\r\n\r\n", HeaderError::MissingColon),
            (b"NATS/1.0\r\nbad name: x\r\n\r\n", HeaderError::InvalidNameByte(3)),
            (b"NATS/1.0\r\n: x\r\n\r\n", HeaderError::EmptyName),
            (b"NATS/1.0\r\nA: \xff\r\n\r\n", HeaderError::NotUtf8),
            (b"NATS/1.0\r\n\r\nextra", HeaderError::TrailingBytes),
        ];
        for (block, expected) in cases {
            assert_eq!(&decode(block).unwrap_err(), expected, "{:?}", String::from_utf8_lossy(block));
        }
    }

    #[test]
    fn constructors_validate() {
        assert_eq!(HeaderName::new(""), Err(HeaderError::EmptyName));
        assert_eq!(HeaderName::new("a:b"), Err(HeaderError::InvalidNameByte(1)));
        assert_eq!(HeaderName::new("é"), Err(HeaderError::InvalidNameByte(0)));
        assert_eq!(HeaderValue::new("a\r\nb"), Err(HeaderError::ValueLineBreak));
        assert_eq!(HeaderValue::new(" a"), Err(HeaderError::ValueSurroundingWhitespace));
        assert_eq!(HeaderValue::new("a\t"), Err(HeaderError::ValueSurroundingWhitespace));
        assert_eq!(HeaderValue::new("a b é").unwrap(), "a b é");
    }
}
