//! Where results of async invocations go, and in what shape.
//!
//! A destination is a function (the record becomes its async invocation,
//! trigger `destination`), an SQS queue (the record is a message) or an
//! event bus (the record is the `detail` of an event from `lambda`). The
//! record is Lambda's:
//!
//! ```text
//! {"version":"1.0","timestamp":"…Z",
//!  "requestContext":{"requestId","functionArn","condition","approximateInvokeCount"},
//!  "requestPayload":…,
//!  "responseContext":{"statusCode","executedVersion"[,"functionError"]},
//!  "responsePayload":…}
//! ```

use std::collections::BTreeMap;

use bytes::Bytes;
use serde_json::{json, Value};
use updraft_bus::NewEvent;
use updraft_queues::invocation::AsyncInvocation;
use updraft_queues::{AttributeValue, NewMessage};
use updraft_store::usage::trigger;
use updraft_types::{new_request_id, Arn, FunctionRef, Qualifier};

use crate::AsyncEvents;

/// A parsed destination ARN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// `arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]`
    Function {
        name: String,
        qualifier: Option<String>,
    },
    /// `arn:aws:sqs:REGION:ACCOUNT:NAME`
    Queue(String),
    /// `arn:aws:events:REGION:ACCOUNT:event-bus/NAME`
    Bus(String),
}

impl Destination {
    /// Parses an ARN; the error says why it cannot be a destination.
    pub fn parse(arn: &str) -> Result<Destination, String> {
        let Some(Arn {
            service, resource, ..
        }) = Arn::parse(arn)
        else {
            return Err("it is not an ARN".into());
        };
        match service {
            "lambda" => {
                let r = FunctionRef::parse(arn).map_err(|e| e.0)?;
                Ok(Destination::Function {
                    name: r.name.to_string(),
                    qualifier: r.qualifier.as_ref().map(Qualifier::to_string),
                })
            }
            "sqs" if !resource.is_empty() && !resource.contains(':') => {
                Ok(Destination::Queue(resource.to_string()))
            }
            "events" => match resource.strip_prefix("event-bus/") {
                Some(bus) if !bus.is_empty() => Ok(Destination::Bus(bus.to_string())),
                _ => Err("an event bus ARN ends in event-bus/NAME".into()),
            },
            "sqs" => Err("an SQS queue ARN ends in the queue name".into()),
            "sns" => Err(
                "SNS topics are not supported by updraft: use an SQS queue, a function or an event bus"
                    .into(),
            ),
            other => Err(format!(
                "{other} is not a destination service: use a function, an SQS queue or an event bus"
            )),
        }
    }
}

/// Why an event left its queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Condition {
    Success,
    RetriesExhausted,
    EventAgeExceeded,
}

impl Condition {
    fn as_str(self) -> &'static str {
        match self {
            Condition::Success => "Success",
            Condition::RetriesExhausted => "RetriesExhausted",
            Condition::EventAgeExceeded => "EventAgeExceeded",
        }
    }
}

/// What the last attempt answered.
#[derive(Debug, Clone)]
pub(crate) struct Response {
    pub executed_version: String,
    pub function_error: Option<&'static str>,
    pub payload: Bytes,
}

/// JSON if it parses, else the text, `null` when empty.
fn payload_value(bytes: &[u8]) -> Value {
    if bytes.is_empty() {
        return Value::Null;
    }
    serde_json::from_slice(bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(bytes).into_owned()))
}

/// Lambda's destination record.
pub(crate) fn record(
    request_id: &str,
    function_arn: &str,
    condition: Condition,
    invoke_count: u32,
    request_payload: &[u8],
    response: Option<&Response>,
) -> Value {
    let mut record = json!({
        "version": "1.0",
        "timestamp": chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
        "requestContext": {
            "requestId": request_id,
            "functionArn": function_arn,
            "condition": condition.as_str(),
            "approximateInvokeCount": invoke_count,
        },
        "requestPayload": payload_value(request_payload),
    });
    if let Some(r) = response {
        let mut context = json!({"statusCode": 200, "executedVersion": r.executed_version});
        if let Some(fe) = r.function_error {
            context["functionError"] = json!(fe);
        }
        record["responseContext"] = context;
        record["responsePayload"] = payload_value(&r.payload);
    }
    record
}

/// The message a function's dead-letter queue gets, as Lambda writes it:
/// the original payload as the body, and attributes `RequestID`,
/// `ErrorCode` (200 when the function ran and failed, 429 when the event
/// got too old waiting for concurrency) and `ErrorMessage`.
pub(crate) fn dead_letter_message(
    request_id: &str,
    payload: &Bytes,
    response: Option<&Response>,
) -> NewMessage {
    let (code, message) = match response {
        Some(r) => {
            let error: Value = serde_json::from_slice(&r.payload).unwrap_or(Value::Null);
            let message = error["errorMessage"]
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| String::from_utf8_lossy(&r.payload).into_owned());
            ("200", message)
        }
        None => (
            "429",
            "The event exceeded its maximum age before it could run.".to_string(),
        ),
    };
    let text = |data_type: &str, value: &str| AttributeValue {
        data_type: data_type.into(),
        string_value: Some(value.into()),
        binary_value: None,
    };
    let mut message_text: String = message.chars().take(1024).collect();
    if message_text.is_empty() {
        message_text = "Unhandled".into();
    }
    NewMessage {
        body: payload.clone(),
        attributes: BTreeMap::from([
            ("RequestID".to_string(), text("String", request_id)),
            ("ErrorCode".to_string(), text("Number", code)),
            ("ErrorMessage".to_string(), text("String", &message_text)),
        ]),
        ..Default::default()
    }
}

