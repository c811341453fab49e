//! The SQS query protocol (`updraft_gateway::sqs_query`): a form body
//! decoded into parameters, rewritten into the JSON protocol's input, and
//! the JSON protocol's output written back as XML.
//!
//! Corpus files are form bodies as clients POST them, named
//! `<expect>-<Action>[-<what>].form`.
//!
//! Properties: decoding and rewriting never panic, whatever the names
//! (deeply dotted ones included); a refusal is a sender error with a code
//! and a message; a form-encoded map decodes back to itself; message
//! attributes and integers survive the rewriting; the XML written for any
//! text in the output is well formed and gives the text back.

use std::collections::BTreeMap;

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use proptest::prelude::*;
use serde_json::{json, Value};
use updraft_fuzz::{
    assert_message, bytes, config, corpus, corpus_bytes, hostile_string, mutated, watched, Expect,
};
use updraft_gateway::sqs_query::{decode_form, to_json_input, xml_response, SqsError};

const TARGET: &str = "sqs_query";

/// Actions the rewriting treats differently (tags, batches, lists).
const ACTIONS: &[&str] = &[
    "SendMessage",
    "SendMessageBatch",
    "ReceiveMessage",
    "DeleteMessageBatch",
    "ChangeMessageVisibilityBatch",
    "CreateQueue",
    "TagQueue",
    "AddPermission",
    "SetQueueAttributes",
];

/// Form encoding: unreserved characters stay, a space is `+`.
const FORM: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b' ');

fn form_encode(s: &str) -> String {
    utf8_percent_encode(s, FORM).to_string().replace(' ', "+")
}

fn check_error(input: &[u8], e: &SqsError) {
    assert_message(TARGET, input, &e.message);
    assert!(!e.code.is_empty() && !e.shape.is_empty(), "{e:?}");
    assert!(e.sender && e.status.is_client_error(), "{e:?}");
}

/// Rewrites `body` as its own `Action` and as every action of [`ACTIONS`].
/// Returns the result for its own action.
fn check(body: &[u8]) -> Option<Result<Value, SqsError>> {
    watched(TARGET, body, || {
        let params = decode_form(body);
        let own = params.get("Action").cloned();
        let mut result = None;
        for action in own
            .iter()
            .map(String::as_str)
            .chain(ACTIONS.iter().copied())
        {
            let r = to_json_input(action, &params);
            match &r {
                Ok(v) => assert!(v.is_object(), "{v}"),
                Err(e) => check_error(body, e),
            }
            if result.is_none() && own.as_deref() == Some(action) {
                result = Some(r);
            }
        }
        result
    })
}

#[test]
fn corpus_replays() {
    for seed in corpus(TARGET) {
        let result = check(&seed.bytes);
        match seed.expect() {
            Expect::Valid => assert!(matches!(result, Some(Ok(_))), "{}: {result:?}", seed.name),
            Expect::Invalid => assert!(matches!(result, Some(Err(_))), "{}: {result:?}", seed.name),
            Expect::Any => {}
        }
    }
}

/// Found by `deeply_dotted_names_are_rewritten_or_refused`: a name dotted
/// tens of thousands of levels deep built a tree as deep, whose drop (and,
/// for nested batch entries, whose rewriting) overflowed the stack and
/// aborted the server. Such names are now refused.
#[test]
fn regress_deeply_dotted_names_do_not_overflow_the_stack() {
    for segment in ["a.", "SendMessageBatchRequestEntry.1.", "."] {
        let body = format!("Action=SendMessageBatch&{}Id=x", segment.repeat(100_000));
        let result = watched(TARGET, body.as_bytes(), || {
            to_json_input("SendMessageBatch", &decode_form(body.as_bytes()))
        });
        let e = result.expect_err("a name 100,000 parts deep is refused");
        check_error(body.as_bytes(), &e);
        assert_eq!(e.code, "InvalidParameterValue");
    }
    // The deepest names SQS has still work.
    let body = "Action=SendMessageBatch&SendMessageBatchRequestEntry.1.Id=a\
                &SendMessageBatchRequestEntry.1.MessageAttribute.1.Name=n\
                &SendMessageBatchRequestEntry.1.MessageAttribute.1.Value.DataType=String\
                &SendMessageBatchRequestEntry.1.MessageAttribute.1.Value.StringValue=v";
    let input = to_json_input("SendMessageBatch", &decode_form(body.as_bytes()))
        .unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(
        input["Entries"][0]["MessageAttributes"]["n"]["StringValue"],
        json!("v")
    );
}

/// A minimal well-formedness check of the XML the writer produces: tags
/// balance, text and attribute values hold no raw `<` or `&` other than
/// an entity. Returns the text content, unescaped, in document order.
fn well_formed(xml: &str) -> Result<Vec<String>, String> {
    let body = xml
        .strip_prefix("<?xml version=\"1.0\"?>")
        .ok_or("no XML declaration")?;
    let mut stack: Vec<&str> = Vec::new();
    let mut texts = Vec::new();
    let mut rest = body;
    while !rest.is_empty() {
        if let Some(tag) = rest.strip_prefix('<') {
            let end = tag.find('>').ok_or("unclosed tag")?;
            let inner = &tag[..end];
            rest = &tag[end + 1..];
            if let Some(name) = inner.strip_prefix('/') {
                match stack.pop() {
                    Some(open) if open == name => {}
                    other => return Err(format!("</{name}> closes {other:?}")),
                }
            } else {
                let name = inner.split(' ').next().unwrap_or_default();
                if name.is_empty() || name.contains(['<', '&', '"', '\'', '/']) {
                    return Err(format!("bad element name {name:?}"));
                }
                stack.push(name);
            }
        } else {
            let end = rest.find('<').unwrap_or(rest.len());
            let text = &rest[..end];
            rest = &rest[end..];
            if stack.is_empty() {
                return Err(format!("text {text:?} outside the root"));
            }
            texts.push(unescape(text)?);
        }
    }
    if stack.is_empty() {
        Ok(texts)
    } else {
        Err(format!("unclosed {stack:?}"))
    }
}

