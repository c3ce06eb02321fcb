//! JetStream API subjects (ADR-1): `$JS.API.<op>`, with a domain (`$JS.<domain>.API`) or a
//! custom API prefix (for imports across accounts).

use std::fmt;

/// A stream or consumer name that cannot be used in an API subject.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {kind} name {name:?}: must be non-empty, without '.', '*', '>', whitespace or control characters")]
pub struct InvalidName {
    /// `"stream"` or `"consumer"`.
    pub kind: &'static str,
    /// The name given.
    pub name: String,
}

/// Checks a stream or consumer name: it becomes one token of an API subject.
///
/// # Errors
/// [`InvalidName`] when empty or containing `.`, `*`, `>`, whitespace, or control characters.
pub fn validate_name(kind: &'static str, name: &str) -> Result<(), InvalidName> {
    let bad = name.is_empty()
        || name.chars().any(|c| matches!(c, '.' | '*' | '>') || c.is_whitespace() || c.is_control());
    if bad {
        Err(InvalidName { kind, name: name.to_owned() })
    } else {
        Ok(())
    }
}

/// The prefix of every JetStream API subject; builds the subjects of each operation.
///
/// ```
/// use nats_jetstream::proto::ApiPrefix;
///
/// assert_eq!(ApiPrefix::default().stream_info("ORDERS").unwrap(), "$JS.API.STREAM.INFO.ORDERS");
/// assert_eq!(ApiPrefix::domain("hub").info(), "$JS.hub.API.INFO");
/// assert_eq!(ApiPrefix::custom("JS.acct.API").stream_names(), "JS.acct.API.STREAM.NAMES");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiPrefix(String);

impl Default for ApiPrefix {
    fn default() -> Self {
        Self("$JS.API".to_owned())
    }
}

impl fmt::Display for ApiPrefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl ApiPrefix {
    /// The prefix of a JetStream domain: `$JS.<domain>.API`. An empty domain is the default
    /// `$JS.API`.
    pub fn domain(domain: &str) -> Self {
        if domain.is_empty() {
            Self::default()
        } else {
            Self(format!("$JS.{domain}.API"))
        }
    }

    /// A custom prefix (trailing dots are removed), for example an import from another
    /// account.
    pub fn custom(prefix: &str) -> Self {
        Self(prefix.trim_end_matches('.').to_owned())
    }

