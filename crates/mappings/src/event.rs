//! The wire between a poller and the function: Lambda's SQS event and the
//! partial batch response (`ReportBatchItemFailures`).

use std::collections::HashSet;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde_json::{json, Map, Value};
use updraft_queues::Received;

/// Where the records come from, as every record names it.
pub struct Source<'a> {
    /// The queue's ARN (`eventSourceARN`).
    pub arn: &'a str,
    pub region: &'a str,
    /// `attributes.SenderId`: messages are sent with the account's one key.
    pub sender_id: &'a str,
}

/// `{"Records": [...]}` for a batch, in the order received.
pub fn sqs_event(batch: &[Received], source: &Source<'_>) -> Value {
    json!({ "Records": batch.iter().map(|m| record(m, source)).collect::<Vec<_>>() })
}

fn record(m: &Received, source: &Source<'_>) -> Value {
    let mut attributes = Map::new();
    attributes.insert(
        "ApproximateReceiveCount".into(),
        json!(m.receive_count.to_string()),
    );
    attributes.insert("SentTimestamp".into(), json!(m.sent_ms.to_string()));
    attributes.insert("SenderId".into(), json!(source.sender_id));
    attributes.insert(
        "ApproximateFirstReceiveTimestamp".into(),
        json!(m.first_receive_ms.to_string()),
    );
    if let Some(seq) = &m.sequence_number {
        attributes.insert("SequenceNumber".into(), json!(seq));
    }
    if let Some(group) = &m.group_id {
        attributes.insert("MessageGroupId".into(), json!(group));
    }
    if let Some(dedup) = &m.deduplication_id {
        attributes.insert("MessageDeduplicationId".into(), json!(dedup));
    }
    let message_attributes: Map<String, Value> = m
        .attributes
        .iter()
        .map(|(name, value)| {
            let mut v = Map::new();
            if let Some(s) = &value.string_value {
                v.insert("stringValue".into(), json!(s));
            }
            if let Some(b) = &value.binary_value {
                v.insert("binaryValue".into(), json!(STANDARD.encode(b)));
            }
            v.insert("stringListValues".into(), json!([]));
            v.insert("binaryListValues".into(), json!([]));
            v.insert("dataType".into(), json!(value.data_type));
            (name.clone(), Value::Object(v))
        })
        .collect();
    json!({
        "messageId": m.message_id,
        "receiptHandle": m.receipt_handle,
        "body": String::from_utf8_lossy(&m.body),
        "attributes": attributes,
        "messageAttributes": message_attributes,
        "md5OfBody": m.md5_of_body,
        "eventSource": "aws:sqs",
        "eventSourceARN": source.arn,
        "awsRegion": source.region,
    })
}

/// The response did not follow the partial batch response format; the
/// whole batch counts as failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid partial batch response: {0}")]
pub struct InvalidBatchResponse(pub String);

