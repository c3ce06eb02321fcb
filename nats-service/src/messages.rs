//! The discovery messages of ADR-32 (`$SRV.PING|INFO|STATS`), the control subjects and the
//! error headers (sans-IO).
//!
//! The same types serialize our responses and parse other services' responses. What we
//! write, field by field, and why:
//!
//! - `metadata` (service and endpoint) is always an object, `{}` when empty (nats.go writes
//!   `null` for an endpoint without metadata, nats-py `null` for one without; both are read
//!   here as empty);
//! - `description` is a string, `""` when none (nats-py writes `null`, read here as `""`);
//! - `last_error` is always present, `""` when none, and `data` is always present, `null`
//!   without a stats handler: nats-py's `EndpointStats.from_dict` indexes both keys (nats.go
//!   omits `data`, which nats-py then cannot parse);
//! - `processing_time` and `average_processing_time` are integer nanoseconds;
//! - `started` is RFC 3339 UTC with six fractional digits (see
//!   [`rfc3339::format_micros`](nats_client::rfc3339::format_micros)).

use std::collections::BTreeMap;

use nats_client::{HeaderMap, HeaderName, HeaderValue, Message};
use serde::{Deserialize, Deserializer, Serialize};

/// The prefix of every control subject.
pub const API_PREFIX: &str = "$SRV";
/// The `type` of a PING response.
pub const PING_RESPONSE_TYPE: &str = "io.nats.micro.v1.ping_response";
/// The `type` of an INFO response.
pub const INFO_RESPONSE_TYPE: &str = "io.nats.micro.v1.info_response";
/// The `type` of a STATS response.
pub const STATS_RESPONSE_TYPE: &str = "io.nats.micro.v1.stats_response";
/// The header carrying an error's description.
pub const ERROR_HEADER: &str = "Nats-Service-Error";
/// The header carrying an error's code.
pub const ERROR_CODE_HEADER: &str = "Nats-Service-Error-Code";

/// A discovery verb.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Verb {
    /// `PING`: identity only, for discovery and round-trip time.
    Ping,
    /// `INFO`: identity, description and endpoints.
    Info,
    /// `STATS`: identity, start time and per-endpoint statistics.
    Stats,
}

impl Verb {
    /// Every verb.
    pub const ALL: [Verb; 3] = [Verb::Ping, Verb::Info, Verb::Stats];

    /// The verb as it appears in subjects.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ping => "PING",
            Self::Info => "INFO",
            Self::Stats => "STATS",
        }
    }

    /// The verb of a control subject (`$SRV.<VERB>[.<name>[.<id>]]`), if it is one.
    pub fn from_subject(subject: &str) -> Option<Self> {
        Self::from_subject_with_prefix(API_PREFIX, subject)
    }

    /// The verb of a control subject under another API prefix
    /// (`<prefix>.<VERB>[.<name>[.<id>]]`), if it is one.
    pub fn from_subject_with_prefix(prefix: &str, subject: &str) -> Option<Self> {
        let rest = subject.strip_prefix(prefix)?.strip_prefix('.')?;
        let mut tokens = rest.split('.');
        let verb = match tokens.next()? {
            "PING" => Self::Ping,
            "INFO" => Self::Info,
            "STATS" => Self::Stats,
            _ => return None,
        };
        (tokens.count() <= 2).then_some(verb)
    }
}

/// The control subject for `verb`: all services (`name` `None`), all instances of one
/// service, or one instance (`name` and `id`). An `id` without a `name` is ignored.
pub fn control_subject(verb: Verb, name: Option<&str>, id: Option<&str>) -> String {
    control_subject_with_prefix(API_PREFIX, verb, name, id)
}

/// [`control_subject`] under another API prefix (ADR-32: the prefix is overridable, as
/// `$JS` is, for tools working across accounts).
pub fn control_subject_with_prefix(prefix: &str, verb: Verb, name: Option<&str>, id: Option<&str>) -> String {
    match (name, id) {
        (None, _) => format!("{prefix}.{}", verb.as_str()),
        (Some(name), None) => format!("{prefix}.{}.{name}", verb.as_str()),
        (Some(name), Some(id)) => format!("{prefix}.{}.{name}.{id}", verb.as_str()),
    }
}

fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// The response to `$SRV.PING`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PingResponse {
    /// `io.nats.micro.v1.ping_response`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The service's name.
    pub name: String,
    /// The instance's id.
    pub id: String,
    /// The service's version.
    pub version: String,
    /// The service's metadata.
    #[serde(default, deserialize_with = "null_as_default")]
    pub metadata: BTreeMap<String, String>,
}

/// One endpoint in an INFO response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct EndpointInfo {
    /// The endpoint's name.
    pub name: String,
    /// The subject it listens on.
    pub subject: String,
    /// Its queue group, `""` when it has none.
    #[serde(default, deserialize_with = "null_as_default")]
    pub queue_group: String,
    /// Its metadata.
    #[serde(default, deserialize_with = "null_as_default")]
    pub metadata: BTreeMap<String, String>,
}

