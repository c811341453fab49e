//! Attribute values: DynamoDB's typed JSON (`{"S": "x"}`, `{"N": "1"}`, …)
//! parsed into [`AttrValue`], validated (non-empty duplicate-free sets,
//! `NULL` true, numbers in range), rendered back, sized as DynamoDB sizes
//! items, and compared.

use std::collections::BTreeMap;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use serde_json::{Map, Value};

use crate::error::TablesError;
use crate::number::Number;

/// The largest item DynamoDB stores: 400 KB.
pub const MAX_ITEM_SIZE: usize = 400 * 1024;

/// An item: attribute names to values.
pub type Item = BTreeMap<String, AttrValue>;

/// One attribute value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AttrValue {
    S(String),
    N(Number),
    B(Vec<u8>),
    Bool(bool),
    Null,
    L(Vec<AttrValue>),
    M(BTreeMap<String, AttrValue>),
    Ss(Vec<String>),
    Ns(Vec<Number>),
    Bs(Vec<Vec<u8>>),
}

impl AttrValue {
    /// The type descriptor: `S`, `N`, `B`, `BOOL`, `NULL`, `L`, `M`, `SS`, `NS`, `BS`.
    pub fn type_name(&self) -> &'static str {
        match self {
            Self::S(_) => "S",
            Self::N(_) => "N",
            Self::B(_) => "B",
            Self::Bool(_) => "BOOL",
            Self::Null => "NULL",
            Self::L(_) => "L",
            Self::M(_) => "M",
            Self::Ss(_) => "SS",
            Self::Ns(_) => "NS",
            Self::Bs(_) => "BS",
        }
    }

    /// Parses and validates one wire value.
    pub fn from_json(json: &Value) -> Result<Self, TablesError> {
        let object = json.as_object().ok_or_else(|| {
            TablesError::Serialization("Start of structure or map found where not expected".into())
        })?;
        let mut present = object.iter().filter(|(_, v)| !v.is_null());
        let (kind, inner) = match (present.next(), present.next()) {
            (None, _) => {
                return Err(TablesError::validation(
                    "Supplied AttributeValue is empty, must contain exactly one of the supported datatypes",
                ))
            }
            (Some(_), Some(_)) => {
                return Err(TablesError::validation(
                    "Supplied AttributeValue has more than one datatypes set, must contain exactly one of the supported datatypes",
                ))
            }
            (Some(one), None) => one,
        };
        let string = |v: &Value| {
            v.as_str().map(str::to_owned).ok_or_else(|| {
                TablesError::Serialization(format!("Unexpected value type in payload for {kind}"))
            })
        };
        let list = |v: &Value| {
            v.as_array().cloned().ok_or_else(|| {
                TablesError::Serialization(format!("Unexpected value type in payload for {kind}"))
            })
        };
        Ok(match kind.as_str() {
            "S" => Self::S(string(inner)?),
            "N" => Self::N(Number::parse(&string(inner)?)?),
            "B" => Self::B(decode_binary(&string(inner)?)?),
            "BOOL" => Self::Bool(inner.as_bool().ok_or_else(|| {
                TablesError::Serialization("Unexpected value type in payload for BOOL".into())
            })?),
            "NULL" => match inner.as_bool() {
                Some(true) => Self::Null,
                _ => {
                    return Err(TablesError::validation(
                        "Null attribute value types must have the value of true",
                    ))
                }
            },
            "L" => Self::L(
                list(inner)?
                    .iter()
                    .map(Self::from_json)
                    .collect::<Result<_, _>>()?,
            ),
            "M" => {
                let map = inner.as_object().ok_or_else(|| {
                    TablesError::Serialization("Unexpected value type in payload for M".into())
                })?;
                Self::M(map_from_json(map)?)
            }
            "SS" => {
                let items = list(inner)?
                    .iter()
                    .map(string)
                    .collect::<Result<Vec<_>, _>>()?;
                if items.is_empty() {
                    return Err(TablesError::validation(
                        "One or more parameter values were invalid: An string set  may not be empty",
                    ));
                }
                check_duplicates(&items, |a, b| a == b, |s| s.clone())?;
                Self::Ss(items)
            }
            "NS" => {
                let texts = list(inner)?
                    .iter()
                    .map(string)
                    .collect::<Result<Vec<_>, _>>()?;
                if texts.is_empty() {
                    return Err(TablesError::validation(
                        "One or more parameter values were invalid: An number set  may not be empty",
                    ));
                }
                let items = texts
                    .iter()
                    .map(|t| Number::parse(t))
                    .collect::<Result<Vec<_>, _>>()?;
                check_duplicates(&items, |a, b| a == b, |n| n.to_string())?;
                Self::Ns(items)
            }
            "BS" => {
                let texts = list(inner)?
                    .iter()
                    .map(string)
                    .collect::<Result<Vec<_>, _>>()?;
                if texts.is_empty() {
                    return Err(TablesError::validation(
                        "One or more parameter values were invalid: Binary sets should not be empty",
                    ));
                }
                let items = texts
                    .iter()
                    .map(|t| decode_binary(t))
                    .collect::<Result<Vec<_>, _>>()?;
                check_duplicates(&items, |a, b| a == b, |b| BASE64.encode(b))?;
                Self::Bs(items)
            }
            other => {
                return Err(TablesError::Serialization(format!(
                    "Unknown AttributeValue type: {other}"
                )))
            }
        })
    }

    /// The wire form.
    pub fn to_json(&self) -> Value {
        let mut out = Map::with_capacity(1);
        let (key, value) = match self {
            Self::S(s) => ("S", Value::String(s.clone())),
            Self::N(n) => ("N", Value::String(n.to_string())),
            Self::B(b) => ("B", Value::String(BASE64.encode(b))),
            Self::Bool(b) => ("BOOL", Value::Bool(*b)),
            Self::Null => ("NULL", Value::Bool(true)),
            Self::L(l) => ("L", Value::Array(l.iter().map(Self::to_json).collect())),
            Self::M(m) => ("M", map_to_json(m)),
            Self::Ss(s) => ("SS", s.iter().map(|v| Value::String(v.clone())).collect()),
            Self::Ns(n) => (
                "NS",
                n.iter().map(|v| Value::String(v.to_string())).collect(),
            ),
            Self::Bs(b) => (
                "BS",
                b.iter().map(|v| Value::String(BASE64.encode(v))).collect(),
            ),
        };
        out.insert(key.to_string(), value);
        Value::Object(out)
    }

    /// The value's size as DynamoDB counts it (without the attribute name).
    pub fn size(&self) -> usize {
        match self {
            Self::S(s) => s.len(),
            Self::N(n) => number_size(n),
            Self::B(b) => b.len(),
            Self::Bool(_) | Self::Null => 1,
            Self::L(l) => 3 + l.iter().map(|v| v.size() + 1).sum::<usize>(),
            Self::M(m) => 3 + m.iter().map(|(k, v)| k.len() + v.size() + 1).sum::<usize>(),
            Self::Ss(s) => s.iter().map(String::len).sum(),
            Self::Ns(n) => n.iter().map(number_size).sum(),
            Self::Bs(b) => b.iter().map(Vec::len).sum(),
        }
    }

    /// Compares two values of the same scalar type (S, N, B) in DynamoDB's
    /// order; `None` when the types differ or are not ordered.
    pub fn compare(&self, other: &Self) -> Option<std::cmp::Ordering> {
        match (self, other) {
            (Self::S(a), Self::S(b)) => Some(a.as_bytes().cmp(b.as_bytes())),
            (Self::N(a), Self::N(b)) => Some(a.cmp(b)),
            (Self::B(a), Self::B(b)) => Some(a.cmp(b)),
            _ => None,
        }
    }

    /// Equality as DynamoDB's `=` sees it: sets compare as sets.
    pub fn equals(&self, other: &Self) -> bool {
        fn same_set<T: PartialEq>(a: &[T], b: &[T]) -> bool {
            a.len() == b.len() && a.iter().all(|x| b.contains(x))
        }
        match (self, other) {
            (Self::Ss(a), Self::Ss(b)) => same_set(a, b),
            (Self::Ns(a), Self::Ns(b)) => same_set(a, b),
            (Self::Bs(a), Self::Bs(b)) => same_set(a, b),
            (Self::L(a), Self::L(b)) => {
                a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.equals(y))
            }
            (Self::M(a), Self::M(b)) => {
                a.len() == b.len() && a.iter().all(|(k, v)| b.get(k).is_some_and(|w| v.equals(w)))
            }
            _ => self == other,
        }
    }
}

