//! A message in memory, its stored form, and what SQS checks and hashes
//! about it.
//!
//! The stored `attributes` column holds a JSON document:
//!
//! ```text
//! {"attributes": {NAME: {"data_type", "string_value"?, "binary_value"? (base64)}},
//!  "internal": <producer metadata>, "group_id": .., "deduplication_id": ..}
//! ```
//!
//! every member optional, so a message without attributes stores `{}`.

use std::collections::BTreeMap;
use std::sync::Arc;

use base64::engine::general_purpose::STANDARD;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use bytes::Bytes;
use md5::{Digest as _, Md5};
use serde::{Deserialize, Serialize};
use updraft_store::StoredMessage;

use crate::{AttributeValue, QueueError};

/// At most this many message attributes (SQS's limit).
pub const MAX_MESSAGE_ATTRIBUTES: usize = 10;

/// One message as the queue holds it.
#[derive(Debug, Clone)]
pub(crate) struct Msg {
    pub id: Arc<str>,
    pub seq: i64,
    pub body: Bytes,
    pub md5_of_body: String,
    pub attributes: BTreeMap<String, AttributeValue>,
    pub md5_of_attributes: Option<String>,
    pub internal: Option<serde_json::Value>,
    pub group_id: Option<String>,
    pub deduplication_id: Option<String>,
    pub sent_ms: i64,
    pub visible_ms: i64,
    pub receive_count: u32,
    pub first_receive_ms: Option<i64>,
}

/// The stored `attributes` document, as read.
#[derive(Debug, Default, Deserialize)]
struct StoredExtra {
    #[serde(default)]
    attributes: BTreeMap<String, StoredAttribute>,
    #[serde(default)]
    internal: Option<serde_json::Value>,
    #[serde(default)]
    group_id: Option<String>,
    #[serde(default)]
    deduplication_id: Option<String>,
}

/// The stored `attributes` document, as written (borrowing the message).
#[derive(Serialize)]
struct StoredExtraRef<'a> {
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    attributes: BTreeMap<&'a str, StoredAttribute>,
    #[serde(skip_serializing_if = "Option::is_none")]
    internal: Option<&'a serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    group_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    deduplication_id: Option<&'a str>,
}

#[derive(Debug, Serialize, Deserialize)]
struct StoredAttribute {
    data_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    string_value: Option<String>,
    /// Base64.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    binary_value: Option<String>,
}

impl Msg {
    /// The stored form, in queue `queue`.
    pub fn to_stored(&self, queue: &str) -> StoredMessage {
        let extra = StoredExtraRef {
            attributes: self
                .attributes
                .iter()
                .map(|(name, v)| {
                    let stored = StoredAttribute {
                        data_type: v.data_type.clone(),
                        string_value: v.string_value.clone(),
                        binary_value: v.binary_value.as_ref().map(|b| STANDARD.encode(b)),
                    };
                    (name.as_str(), stored)
                })
                .collect(),
            internal: self.internal.as_ref(),
            group_id: self.group_id.as_deref(),
            deduplication_id: self.deduplication_id.as_deref(),
        };
        StoredMessage {
            queue: queue.to_owned(),
            id: self.id.to_string(),
            seq: self.seq,
            body: self.body.to_vec(),
            attributes: serde_json::to_string(&extra).expect("plain struct serializes"),
            sent_ms: self.sent_ms,
            visible_ms: self.visible_ms,
            receive_count: self.receive_count,
            first_receive_ms: self.first_receive_ms,
        }
    }

    /// A message loaded from the store.
    pub fn from_stored(m: StoredMessage) -> Result<Msg, String> {
        let extra: StoredExtra = serde_json::from_str(&m.attributes)
            .map_err(|e| format!("message {} in {}: attributes: {e}", m.id, m.queue))?;
        let mut attributes = BTreeMap::new();
        for (name, a) in extra.attributes {
            let binary_value = match a.binary_value {
                Some(b) => Some(Bytes::from(STANDARD.decode(b).map_err(|e| {
                    format!("message {} in {}: attribute {name}: {e}", m.id, m.queue)
                })?)),
                None => None,
            };
            let value = AttributeValue {
                data_type: a.data_type,
                string_value: a.string_value,
                binary_value,
            };
            attributes.insert(name, value);
        }
        let body = Bytes::from(m.body);
        Ok(Msg {
            id: m.id.into(),
            seq: m.seq,
            md5_of_body: md5_hex(&body),
            body,
            md5_of_attributes: md5_of_attributes(&attributes),
            attributes,
            internal: extra.internal,
            group_id: extra.group_id,
            deduplication_id: extra.deduplication_id,
            sent_ms: m.sent_ms,
            visible_ms: m.visible_ms,
            receive_count: m.receive_count,
            first_receive_ms: m.first_receive_ms,
        })
    }
}