/// The response to `$SRV.INFO`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct InfoResponse {
    /// `io.nats.micro.v1.info_response`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The service's name.
    pub name: String,
    /// The instance's id.
    pub id: String,
    /// The service's version.
    pub version: String,
    /// The service's metadata.
    #[serde(default, deserialize_with = "null_as_default")]
    pub metadata: BTreeMap<String, String>,
    /// The service's description (`""` when none).
    #[serde(default, deserialize_with = "null_as_default")]
    pub description: String,
    /// Its endpoints, in the order they were added.
    #[serde(default, deserialize_with = "null_as_default")]
    pub endpoints: Vec<EndpointInfo>,
}

/// One endpoint's statistics in a STATS response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct EndpointStats {
    /// The endpoint's name.
    pub name: String,
    /// The subject it listens on.
    pub subject: String,
    /// Its queue group, `""` when it has none.
    #[serde(default, deserialize_with = "null_as_default")]
    pub queue_group: String,
    /// Requests handled.
    pub num_requests: u64,
    /// Requests answered with an error.
    pub num_errors: u64,
    /// The last error, `"code:description"`, `""` when none.
    #[serde(default, deserialize_with = "null_as_default")]
    pub last_error: String,
    /// Total processing time, in nanoseconds.
    pub processing_time: u64,
    /// `processing_time / num_requests`, truncated; 0 without requests.
    pub average_processing_time: u64,
    /// What the service's stats handler returned for this endpoint (`null` without one).
    #[serde(default)]
    pub data: Option<serde_json::Value>,
}

/// The response to `$SRV.STATS`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct StatsResponse {
    /// `io.nats.micro.v1.stats_response`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The service's name.
    pub name: String,
    /// The instance's id.
    pub id: String,
    /// The service's version.
    pub version: String,
    /// The service's metadata.
    #[serde(default, deserialize_with = "null_as_default")]
    pub metadata: BTreeMap<String, String>,
    /// When the service started (or its statistics were last reset), RFC 3339.
    pub started: String,
    /// Per-endpoint statistics, in the order the endpoints were added.
    #[serde(default, deserialize_with = "null_as_default")]
    pub endpoints: Vec<EndpointStats>,
}

impl StatsResponse {
    /// [`started`](Self::started) as a time, if it is valid RFC 3339.
    pub fn started_time(&self) -> Option<nats_client::SystemTime> {
        nats_client::rfc3339::parse(&self.started)
    }
}

/// An error reply of a service: the `Nats-Service-Error-Code` and `Nats-Service-Error`
/// headers.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ErrorReply {
    /// The code as sent (ADR-32: always parseable as a number; nats-py sends any string).
    pub code: String,
    /// The description (`""` when the description header is missing).
    pub description: String,
}

impl ErrorReply {
    /// The error of a reply, if it is an error reply (it has the code header).
    pub fn from_message(message: &Message) -> Option<Self> {
        let headers = message.headers.as_deref()?;
        let code = headers.get(ERROR_CODE_HEADER)?.as_str().to_owned();
        let description = headers.get(ERROR_HEADER).map(|v| v.as_str().to_owned()).unwrap_or_default();
        Some(Self { code, description })
    }

    /// The code as a number, when it is one.
    pub fn code_number(&self) -> Option<u32> {
        self.code.trim().parse().ok()
    }
}

impl std::fmt::Display for ErrorReply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.code, self.description)
    }
}

/// Makes any text a valid header value: line breaks become spaces, surrounding whitespace
/// goes.
fn header_value(text: &str) -> HeaderValue {
    let clean: String = text.chars().map(|c| if c == '\r' || c == '\n' { ' ' } else { c }).collect();
    HeaderValue::new(clean.trim()).unwrap_or_default()
}

