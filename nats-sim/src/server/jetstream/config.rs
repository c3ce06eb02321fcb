//! Stream and consumer configurations: the server's defaults filled in, the checks on
//! them, and the names and subject filters they hold.

use std::time::Duration;

use serde_json::{json, Map, Value};

use super::api::ApiError;
use super::wire::{nanos, nanos_of};
use crate::executor::Sim;
use crate::server::subject;

/// The server's defaults (`jetstream_api.go`, `stream.go`, `consumer.go`).
const DEFAULT_DUPLICATE_WINDOW: Duration = Duration::from_secs(120);
pub(super) const DEFAULT_ACK_WAIT: Duration = Duration::from_secs(30);
pub(super) const DEFAULT_MAX_WAITING: i64 = 512;
pub(super) const DEFAULT_MAX_ACK_PENDING: i64 = 1000;
const DEFAULT_INACTIVE_THRESHOLD: Duration = Duration::from_secs(5);

/// Sets `key` to the server's default `value` when it is missing or `null` (or `0`, when
/// the server treats zero as unset: `zero_too`).
fn fill(config: &mut Map<String, Value>, key: &str, value: Value, zero_too: bool) {
    let missing = match config.get(key) {
        None | Some(Value::Null) => true,
        Some(v) => zero_too && v.as_i64() == Some(0),
    };
    if missing {
        config.insert(key.into(), value);
    }
}

/// A stream configuration with the server's defaults filled in, checked.
pub(super) fn stream_config(name: &str, body: &Value) -> Result<Map<String, Value>, ApiError> {
    let Some(given) = body.as_object() else {
        return Err(ApiError::new(400, 10025, "invalid JSON: a stream configuration is an object"));
    };
    let mut config = given.clone();
    match config.get("name").and_then(Value::as_str) {
        Some(n) if n == name => {}
        None | Some("") => drop(config.insert("name".into(), Value::from(name))),
        Some(_) => return Err(ApiError::new(400, 10056, "stream name in subject does not match request")),
    }
    if !valid_name(name) {
        return Err(ApiError::invalid_stream_config("invalid stream name"));
    }
    let mut default = |key: &str, value: Value, zero_too: bool| fill(&mut config, key, value, zero_too);
    default("retention", Value::from("limits"), false);
    for key in ["max_consumers", "max_msgs", "max_bytes", "max_msgs_per_subject", "max_msg_size"] {
        default(key, Value::from(-1), true);
    }
    default("max_age", Value::from(0), false);
    default("discard", Value::from("old"), false);
    default("storage", Value::from("file"), false);
    default("num_replicas", Value::from(1), true);
    default("compression", Value::from("none"), false);
    for key in [
        "allow_direct",
        "mirror_direct",
        "sealed",
        "deny_delete",
        "deny_purge",
        "allow_rollup_hdrs",
        "allow_msg_ttl",
    ] {
        default(key, Value::Bool(false), false);
    }
    default("consumer_limits", json!({}), false);
    let max_age = nanos_of(config.get("max_age"));
    let window = match nanos_of(config.get("duplicate_window")) {
        w if w.is_zero() && !max_age.is_zero() && max_age < DEFAULT_DUPLICATE_WINDOW => max_age,
        w if w.is_zero() => DEFAULT_DUPLICATE_WINDOW,
        w => w,
    };
    if !max_age.is_zero() && window > max_age {
        return Err(ApiError::invalid_stream_config("duplicates window can not be larger then max age"));
    }
    config.insert("duplicate_window".into(), Value::from(nanos(window)));
    let has_subjects = config.get("subjects").and_then(Value::as_array).is_some_and(|a| !a.is_empty());
    if !has_subjects && config.get("mirror").is_none_or(Value::is_null) {
        config.insert("subjects".into(), json!([name]));
    }
    if let Some(subjects) = config.get("subjects").and_then(Value::as_array) {
        if !subjects.iter().all(|s| s.as_str().is_some_and(subject::valid_filter)) {
            return Err(ApiError::invalid_stream_config("invalid subject"));
        }
    }
    for key in ["max_msgs", "max_bytes", "max_age", "duplicate_window", "num_replicas"] {
        if config.get(key).is_some_and(|v| !v.is_i64()) {
            return Err(ApiError::new(400, 10025, format!("invalid JSON: {key} is not a number")));
        }
    }
    Ok(config)
}