/// Lowercase hex MD5 of `bytes` (SQS's `MD5OfMessageBody`).
pub fn md5_hex(bytes: &[u8]) -> String {
    hex::encode(Md5::digest(bytes))
}

/// SQS's `MD5OfMessageAttributes`: over the attributes sorted by name,
/// each as its length-prefixed (4 bytes, big-endian) name and data type,
/// a transport byte (1 string, 2 binary) and the length-prefixed value.
/// `None` without attributes.
pub fn md5_of_attributes(attributes: &BTreeMap<String, AttributeValue>) -> Option<String> {
    if attributes.is_empty() {
        return None;
    }
    fn field(md5: &mut Md5, bytes: &[u8]) {
        md5.update((bytes.len() as u32).to_be_bytes());
        md5.update(bytes);
    }
    let mut md5 = Md5::new();
    for (name, value) in attributes {
        field(&mut md5, name.as_bytes());
        field(&mut md5, value.data_type.as_bytes());
        match &value.binary_value {
            Some(b) if value.data_type.starts_with("Binary") => {
                md5.update([2]);
                field(&mut md5, b);
            }
            _ => {
                md5.update([1]);
                let s = value.string_value.as_deref().unwrap_or_default();
                field(&mut md5, s.as_bytes());
            }
        }
    }
    Some(hex::encode(md5.finalize()))
}

/// Checks a body against SQS's allowed characters: `#x9 | #xA | #xD |
/// #x20-#xD7FF | #xE000-#xFFFD | #x10000-#x10FFFF`, in UTF-8.
pub fn validate_body(body: &[u8]) -> Result<(), QueueError> {
    let invalid = || {
        QueueError::InvalidMessageContents(
            "Invalid binary character in message body: only #x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF are allowed"
                .into(),
        )
    };
    let text = std::str::from_utf8(body).map_err(|_| invalid())?;
    let allowed = |c: char| matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..='\u{10FFFF}');
    if text.chars().all(allowed) {
        Ok(())
    } else {
        Err(invalid())
    }
}

/// Checks message attributes as SQS does: at most ten, valid names, a
/// known data type and the value that type needs.
pub fn validate_attributes(
    attributes: &BTreeMap<String, AttributeValue>,
) -> Result<(), QueueError> {
    if attributes.len() > MAX_MESSAGE_ATTRIBUTES {
        return Err(QueueError::InvalidParameterValue(format!(
            "Number of message attributes [{}] exceeds the allowed maximum [{MAX_MESSAGE_ATTRIBUTES}].",
            attributes.len()
        )));
    }
    for (name, value) in attributes {
        validate_attribute_name(name)?;
        let base = value.data_type.split('.').next().unwrap_or_default();
        let custom = &value.data_type[base.len()..];
        if !matches!(base, "String" | "Number" | "Binary")
            || custom == "."
            || value.data_type.len() > 256
        {
            return Err(QueueError::InvalidParameterValue(format!(
                "The type of message (user) attribute '{name}' is invalid. You must use only the following supported type prefixes: Binary, Number, String."
            )));
        }
        let empty = || {
            QueueError::InvalidParameterValue(format!(
                "Message (user) attribute '{name}' must contain a non-empty value of type '{base}'."
            ))
        };
        match base {
            "Binary" => {
                if value.binary_value.as_ref().is_none_or(|b| b.is_empty()) {
                    return Err(empty());
                }
            }
            _ => {
                let s = value.string_value.as_deref().unwrap_or_default();
                if s.is_empty() {
                    return Err(empty());
                }
                if base == "Number" && !is_sqs_number(s) {
                    return Err(QueueError::InvalidParameterValue(format!(
                        "Can't cast the value of message (user) attribute '{name}' to a number."
                    )));
                }
                validate_body(s.as_bytes()).map_err(|_| {
                    QueueError::InvalidParameterValue(format!(
                        "Message (user) attribute '{name}' value contains invalid characters."
                    ))
                })?;
            }
        }
    }
    Ok(())
}