/// Adds the error headers to `headers` (replacing any earlier ones): the standard way to
/// format a service error (ADR-32). A description with line breaks is put on one line.
pub fn set_error_headers(headers: &mut HeaderMap, code: u32, description: &str) {
    let name = |n: &'static str| HeaderName::new(n).expect("a constant, valid header name");
    headers.insert(name(ERROR_HEADER), header_value(description));
    headers.insert(name(ERROR_CODE_HEADER), header_value(&code.to_string()));
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use nats_client::Subject;
    use serde_json::json;

    use super::*;

    #[test]
    fn control_subjects() {
        assert_eq!(control_subject(Verb::Ping, None, None), "$SRV.PING");
        assert_eq!(control_subject(Verb::Info, Some("calc"), None), "$SRV.INFO.calc");
        assert_eq!(control_subject(Verb::Stats, Some("calc"), Some("ID")), "$SRV.STATS.calc.ID");
        assert_eq!(control_subject(Verb::Stats, None, Some("ID")), "$SRV.STATS");
        for verb in Verb::ALL {
            for subject in [
                control_subject(verb, None, None),
                control_subject(verb, Some("a"), None),
                control_subject(verb, Some("a"), Some("b")),
            ] {
                assert_eq!(Verb::from_subject(&subject), Some(verb), "{subject}");
            }
        }
        for other in ["", "$SRV", "$SRV.PONG", "SRV.PING", "$SRV.PING.a.b.c", "$JS.API.INFO", "$SRVX.PING"] {
            assert_eq!(Verb::from_subject(other), None, "{other}");
        }
        let subject = control_subject_with_prefix("acct.$SRV", Verb::Info, Some("a"), None);
        assert_eq!(subject, "acct.$SRV.INFO.a");
        assert_eq!(Verb::from_subject_with_prefix("acct.$SRV", &subject), Some(Verb::Info));
        assert_eq!(Verb::from_subject(&subject), None);
        assert_eq!(Verb::from_subject_with_prefix("acct.$SRV", "$SRV.INFO"), None);
    }

    #[test]
    fn parses_what_nats_go_writes() {
        // nats.go: embedded identity first, `null` endpoint metadata, no `data`, nanosecond
        // `started`.
        let text = r#"{"name":"calc","id":"abc","version":"1.0.0","metadata":{},"type":"io.nats.micro.v1.stats_response","started":"2024-01-02T03:04:05.123456789Z","endpoints":[{"name":"add","subject":"calc.add","queue_group":"q","num_requests":2,"num_errors":1,"last_error":"400:bad","processing_time":3000,"average_processing_time":1500}]}"#;
        let stats: StatsResponse = serde_json::from_str(text).unwrap();
        assert_eq!(stats.endpoints[0].data, None);
        assert_eq!(stats.endpoints[0].last_error, "400:bad");
        assert!(stats.started_time().is_some());
        let text = r#"{"name":"calc","id":"abc","version":"1.0.0","metadata":null,"type":"io.nats.micro.v1.info_response","description":"","endpoints":[{"name":"add","subject":"calc.add","queue_group":"q","metadata":null}]}"#;
        let info: InfoResponse = serde_json::from_str(text).unwrap();
        assert!(info.endpoints[0].metadata.is_empty());
        assert!(info.metadata.is_empty());
    }

    #[test]
    fn parses_what_nats_py_writes() {
        let text = r#"{"type": "io.nats.micro.v1.info_response", "id": "x", "name": "py", "version": "0.1.0", "description": null, "endpoints": [{"name": "e", "subject": "e", "queue_group": "q", "metadata": null}], "metadata": {}}"#;
        let info: InfoResponse = serde_json::from_str(text).unwrap();
        assert_eq!(info.description, "");
        let text = r#"{"type": "io.nats.micro.v1.stats_response", "name": "py", "id": "x", "version": "0.1.0", "started": "2024-01-02T03:04:05.123Z", "endpoints": [{"name": "e", "subject": "e", "queue_group": "q", "num_requests": 1, "num_errors": 0, "last_error": "", "processing_time": 10, "average_processing_time": 10, "data": null}], "metadata": {}}"#;
        let stats: StatsResponse = serde_json::from_str(text).unwrap();
        assert_eq!(stats.endpoints[0].num_requests, 1);
        assert!(stats.started_time().is_some());
    }

    #[test]
    fn malformed_responses_are_errors_not_panics() {
        for bad in [
            "",
            "{",
            "null",
            "[]",
            r#"{"type":1}"#,
            r#"{"name":"a","id":"b","version":"1.0.0","type":"t","started":"x","endpoints":[{"num_requests":-1}]}"#,
        ] {
            assert!(serde_json::from_str::<StatsResponse>(bad).is_err(), "{bad}");
            assert!(serde_json::from_str::<InfoResponse>(bad).is_err(), "{bad}");
        }
        let ping: PingResponse =
            serde_json::from_value(json!({"type": "t", "name": "a", "id": "b", "version": "1.0.0"})).unwrap();
        assert!(ping.metadata.is_empty());
    }

    #[test]
    fn error_headers() {
        let mut headers = HeaderMap::new();
        set_error_headers(&mut headers, 400, "bad\r\ninput ");
        set_error_headers(&mut headers, 500, " line\nbreak ");
        assert_eq!(headers.get(ERROR_CODE_HEADER).unwrap().as_str(), "500");
        assert_eq!(headers.get(ERROR_HEADER).unwrap().as_str(), "line break");
        assert_eq!(headers.len(), 2);

        let plain = Message::new(Subject::new("_INBOX.x").unwrap(), nats_client::Sid(1), Bytes::new());
        let message = plain.clone().with_headers(headers);
        let error = ErrorReply::from_message(&message).unwrap();
        assert_eq!(error.code_number(), Some(500));
        assert_eq!(error.to_string(), "500:line break");
        assert_eq!(ErrorReply::from_message(&plain), None);
    }
}