fn unescape(text: &str) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        let tail = &rest[at..];
        let (entity, c) = [
            ("&amp;", '&'),
            ("&lt;", '<'),
            ("&gt;", '>'),
            ("&quot;", '"'),
            ("&apos;", '\''),
            ("&#xD;", '\r'),
        ]
        .into_iter()
        .find(|(e, _)| tail.starts_with(e))
        .ok_or_else(|| format!("raw & in {text:?}"))?;
        out.push(c);
        rest = &tail[entity.len()..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Names dotted thousands of levels deep, plain or as nested batches.
fn deeply_dotted() -> impl Strategy<Value = Vec<u8>> {
    (
        prop::sample::select(
            &[
                "a.",
                "1.",
                "SendMessageBatchRequestEntry.1.",
                ".",
                "Attribute.1.",
            ][..],
        ),
        1usize..60_000,
    )
        .prop_map(|(segment, depth)| {
            let mut body = b"Action=SendMessageBatch&".to_vec();
            body.extend(segment.repeat(depth).into_bytes());
            body.extend_from_slice(b"Id=x");
            body
        })
}

proptest! {
    #![proptest_config(config(1))]

    #[test]
    fn random_bytes_are_rewritten_or_refused(body in bytes(512)) {
        check(&body);
    }

    #[test]
    fn mutated_forms_are_rewritten_or_refused(body in mutated(corpus_bytes(TARGET, ".form"))) {
        check(&body);
    }

    #[test]
    fn deeply_dotted_names_are_rewritten_or_refused(body in deeply_dotted()) {
        check(&body);
    }

    #[test]
    fn a_form_encoded_map_decodes_to_itself(
        map in prop::collection::btree_map("\\PC{1,10}", "\\PC{0,12}", 0..8),
    ) {
        let body = map
            .iter()
            .map(|(k, v)| format!("{}={}", form_encode(k), form_encode(v)))
            .collect::<Vec<_>>()
            .join("&");
        let decoded = watched(TARGET, body.as_bytes(), || decode_form(body.as_bytes()));
        prop_assert_eq!(decoded, map);
    }

    #[test]
    fn message_attributes_and_integers_survive_the_rewriting(
        attributes in prop::collection::btree_map("\\PC{1,10}", ("[A-Za-z.]{1,12}", "\\PC{0,12}"), 1..6),
        delay in any::<i64>(),
        body_text in "\\PC{0,40}",
    ) {
        let mut form = vec![
            ("Action".to_string(), "SendMessage".to_string()),
            ("MessageBody".to_string(), body_text.clone()),
            ("DelaySeconds".to_string(), delay.to_string()),
        ];
        for (i, (name, (data_type, value))) in attributes.iter().enumerate() {
            let n = i + 1;
            form.push((format!("MessageAttribute.{n}.Name"), name.clone()));
            form.push((format!("MessageAttribute.{n}.Value.DataType"), data_type.clone()));
            form.push((format!("MessageAttribute.{n}.Value.StringValue"), value.clone()));
        }
        let body = form
            .iter()
            .map(|(k, v)| format!("{}={}", form_encode(k), form_encode(v)))
            .collect::<Vec<_>>()
            .join("&");
        let input = watched(TARGET, body.as_bytes(), || {
            to_json_input("SendMessage", &decode_form(body.as_bytes()))
        });
        let input = match input {
            Ok(v) => v,
            Err(e) => return Err(TestCaseError::fail(format!("{body}: {e:?}"))),
        };
        prop_assert_eq!(&input["MessageBody"], &json!(body_text));
        prop_assert_eq!(&input["DelaySeconds"], &json!(delay));
        let expected: BTreeMap<&String, Value> = attributes
            .iter()
            .map(|(name, (t, v))| (name, json!({"DataType": t, "StringValue": v})))
            .collect();
        let got: BTreeMap<&String, Value> = input["MessageAttributes"]
            .as_object()
            .map(|m| m.iter().map(|(k, v)| (k, v.clone())).collect())
            .unwrap_or_default();
        prop_assert_eq!(got, expected);
    }

    #[test]
    fn the_xml_of_any_output_is_well_formed(
        texts in prop::collection::vec(hostile_string(), 12),
        action in prop::sample::select(ACTIONS),
    ) {
        let t = |i: usize| texts[i].clone();
        let output = json!({
            "QueueUrl": t(0),
            "QueueUrls": [t(1)],
            "Messages": [{
                "MessageId": t(2),
                "Body": t(3),
                "Attributes": {t(4): t(5)},
                "MessageAttributes": {t(6): {"DataType": "String", "StringValue": t(7)}},
            }],
            "Successful": [{"Id": t(8)}],
            "Failed": [{"Id": t(9), "Code": "c", "Message": t(10), "SenderFault": true}],
            "Tags": {t(11): t(0)},
        });
        let xml = watched(TARGET, output.to_string().as_bytes(), || {
            xml_response(action, &output, "request-id")
        });
        let found = well_formed(&xml).map_err(|e| TestCaseError::fail(format!("{e}: {xml}")))?;
        if !["AddPermission", "SetQueueAttributes", "TagQueue"].contains(&action) {
            for (i, text) in texts.iter().enumerate() {
                prop_assert!(
                    text.is_empty() || found.contains(text),
                    "text {} {:?} lost in {}", i, text, xml
                );
            }
        }
    }
}