/// Attribute names: up to 256 of `A-Za-z0-9_-.`, no leading, trailing or
/// doubled period, not starting with `AWS.` or `Amazon.`.
fn validate_attribute_name(name: &str) -> Result<(), QueueError> {
    let bad = |why: &str| {
        Err(QueueError::InvalidParameterValue(format!(
            "Message (user) attribute name '{name}' is invalid. {why}"
        )))
    };
    if name.is_empty() || name.len() > 256 {
        return bad("The attribute name must be 1 to 256 characters long.");
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
    {
        return bad("The attribute name can contain only alphanumeric characters, hyphens (-), underscores (_), and periods (.).");
    }
    if name.starts_with('.') || name.ends_with('.') || name.contains("..") {
        return bad(
            "The attribute name cannot start or end with a period or contain consecutive periods.",
        );
    }
    let lower = name.to_ascii_lowercase();
    if lower.starts_with("aws.") || lower.starts_with("amazon.") {
        return bad("The attribute name is reserved for use by Amazon.");
    }
    Ok(())
}

/// SQS numbers: up to 38 significant digits, exponent within ±128.
fn is_sqs_number(s: &str) -> bool {
    let digits = s.bytes().filter(u8::is_ascii_digit).count();
    digits > 0 && digits <= 38 && s.parse::<f64>().is_ok_and(f64::is_finite)
}

/// What counts towards `MaximumMessageSize`: the body and, for each
/// attribute, its name, data type and value.
pub fn message_size(body: &[u8], attributes: &BTreeMap<String, AttributeValue>) -> usize {
    body.len()
        + attributes
            .iter()
            .map(|(name, v)| {
                name.len()
                    + v.data_type.len()
                    + v.string_value.as_ref().map_or(0, String::len)
                    + v.binary_value.as_ref().map_or(0, Bytes::len)
            })
            .sum::<usize>()
}

/// A receipt handle names one delivery: the message's `seq` and id, and
/// its receive count (a later delivery makes an earlier handle stale).
pub fn receipt_handle(seq: i64, receive_count: u32, id: &str) -> String {
    let raw = format!("{seq}.{receive_count}.{id}");
    let mut out = String::with_capacity(raw.len() * 4 / 3 + 4);
    URL_SAFE_NO_PAD.encode_string(raw, &mut out);
    out
}

/// One decoded receipt handle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Handle {
    pub seq: i64,
    pub receive_count: u32,
    pub id: String,
}

/// Decodes a receipt handle; `None` when it is not one.
pub(crate) fn parse_handle(handle: &str) -> Option<Handle> {
    let raw = String::from_utf8(URL_SAFE_NO_PAD.decode(handle).ok()?).ok()?;
    let mut parts = raw.splitn(3, '.');
    let seq = parts.next()?.parse().ok()?;
    let receive_count = parts.next()?.parse().ok()?;
    let id = parts.next()?.to_owned();
    Some(Handle {
        seq,
        receive_count,
        id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn string(data_type: &str, value: &str) -> AttributeValue {
        AttributeValue {
            data_type: data_type.into(),
            string_value: Some(value.into()),
            binary_value: None,
        }
    }

    #[test]
    fn md5_of_attributes_matches_sqs() {
        // Checksums SQS clients verify (aws-sdk-go-v2, the Java SDK).
        let one = BTreeMap::from([("SellerName".to_owned(), string("String", "Example Store"))]);
        assert_eq!(
            md5_of_attributes(&one).as_deref(),
            Some("cd28f3b68aeee4b2eac9c66f2f694b58")
        );
        let two = BTreeMap::from([
            ("ordinal".to_owned(), string("Number", "1")),
            ("category".to_owned(), string("String", "test")),
        ]);
        assert_eq!(
            md5_of_attributes(&two).as_deref(),
            Some("d21ae90c49061e927f57df5f5d72be1f")
        );
        assert_eq!(md5_of_attributes(&BTreeMap::new()), None);
    }

    #[test]
    fn body_characters() {
        assert!(validate_body("tab\there\nnew\r line é 😀".as_bytes()).is_ok());
        for bad in ["nul\u{0}", "bell\u{7}", "\u{FFFE}"] {
            assert!(matches!(
                validate_body(bad.as_bytes()),
                Err(QueueError::InvalidMessageContents(_))
            ));
        }
        assert!(validate_body(&[0xff, 0xfe]).is_err());
    }

    #[test]
    fn attribute_checks() {
        let ok = BTreeMap::from([
            ("a.b-c_d".to_owned(), string("Number.int", "-1.5e3")),
            ("s".to_owned(), string("String", "x")),
        ]);
        assert!(validate_attributes(&ok).is_ok());
        for (name, value) in [
            ("AWS.x", string("String", "x")),
            ("a..b", string("String", "x")),
            (".a", string("String", "x")),
            ("sp ace", string("String", "x")),
            ("n", string("Number", "abc")),
            ("t", string("Text", "x")),
            ("e", string("String", "")),
        ] {
            let one = BTreeMap::from([(name.to_owned(), value)]);
            assert!(
                matches!(
                    validate_attributes(&one),
                    Err(QueueError::InvalidParameterValue(_))
                ),
                "{name} passed"
            );
        }
        let eleven: BTreeMap<String, AttributeValue> = (0..11)
            .map(|i| (format!("a{i}"), string("String", "x")))
            .collect();
        assert!(validate_attributes(&eleven).is_err());
    }

    #[test]
    fn receipt_handles_round_trip() {
        let h = receipt_handle(42, 3, "id.with.dots");
        assert_eq!(
            parse_handle(&h),
            Some(Handle {
                seq: 42,
                receive_count: 3,
                id: "id.with.dots".into()
            })
        );
        assert_eq!(parse_handle("garbage!"), None);
    }
}
