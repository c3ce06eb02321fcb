//! Serde for [`HeaderMap`]: a map from each name to the list of its values, names in the
//! order they first appear (`{"Trace-Id": ["abc"], "Tag": ["a", "b"]}`), as other NATS
//! clients write headers in JSON. The status line is not part of it: it belongs to the
//! message on the wire, not to what an application stores. Deserializing also accepts a
//! single string for a name's value, and checks every name and value.

use crate::prelude::*;

use core::fmt;

use serde::de::{self, MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::headers::{HeaderMap, HeaderName, HeaderValue};

impl Serialize for HeaderMap {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut names: Vec<&HeaderName> = Vec::new();
        for (name, _) in self.iter() {
            if !names.contains(&name) {
                names.push(name);
            }
        }
        let mut map = serializer.serialize_map(Some(names.len()))?;
        for name in names {
            let values: Vec<&str> = self.get_all(name.as_str()).map(HeaderValue::as_str).collect();
            map.serialize_entry(name.as_str(), &values)?;
        }
        map.end()
    }
}

/// One name's values in JSON: a list, or a single string.
#[derive(Deserialize)]
#[serde(untagged)]
enum Values {
    One(String),
    Many(Vec<String>),
}

impl<'de> Deserialize<'de> for HeaderMap {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct MapVisitor;
        impl<'de> Visitor<'de> for MapVisitor {
            type Value = HeaderMap;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map from header names to values or lists of values")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<HeaderMap, A::Error> {
                let mut map = HeaderMap::new();
                while let Some((name, values)) = access.next_entry::<String, Values>()? {
                    let values = match values {
                        Values::One(value) => vec![value],
                        Values::Many(values) => values,
                    };
                    for value in values {
                        map.try_append(&name, &value).map_err(de::Error::custom)?;
                    }
                }
                Ok(map)
            }
        }
        deserializer.deserialize_map(MapVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_map_to_their_values_in_first_appearance_order() {
        let headers: HeaderMap = [("Trace-Id", "abc"), ("Tag", "a"), ("Tag", "b")].into_iter().collect();
        let json = serde_json::to_string(&headers).unwrap();
        assert_eq!(json, r#"{"Trace-Id":["abc"],"Tag":["a","b"]}"#);
        assert_eq!(serde_json::from_str::<HeaderMap>(&json).unwrap(), headers);
    }

    #[test]
    fn a_single_string_is_one_value_and_invalid_input_is_an_error() {
        let headers: HeaderMap = serde_json::from_str(r#"{"A":"1","B":["2","3"]}"#).unwrap();
        assert_eq!(headers.get("A").unwrap(), "1");
        assert_eq!(headers.get_all("B").count(), 2);
        assert!(serde_json::from_str::<HeaderMap>(r#"{"Bad:Name":"1"}"#).is_err());
        assert!(serde_json::from_str::<HeaderMap>(r#"{"A":"two\r\nlines"}"#).is_err());
    }
}