/// A number's size: one byte per two significant digits, plus one.
fn number_size(n: &Number) -> usize {
    n.significant_digits().div_ceil(2) + 1
}

fn decode_binary(text: &str) -> Result<Vec<u8>, TablesError> {
    BASE64.decode(text.as_bytes()).map_err(|e| {
        TablesError::Serialization(format!("Base64 encoded binary value is invalid: {e}"))
    })
}

fn check_duplicates<T>(
    items: &[T],
    eq: impl Fn(&T, &T) -> bool,
    show: impl Fn(&T) -> String,
) -> Result<(), TablesError> {
    for (i, a) in items.iter().enumerate() {
        if items[..i].iter().any(|b| eq(a, b)) {
            let shown: Vec<String> = items.iter().map(show).collect();
            return Err(TablesError::validation(format!(
                "One or more parameter values were invalid: Input collection [{}] contains duplicates.",
                shown.join(", ")
            )));
        }
    }
    Ok(())
}

/// Parses a map of attribute values (an item, a key, a `M` value).
pub fn map_from_json(map: &Map<String, Value>) -> Result<BTreeMap<String, AttrValue>, TablesError> {
    map.iter()
        .map(|(k, v)| Ok((k.clone(), AttrValue::from_json(v)?)))
        .collect()
}

