//! Helpers for the JetStream API's JSON: Go durations as nanoseconds, the "leave the
//! server's default out" predicates, `null` lists, and `wire_enum!` for the string enums a
//! newer server may extend.

use std::time::Duration;

use serde::{Deserialize, Deserializer};

/// Durations as integer nanoseconds, the JetStream wire form: a Go `time.Duration`, an
/// `i64`.
pub(crate) mod nanos {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    /// `d` as a Go `time.Duration`: nanoseconds, saturating at `i64::MAX` (about 292
    /// years), the longest duration the server can read. A longer one (up to
    /// `Duration::MAX`) neither wraps nor fails the request: it means "as long as can be".
    pub(crate) fn to_go(d: Duration) -> i64 {
        i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)
    }

    /// A Go duration read back: negative values (the server writes `-1` for "unset" or
    /// "never" in a few places) read as zero.
    pub(crate) fn from_go(n: i64) -> Duration {
        Duration::from_nanos(u64::try_from(n).unwrap_or(0))
    }

    pub(crate) fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_i64(to_go(*d))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        Ok(from_go(i64::deserialize(d)?))
    }

    /// A Go duration where a negative value means "never" or "unknown" (the server writes
    /// `-1` for a source or peer never active): `None`.
    pub(crate) fn deserialize_negative_as_none<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Duration>, D::Error> {
        Ok(Option::<i64>::deserialize(d)?.and_then(|n| u64::try_from(n).ok()).map(Duration::from_nanos))
    }

    /// A list of Go durations (a consumer's back-off).
    pub(crate) mod list {
        use std::time::Duration;

        use serde::ser::SerializeSeq;
        use serde::{Deserialize, Deserializer, Serializer};

        pub(crate) fn serialize<S: Serializer>(list: &[Duration], s: S) -> Result<S::Ok, S::Error> {
            let mut seq = s.serialize_seq(Some(list.len()))?;
            for d in list {
                seq.serialize_element(&super::to_go(*d))?;
            }
            seq.end()
        }

        pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Duration>, D::Error> {
            let list = Option::<Vec<i64>>::deserialize(d)?.unwrap_or_default();
            Ok(list.into_iter().map(super::from_go).collect())
        }
    }
}

pub(crate) fn is_zero_duration(d: &Duration) -> bool {
    d.is_zero()
}

pub(crate) fn is_zero_i64(n: &i64) -> bool {
    *n == 0
}

pub(crate) fn is_zero_u64(n: &u64) -> bool {
    *n == 0
}

pub(crate) fn is_false(b: &bool) -> bool {
    !*b
}

pub(crate) fn is_default<T: Default + PartialEq>(value: &T) -> bool {
    *value == T::default()
}

/// A list the server may send as `null`.
pub(crate) fn null_as_empty<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Vec<T>, D::Error> {
    Ok(Option::<Vec<T>>::deserialize(d)?.unwrap_or_default())
}

/// A value the server may send as `null`, read as its default.
pub(crate) fn null_as_default<'de, D: Deserializer<'de>, T: Deserialize<'de> + Default>(
    d: D,
) -> Result<T, D::Error> {
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// Defines a string enum of the JetStream API that a newer server may extend: the known
/// values as variants, and `Other(String)` keeping any other value as the server wrote it,
/// so a configuration read and sent back in an update keeps it instead of failing to parse
/// or falling back to a default.
macro_rules! wire_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident = $text:literal, )+
        }
        default = $default:ident;
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )+
            /// A value this version does not know, as the server wrote it: kept, and sent
            /// back unchanged.
            Other(String),
        }

        impl Default for $name {
            fn default() -> Self {
                Self::$default
            }
        }

        impl $name {
            /// The value as the JetStream API writes it.
            pub fn as_str(&self) -> &str {
                match self {
                    $( Self::$variant => $text, )+
                    Self::Other(text) => text,
                }
            }

            /// The value for its wire text (an unknown text becomes `Other`).
            pub fn from_wire(text: &str) -> Self {
                match text {
                    $( $text => Self::$variant, )+
                    other => Self::Other(other.to_owned()),
                }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = <String as ::serde::Deserialize>::deserialize(d)?;
                Ok(Self::from_wire(&text))
            }
        }
    };
}

pub(crate) use wire_enum;

/// `value` without the entries a reader takes as defaults (`null`, `false`, `0`, `""`, `[]`,
/// `{}`), recursively: two configurations that mean the same to the server compare equal.
#[cfg(test)]
pub(crate) fn without_defaults(value: &serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    let is_default = |v: &Value| match v {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
    };
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), without_defaults(v)))
                .filter(|(_, v)| !is_default(v))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(without_defaults).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_go_to_the_server_as_go_nanoseconds_saturating_at_i64_max() {
        let max = i64::MAX;
        assert_eq!(nanos::to_go(Duration::from_millis(1500)), 1_500_000_000);
        assert_eq!(nanos::to_go(Duration::from_nanos(max as u64)), max);
        assert_eq!(nanos::to_go(Duration::from_nanos(max as u64 + 1)), max, "not wrapped negative");
        assert_eq!(nanos::to_go(Duration::from_nanos(u64::MAX)), max);
        assert_eq!(nanos::to_go(Duration::MAX), max);
        assert_eq!(nanos::from_go(-1), Duration::ZERO);
    }
}