impl AsyncEvents {
    /// Sends `record` to `destination`; `Err` says why it could not be
    /// written (the caller logs it).
    pub(crate) async fn send_record(
        &self,
        destination: &Destination,
        record: &Value,
        success: bool,
        function_arn: &str,
        traceparent: Option<String>,
    ) -> Result<(), String> {
        let body = Bytes::from(record.to_string());
        match destination {
            Destination::Function { name, qualifier } => self
                .queues
                .enqueue_invocations(vec![AsyncInvocation {
                    function: name.clone(),
                    qualifier: qualifier.clone(),
                    payload: body,
                    request_id: new_request_id(),
                    trigger: trigger::DESTINATION.to_string(),
                    traceparent,
                }])
                .await
                .map_err(|e| e.to_string()),
            Destination::Queue(queue) => self
                .queues
                .send(
                    queue,
                    vec![NewMessage {
                        body,
                        ..Default::default()
                    }],
                )
                .await
                .map(drop)
                .map_err(|e| e.to_string()),
            Destination::Bus(bus) => {
                let detail_type = if success {
                    "Lambda Function Invocation Result - Success"
                } else {
                    "Lambda Function Invocation Result - Failure"
                };
                self.bus
                    .put_event(NewEvent {
                        bus: bus.clone(),
                        source: "lambda".into(),
                        detail_type: detail_type.into(),
                        detail: record.clone(),
                        resources: vec![function_arn.to_string()],
                    })
                    .await
                    .map(drop)
                    .map_err(|e| e.to_string())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_three_destination_kinds() {
        assert_eq!(
            Destination::parse("arn:aws:lambda:us-east-1:000000000000:function:f:live"),
            Ok(Destination::Function {
                name: "f".into(),
                qualifier: Some("live".into())
            })
        );
        assert_eq!(
            Destination::parse("arn:aws:sqs:us-east-1:000000000000:failures"),
            Ok(Destination::Queue("failures".into()))
        );
        assert_eq!(
            Destination::parse("arn:aws:events:us-east-1:000000000000:event-bus/default"),
            Ok(Destination::Bus("default".into()))
        );
    }

    #[test]
    fn rejects_sns_and_malformed_arns() {
        let sns = Destination::parse("arn:aws:sns:us-east-1:000000000000:topic").unwrap_err();
        assert!(sns.contains("SNS topics are not supported"), "{sns}");
        assert!(Destination::parse("failures").is_err());
        assert!(Destination::parse("arn:aws:events:us-east-1:000000000000:rule/x").is_err());
        assert!(Destination::parse("arn:aws:sqs:us-east-1:000000000000:").is_err());
    }

    #[test]
    fn a_failure_record_has_lambdas_shape() {
        let r = record(
            "id-1",
            "arn:aws:lambda:us-east-1:000000000000:function:f:$LATEST",
            Condition::RetriesExhausted,
            3,
            br#"{"k":"fail"}"#,
            Some(&Response {
                executed_version: "$LATEST".into(),
                function_error: Some("Unhandled"),
                payload: Bytes::from_static(br#"{"errorMessage":"boom"}"#),
            }),
        );
        assert_eq!(r["version"], "1.0");
        assert_eq!(r["requestContext"]["condition"], "RetriesExhausted");
        assert_eq!(r["requestContext"]["approximateInvokeCount"], 3);
        assert_eq!(r["requestPayload"]["k"], "fail");
        assert_eq!(r["responseContext"]["functionError"], "Unhandled");
        assert_eq!(r["responsePayload"]["errorMessage"], "boom");
        assert!(r["timestamp"].as_str().unwrap().ends_with('Z'));
    }

    #[test]
    fn a_dead_letter_message_is_the_payload_with_lambdas_attributes() {
        let payload = Bytes::from_static(br#"{"k":"fail"}"#);
        let m = dead_letter_message(
            "id-1",
            &payload,
            Some(&Response {
                executed_version: "$LATEST".into(),
                function_error: Some("Unhandled"),
                payload: Bytes::from_static(br#"{"errorMessage":"boom","errorType":"E"}"#),
            }),
        );
        assert_eq!(m.body, payload);
        let attr = |k: &str| m.attributes[k].string_value.clone().unwrap();
        assert_eq!(attr("RequestID"), "id-1");
        assert_eq!(attr("ErrorCode"), "200");
        assert_eq!(m.attributes["ErrorCode"].data_type, "Number");
        assert_eq!(attr("ErrorMessage"), "boom");
        let too_old = dead_letter_message("id-2", &payload, None);
        assert_eq!(
            too_old.attributes["ErrorCode"].string_value.as_deref(),
            Some("429")
        );
    }
}