    /// The prefix itself.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    fn op(&self, op: &str) -> String {
        format!("{}.{op}", self.0)
    }

    fn named(&self, op: &str, kind: &'static str, name: &str) -> Result<String, InvalidName> {
        validate_name(kind, name)?;
        Ok(format!("{}.{op}.{name}", self.0))
    }

    /// `INFO`: account information.
    pub fn info(&self) -> String {
        self.op("INFO")
    }

    /// `STREAM.CREATE.<stream>`.
    ///
    /// # Errors
    /// [`InvalidName`].
    pub fn stream_create(&self, stream: &str) -> Result<String, InvalidName> {
        self.named("STREAM.CREATE", "stream", stream)
    }

    /// `STREAM.UPDATE.<stream>`.
    ///
    /// # Errors
    /// [`InvalidName`].
    pub fn stream_update(&self, stream: &str) -> Result<String, InvalidName> {
        self.named("STREAM.UPDATE", "stream", stream)
    }

    /// `STREAM.INFO.<stream>`.
    ///
    /// # Errors
    /// [`InvalidName`].
    pub fn stream_info(&self, stream: &str) -> Result<String, InvalidName> {
        self.named("STREAM.INFO", "stream", stream)
    }

    /// `STREAM.DELETE.<stream>`.
    ///
    /// # Errors
    /// [`InvalidName`].
    pub fn stream_delete(&self, stream: &str) -> Result<String, InvalidName> {
        self.named("STREAM.DELETE", "stream", stream)
    }

    /// `STREAM.PURGE.<stream>`.
    ///
    /// # Errors
    /// [`InvalidName`].
    pub fn stream_purge(&self, stream: &str) -> Result<String, InvalidName> {
        self.named("STREAM.PURGE", "stream", stream)
    }

    /// `STREAM.NAMES` (paged).
    pub fn stream_names(&self) -> String {
        self.op("STREAM.NAMES")
    }

    /// `STREAM.LIST` (paged).
    pub fn stream_list(&self) -> String {
        self.op("STREAM.LIST")
    }

    /// `STREAM.MSG.GET.<stream>`.
    ///
    /// # Errors
    /// [`InvalidName`].
    pub fn stream_msg_get(&self, stream: &str) -> Result<String, InvalidName> {
        self.named("STREAM.MSG.GET", "stream", stream)
    }

    /// `DIRECT.GET.<stream>`: a direct get with a JSON request.
    ///
    /// # Errors
    /// [`InvalidName`].
    pub fn direct_get(&self, stream: &str) -> Result<String, InvalidName> {
        self.named("DIRECT.GET", "stream", stream)
    }

    /// `DIRECT.GET.<stream>.<subject>`: the last message on `subject`, with an empty
    /// request. `None` for a subject that cannot end a published subject (empty, with
    /// whitespace, or a filter with `*` or `>`), which the JSON form carries instead.
    ///
    /// # Errors
    /// [`InvalidName`].
    pub fn direct_get_last(&self, stream: &str, subject: &str) -> Result<Option<String>, InvalidName> {
        validate_name("stream", stream)?;
        let plain = !subject.is_empty()
            && !subject.starts_with('.')
            && !subject.ends_with('.')
            && !subject.contains("..")
            && !subject.bytes().any(|b| b.is_ascii_whitespace())
            && !subject.split('.').any(|token| token == "*" || token == ">");
        Ok(plain.then(|| format!("{}.DIRECT.GET.{stream}.{subject}", self.0)))
    }

    /// `STREAM.MSG.DELETE.<stream>`.
    ///
    /// # Errors
    /// [`InvalidName`].
    pub fn stream_msg_delete(&self, stream: &str) -> Result<String, InvalidName> {
        self.named("STREAM.MSG.DELETE", "stream", stream)
    }

    /// `CONSUMER.CREATE.<stream>.<consumer>` for a named (durable or not) consumer, or
    /// `CONSUMER.CREATE.<stream>` for an ephemeral one whose name the server picks.
    ///
    /// # Errors
    /// [`InvalidName`].
    pub fn consumer_create(&self, stream: &str, consumer: Option<&str>) -> Result<String, InvalidName> {
        let base = self.named("CONSUMER.CREATE", "stream", stream)?;
        match consumer {
            Some(name) => {
                validate_name("consumer", name)?;
                Ok(format!("{base}.{name}"))
            }
            None => Ok(base),
        }
    }

    fn stream_consumer(&self, op: &str, stream: &str, consumer: &str) -> Result<String, InvalidName> {
        validate_name("stream", stream)?;
        validate_name("consumer", consumer)?;
        Ok(format!("{}.{op}.{stream}.{consumer}", self.0))
    }

    /// `CONSUMER.INFO.<stream>.<consumer>`.
    ///
    /// # Errors
    /// [`InvalidName`].
    pub fn consumer_info(&self, stream: &str, consumer: &str) -> Result<String, InvalidName> {
        self.stream_consumer("CONSUMER.INFO", stream, consumer)
    }

    /// `CONSUMER.PAUSE.<stream>.<consumer>` (servers since 2.11).
    ///
    /// # Errors
    /// [`InvalidName`].
    pub fn consumer_pause(&self, stream: &str, consumer: &str) -> Result<String, InvalidName> {
        self.stream_consumer("CONSUMER.PAUSE", stream, consumer)
    }

    /// `CONSUMER.UNPIN.<stream>.<consumer>` (servers since 2.11).
    ///
    /// # Errors
    /// [`InvalidName`].
    pub fn consumer_unpin(&self, stream: &str, consumer: &str) -> Result<String, InvalidName> {
        self.stream_consumer("CONSUMER.UNPIN", stream, consumer)
    }

    /// `CONSUMER.DELETE.<stream>.<consumer>`.
    ///
    /// # Errors
    /// [`InvalidName`].
    pub fn consumer_delete(&self, stream: &str, consumer: &str) -> Result<String, InvalidName> {
        self.stream_consumer("CONSUMER.DELETE", stream, consumer)
    }

    /// `CONSUMER.MSG.NEXT.<stream>.<consumer>`: where pull requests go.
    ///
    /// # Errors
    /// [`InvalidName`].
    pub fn consumer_next(&self, stream: &str, consumer: &str) -> Result<String, InvalidName> {
        self.stream_consumer("CONSUMER.MSG.NEXT", stream, consumer)
    }

    /// `CONSUMER.NAMES.<stream>` (paged).
    ///
    /// # Errors
    /// [`InvalidName`].
    pub fn consumer_names(&self, stream: &str) -> Result<String, InvalidName> {
        self.named("CONSUMER.NAMES", "stream", stream)
    }

    /// `CONSUMER.LIST.<stream>` (paged).
    ///
    /// # Errors
    /// [`InvalidName`].
    pub fn consumer_list(&self, stream: &str) -> Result<String, InvalidName> {
        self.named("CONSUMER.LIST", "stream", stream)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_with_each_prefix() {
        let p = ApiPrefix::default();
        assert_eq!(p.info(), "$JS.API.INFO");
        assert_eq!(p.stream_create("S").unwrap(), "$JS.API.STREAM.CREATE.S");
        assert_eq!(p.stream_update("S").unwrap(), "$JS.API.STREAM.UPDATE.S");
        assert_eq!(p.stream_delete("S").unwrap(), "$JS.API.STREAM.DELETE.S");
        assert_eq!(p.stream_purge("S").unwrap(), "$JS.API.STREAM.PURGE.S");
        assert_eq!(p.stream_list(), "$JS.API.STREAM.LIST");
        assert_eq!(p.stream_msg_get("S").unwrap(), "$JS.API.STREAM.MSG.GET.S");
        assert_eq!(p.stream_msg_delete("S").unwrap(), "$JS.API.STREAM.MSG.DELETE.S");
        assert_eq!(p.consumer_create("S", None).unwrap(), "$JS.API.CONSUMER.CREATE.S");
        assert_eq!(p.consumer_create("S", Some("C")).unwrap(), "$JS.API.CONSUMER.CREATE.S.C");
        assert_eq!(p.consumer_info("S", "C").unwrap(), "$JS.API.CONSUMER.INFO.S.C");
        assert_eq!(p.consumer_delete("S", "C").unwrap(), "$JS.API.CONSUMER.DELETE.S.C");
        assert_eq!(p.consumer_next("S", "C").unwrap(), "$JS.API.CONSUMER.MSG.NEXT.S.C");
        assert_eq!(p.consumer_names("S").unwrap(), "$JS.API.CONSUMER.NAMES.S");
        assert_eq!(p.consumer_list("S").unwrap(), "$JS.API.CONSUMER.LIST.S");
        assert_eq!(p.consumer_pause("S", "C").unwrap(), "$JS.API.CONSUMER.PAUSE.S.C");
        assert_eq!(p.consumer_unpin("S", "C").unwrap(), "$JS.API.CONSUMER.UNPIN.S.C");
        assert_eq!(p.direct_get("S").unwrap(), "$JS.API.DIRECT.GET.S");
        assert_eq!(p.direct_get_last("S", "a.b").unwrap().as_deref(), Some("$JS.API.DIRECT.GET.S.a.b"));
        // Filters and subjects that cannot be published to go in the JSON form.
        for filter in ["a.*", "a.>", ">", "a b", "", "a..b", ".a", "a."] {
            assert_eq!(p.direct_get_last("S", filter).unwrap(), None, "{filter:?}");
        }
        assert_eq!(ApiPrefix::domain("leaf").stream_info("S").unwrap(), "$JS.leaf.API.STREAM.INFO.S");
        assert_eq!(ApiPrefix::domain(""), ApiPrefix::default());
        assert_eq!(
            ApiPrefix::custom("X.API.").consumer_next("S", "C").unwrap(),
            "X.API.CONSUMER.MSG.NEXT.S.C"
        );
    }

    #[test]
    fn bad_names_are_rejected() {
        let p = ApiPrefix::default();
        for bad in ["", "a.b", "a*", ">", "a b", "a\tb", "a\r\n"] {
            assert!(p.stream_info(bad).is_err(), "{bad:?}");
            assert!(p.consumer_info("S", bad).is_err(), "{bad:?}");
        }
        assert!(p.stream_info("ORDERS-1_x").is_ok());
    }
}