/// A consumer configuration with the server's defaults filled in, checked.
pub(super) fn consumer_config(
    name: &str,
    durable: bool,
    given: &Map<String, Value>,
) -> Result<Map<String, Value>, ApiError> {
    let mut config = given.clone();
    config.insert("name".into(), Value::from(name));
    let push = config.get("deliver_subject").and_then(Value::as_str).is_some_and(|s| !s.is_empty());
    if !push {
        config.remove("deliver_subject");
        if nanos_of(config.get("idle_heartbeat")) > Duration::ZERO {
            return Err(ApiError::new(400, 10088, "consumer idle heartbeat requires a push based consumer"));
        }
        if config.get("flow_control").and_then(Value::as_bool) == Some(true) {
            return Err(ApiError::new(400, 10089, "consumer flow control requires a push based consumer"));
        }
    }
    let acked = config.get("ack_policy").and_then(Value::as_str).is_some_and(|a| a != "none");
    let mut default = |key: &str, value: Value, zero_too: bool| fill(&mut config, key, value, zero_too);
    default("deliver_policy", Value::from("all"), false);
    default("ack_policy", Value::from("none"), false);
    default("ack_wait", Value::from(nanos(DEFAULT_ACK_WAIT)), true);
    default("max_deliver", Value::from(-1), true);
    default("replay_policy", Value::from("instant"), false);
    if !push {
        default("max_waiting", Value::from(DEFAULT_MAX_WAITING), true);
    }
    default("num_replicas", Value::from(0), false);
    if acked {
        default("max_ack_pending", Value::from(DEFAULT_MAX_ACK_PENDING), true);
    }
    if !durable {
        default("inactive_threshold", Value::from(nanos(DEFAULT_INACTIVE_THRESHOLD)), true);
    }
    let backoff = config.get("backoff").and_then(Value::as_array).map_or(0, Vec::len) as i64;
    let max_deliver = config.get("max_deliver").and_then(Value::as_i64).unwrap_or(-1);
    if backoff > 0 && max_deliver > 0 && max_deliver <= backoff {
        return Err(ApiError::new(400, 10116, "max deliver is required to be > length of backoff values"));
    }
    Ok(config)
}

pub(super) fn filters_of(config: &Map<String, Value>) -> Vec<String> {
    let mut filters: Vec<String> = config
        .get("filter_subjects")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).map(str::to_owned).collect())
        .unwrap_or_default();
    if let Some(f) = config.get("filter_subject").and_then(Value::as_str).filter(|f| !f.is_empty()) {
        filters.push(f.to_owned());
    }
    filters
}

/// An ephemeral consumer's name: eight characters from the run's random generator (the
/// server's are from a NUID hash).
pub(super) fn ephemeral_name(sim: &Sim) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    sim.with_rng(|rng| {
        (0..8)
            .map(|_| char::from(ALPHABET[usize::try_from(rng.below(ALPHABET.len() as u64)).unwrap_or(0)]))
            .collect()
    })
}

fn valid_name(name: &str) -> bool {
    !name.is_empty() && !name.chars().any(|c| matches!(c, '.' | '*' | '>' | '/' | '\\') || c.is_whitespace())
}

/// Whether two subject filters can match a common subject.
pub(super) fn subjects_collide(a: &str, b: &str) -> bool {
    let (a, b): (Vec<&str>, Vec<&str>) = (a.split('.').collect(), b.split('.').collect());
    for i in 0..a.len().max(b.len()) {
        match (a.get(i), b.get(i)) {
            (Some(&">"), _) | (_, Some(&">")) => return true,
            (Some(x), Some(y)) if *x == "*" || *y == "*" || x == y => {}
            _ => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subject_filters_collide() {
        assert!(
            subjects_collide("a.>", "a.b.c")
                && subjects_collide("a.*", "*.b")
                && !subjects_collide("a.b", "a")
        );
    }
}