/// The message ids a function reported as failed, under Lambda's rules:
/// an empty or `null` response, one without `batchItemFailures`, or an
/// empty or `null` list is complete success; anything that is not JSON, or
/// an item whose `itemIdentifier` is missing, empty, not a string or not a
/// message of the batch, fails the whole batch.
pub fn failed_items(
    response: &[u8],
    batch_ids: &HashSet<&str>,
) -> Result<HashSet<String>, InvalidBatchResponse> {
    if response.iter().all(u8::is_ascii_whitespace) {
        return Ok(HashSet::new());
    }
    let value: Value = serde_json::from_slice(response)
        .map_err(|e| InvalidBatchResponse(format!("not JSON: {e}")))?;
    let failures = match &value {
        Value::Null => return Ok(HashSet::new()),
        Value::Object(o) => match o.get("batchItemFailures") {
            None | Some(Value::Null) => return Ok(HashSet::new()),
            Some(Value::Array(items)) => items,
            Some(_) => {
                return Err(InvalidBatchResponse(
                    "batchItemFailures is not a list".into(),
                ))
            }
        },
        _ => return Err(InvalidBatchResponse("not a JSON object".into())),
    };
    failures
        .iter()
        .map(|item| match item.get("itemIdentifier") {
            Some(Value::String(id)) if batch_ids.contains(id.as_str()) => Ok(id.clone()),
            Some(Value::String(id)) if id.is_empty() => {
                Err(InvalidBatchResponse("empty itemIdentifier".into()))
            }
            Some(Value::String(id)) => Err(InvalidBatchResponse(format!(
                "itemIdentifier {id} is not a message of the batch"
            ))),
            _ => Err(InvalidBatchResponse(format!(
                "item without a string itemIdentifier: {item}"
            ))),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use bytes::Bytes;
    use updraft_queues::AttributeValue;

    use super::*;

    fn received(id: &str, body: &str) -> Received {
        Received {
            message_id: id.into(),
            receipt_handle: format!("rh-{id}"),
            body: Bytes::from(body.to_string()),
            md5_of_body: "md5".into(),
            attributes: BTreeMap::from([
                (
                    "colour".to_string(),
                    AttributeValue {
                        data_type: "String".into(),
                        string_value: Some("blue".into()),
                        binary_value: None,
                    },
                ),
                (
                    "blob".to_string(),
                    AttributeValue {
                        data_type: "Binary".into(),
                        string_value: None,
                        binary_value: Some(Bytes::from_static(b"\x00\x01")),
                    },
                ),
            ]),
            md5_of_message_attributes: None,
            internal: None,
            sent_ms: 1_700_000_000_000,
            receive_count: 2,
            first_receive_ms: 1_700_000_000_500,
            group_id: None,
            deduplication_id: None,
            sequence_number: None,
        }
    }

    #[test]
    fn records_have_lambdas_sqs_shape() {
        let source = Source {
            arn: "arn:aws:sqs:us-east-1:000000000000:q",
            region: "us-east-1",
            sender_id: "000000000000",
        };
        let event = sqs_event(&[received("m1", "hello")], &source);
        assert_eq!(
            event,
            json!({"Records": [{
                "messageId": "m1",
                "receiptHandle": "rh-m1",
                "body": "hello",
                "attributes": {
                    "ApproximateReceiveCount": "2",
                    "SentTimestamp": "1700000000000",
                    "SenderId": "000000000000",
                    "ApproximateFirstReceiveTimestamp": "1700000000500",
                },
                "messageAttributes": {
                    "blob": {"binaryValue": "AAE=", "stringListValues": [], "binaryListValues": [], "dataType": "Binary"},
                    "colour": {"stringValue": "blue", "stringListValues": [], "binaryListValues": [], "dataType": "String"},
                },
                "md5OfBody": "md5",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:000000000000:q",
                "awsRegion": "us-east-1",
            }]})
        );
    }

    #[test]
    fn empty_and_null_responses_are_complete_success() {
        let ids = HashSet::from(["a", "b"]);
        for ok in [
            "",
            "null",
            "{}",
            r#"{"received":"x"}"#,
            r#"{"batchItemFailures":[]}"#,
            r#"{"batchItemFailures":null}"#,
        ] {
            assert_eq!(
                failed_items(ok.as_bytes(), &ids),
                Ok(HashSet::new()),
                "{ok}"
            );
        }
    }

    #[test]
    fn reported_items_fail_alone() {
        let ids = HashSet::from(["a", "b", "c"]);
        let r = br#"{"batchItemFailures":[{"itemIdentifier":"b"},{"itemIdentifier":"c"}]}"#;
        assert_eq!(
            failed_items(r, &ids),
            Ok(HashSet::from(["b".to_string(), "c".to_string()]))
        );
    }

    #[test]
    fn invalid_responses_fail_the_whole_batch() {
        let ids = HashSet::from(["a"]);
        for bad in [
            "not json",
            "\"ok\"",
            "[1]",
            r#"{"batchItemFailures":"a"}"#,
            r#"{"batchItemFailures":[{"itemIdentifier":""}]}"#,
            r#"{"batchItemFailures":[{"itemIdentifier":null}]}"#,
            r#"{"batchItemFailures":[{"itemId":"a"}]}"#,
            r#"{"batchItemFailures":[{"itemIdentifier":"zzz"}]}"#,
        ] {
            assert!(failed_items(bad.as_bytes(), &ids).is_err(), "{bad}");
        }
    }
}