/// Parses an optional item-shaped field of the input (`Item`, `Key`, …).
pub fn item_field(input: &Value, field: &str) -> Result<Option<Item>, TablesError> {
    match input.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(map)) => map_from_json(map).map(Some),
        Some(_) => Err(TablesError::Serialization(format!(
            "Unexpected value type in payload for {field}"
        ))),
    }
}

/// Renders a map of attribute values.
pub fn map_to_json(map: &BTreeMap<String, AttrValue>) -> Value {
    Value::Object(map.iter().map(|(k, v)| (k.clone(), v.to_json())).collect())
}

/// An item's size: every attribute's name and value.
pub fn item_size(item: &Item) -> usize {
    item.iter().map(|(k, v)| k.len() + v.size()).sum()
}

/// Refuses items over 400 KB.
pub fn check_item_size(item: &Item) -> Result<usize, TablesError> {
    let size = item_size(item);
    if size > MAX_ITEM_SIZE {
        return Err(TablesError::validation(
            "Item size has exceeded the maximum allowed size",
        ));
    }
    Ok(size)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn round_trip_of_every_type() {
        let wire = json!({"M": {
            "s": {"S": "hé"}, "n": {"N": "1.50"}, "b": {"B": "AAEC"}, "t": {"BOOL": true},
            "z": {"NULL": true}, "l": {"L": [{"S": "a"}, {"N": "2"}]},
            "ss": {"SS": ["a", "b"]}, "ns": {"NS": ["1", "2"]}, "bs": {"BS": ["AA=="]}
        }});
        let value = AttrValue::from_json(&wire).unwrap();
        let mut expected = wire.clone();
        expected["M"]["n"] = json!({"N": "1.5"});
        assert_eq!(value.to_json(), expected);
    }

    #[test]
    fn invalid_values_are_refused_with_dynamodb_messages() {
        let cases = [
            (json!({}), "Supplied AttributeValue is empty"),
            (json!({"S": "a", "N": "1"}), "more than one datatypes"),
            (
                json!({"NULL": false}),
                "Null attribute value types must have the value of true",
            ),
            (json!({"SS": []}), "An string set  may not be empty"),
            (
                json!({"SS": ["a", "a"]}),
                "Input collection [a, a] contains duplicates.",
            ),
            (
                json!({"NS": ["1", "1.0"]}),
                "Input collection [1, 1] contains duplicates.",
            ),
            (
                json!({"N": "x"}),
                "cannot be converted to a numeric value: x",
            ),
        ];
        for (wire, message) in cases {
            let err = AttrValue::from_json(&wire).unwrap_err().to_string();
            assert!(err.contains(message), "{wire}: {err}");
        }
    }

    #[test]
    fn sizes_follow_dynamodb() {
        let item: Item = [
            ("name".to_string(), AttrValue::S("abc".into())),
            (
                "n".to_string(),
                AttrValue::N(Number::parse("12345").unwrap()),
            ),
            ("l".to_string(), AttrValue::L(vec![AttrValue::Bool(true)])),
        ]
        .into_iter()
        .collect();
        // 4+3, 1+(3+1), 1+(3+1+1)
        assert_eq!(item_size(&item), 7 + 5 + 6);
        let big: Item = [("a".to_string(), AttrValue::S("x".repeat(MAX_ITEM_SIZE)))].into();
        assert!(check_item_size(&big).is_err());
    }
}
