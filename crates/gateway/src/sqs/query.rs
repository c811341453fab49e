//! The SQS query protocol: form-encoded requests in, XML out.
//!
//! A request such as
//! `Action=SendMessage&MessageAttribute.1.Name=a&MessageAttribute.1.Value.DataType=String`
//! is turned into the JSON protocol's input (`{"MessageAttributes": {"a":
//! {"DataType": "String"}}}`), so both protocols
//! run the same operations; the JSON-shaped output is then written as the
//! query protocol's XML (`<SendMessageResponse><SendMessageResult>...`),
//! with SQS's flattened lists and maps (`<Attribute><Name/><Value/></Attribute>`).

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::error::SqsError;

/// The namespace of every SQS XML document.
pub const XMLNS: &str = "http://queue.amazonaws.com/doc/2012-11-05/";

/// Parameters whose value is an integer in the JSON protocol.
const INTEGERS: &[&str] = &[
    "DelaySeconds",
    "MaxNumberOfMessages",
    "VisibilityTimeout",
    "WaitTimeSeconds",
    "MaxResults",
];

/// Decodes an `application/x-www-form-urlencoded` body into its pairs
/// (a later duplicate replaces an earlier one).
pub fn decode_form(body: &[u8]) -> BTreeMap<String, String> {
    crate::form::map(body)
}

/// The parameters as a tree on their dotted names
/// (`Attribute.1.Name` → `Attribute` → `1` → `Name`).
#[derive(Debug)]
enum Node {
    Leaf(String),
    Branch(BTreeMap<String, Node>),
}

/// The most dotted parts a parameter name may have. SQS's deepest is
/// `SendMessageBatchRequestEntry.1.MessageAttribute.1.Value.StringValue`
/// (6); the bound keeps the tree, and the recursion over it and its drop,
/// shallow whatever the client sends.
const MAX_NAME_PARTS: usize = 16;

fn tree(params: &BTreeMap<String, String>) -> Result<BTreeMap<String, Node>, SqsError> {
    let mut root = BTreeMap::new();
    for (key, value) in params {
        if key.split('.').nth(MAX_NAME_PARTS).is_some() {
            let shown: String = key.chars().take(80).collect();
            return Err(SqsError::invalid_parameter_value(format!(
                "The parameter name {shown}... has more than {MAX_NAME_PARTS} parts."
            )));
        }
        let mut parts = key.split('.').peekable();
        let mut level = &mut root;
        while let Some(part) = parts.next() {
            if parts.peek().is_none() {
                level
                    .entry(part.to_string())
                    .or_insert_with(|| Node::Leaf(value.clone()));
                break;
            }
            let node = level
                .entry(part.to_string())
                .or_insert_with(|| Node::Branch(BTreeMap::new()));
            if let Node::Leaf(_) = node {
                *node = Node::Branch(BTreeMap::new());
            }
            let Node::Branch(next) = node else {
                unreachable!("made a branch above")
            };
            level = next;
        }
    }
    Ok(root)
}

/// The members of a flattened list (`Name.1`, `Name.2`, ...), by index.
fn indexed(node: &Node) -> Vec<&Node> {
    let Node::Branch(items) = node else {
        return Vec::new();
    };
    let mut items: Vec<(u64, &Node)> = items
        .iter()
        .filter_map(|(i, n)| Some((i.parse().ok()?, n)))
        .collect();
    items.sort_by_key(|(i, _)| *i);
    items.into_iter().map(|(_, n)| n).collect()
}

fn child<'a>(node: &'a Node, name: &str) -> Option<&'a Node> {
    match node {
        Node::Branch(children) => children.get(name),
        Node::Leaf(_) => None,
    }
}

fn leaf(node: Option<&Node>) -> Option<String> {
    match node {
        Some(Node::Leaf(v)) => Some(v.clone()),
        _ => None,
    }
}

/// A flattened map (`Prefix.N.{key}` / `Prefix.N.{value}`) whose values
/// are strings.
fn string_map(node: &Node, key: &str, value: &str) -> Value {
    let mut map = Map::new();
    for entry in indexed(node) {
        if let Some(k) = leaf(child(entry, key)) {
            map.insert(
                k,
                Value::String(leaf(child(entry, value)).unwrap_or_default()),
            );
        }
    }
    Value::Object(map)
}

/// A flattened map of message attributes (`Prefix.N.Name`,
/// `Prefix.N.Value.{DataType,StringValue,BinaryValue}`).
fn attribute_map(node: &Node) -> Value {
    let mut map = Map::new();
    for entry in indexed(node) {
        let Some(name) = leaf(child(entry, "Name")) else {
            continue;
        };
        let mut value = Map::new();
        if let Some(Node::Branch(fields)) = child(entry, "Value") {
            for (field, v) in fields {
                if let Node::Leaf(v) = v {
                    value.insert(field.clone(), Value::String(v.clone()));
                }
            }
        }
        map.insert(name, Value::Object(value));
    }
    Value::Object(map)
}

fn list(node: &Node) -> Value {
    Value::Array(
        indexed(node)
            .into_iter()
            .filter_map(|n| leaf(Some(n)).map(Value::String))
            .collect(),
    )
}

/// One level of parameters as the JSON protocol's object.
fn object(action: &str, children: &BTreeMap<String, Node>) -> Result<Map<String, Value>, SqsError> {
    let mut out = Map::new();
    for (name, node) in children {
        let (key, value) = match (name.as_str(), node) {
            ("Attribute", n) => ("Attributes".to_string(), string_map(n, "Name", "Value")),
            ("Tag", n) => {
                let key = if action == "CreateQueue" {
                    "tags"
                } else {
                    "Tags"
                };
                (key.to_string(), string_map(n, "Key", "Value"))
            }
            ("MessageAttribute", n) => ("MessageAttributes".to_string(), attribute_map(n)),
            ("MessageSystemAttribute", n) => {
                ("MessageSystemAttributes".to_string(), attribute_map(n))
            }
            (
                "AttributeName" | "MessageAttributeName" | "MessageSystemAttributeName" | "TagKey",
                n,
            ) => (format!("{name}s"), list(n)),
            ("AWSAccountId", n) => ("AWSAccountIds".to_string(), list(n)),
            ("ActionName", n) => ("Actions".to_string(), list(n)),
            (entry, n) if entry.ends_with("BatchRequestEntry") => {
                let entries = indexed(n)
                    .into_iter()
                    .map(|e| match e {
                        Node::Branch(fields) => object(action, fields).map(Value::Object),
                        Node::Leaf(_) => Ok(Value::Object(Map::new())),
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                ("Entries".to_string(), Value::Array(entries))
            }
            (int, Node::Leaf(v)) if INTEGERS.contains(&int) => {
                let n: i64 = v
                    .trim()
                    .parse()
                    .map_err(|_| SqsError::invalid_value(int, v, "Must be an integer."))?;
                (name.clone(), Value::from(n))
            }
            (_, Node::Leaf(v)) => (name.clone(), Value::String(v.clone())),
            (_, Node::Branch(_)) => continue,
        };
        out.insert(key, value);
    }
    Ok(out)
}

/// The JSON protocol's input for a query request's parameters.
pub fn to_json_input(action: &str, params: &BTreeMap<String, String>) -> Result<Value, SqsError> {
    object(action, &tree(params)?).map(Value::Object)
}

/// Escapes text for an XML element.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\r' => out.push_str("&#xD;"),
            c => out.push(c),
        }
    }
    out
}

fn scalar(value: &Value) -> String {
    match value {
        Value::String(s) => escape(s),
        other => other.to_string(),
    }
}

fn element(out: &mut String, name: &str, content: &str) {
    out.push_str(&format!("<{name}>{content}</{name}>"));
}

/// Writes a JSON-protocol output object as the query protocol's XML
/// elements (`operation` names the batch result entries).
fn fields(out: &mut String, operation: &str, object: &Map<String, Value>) {
    for (key, value) in object {
        match (key.as_str(), value) {
            ("QueueUrls" | "queueUrls", Value::Array(urls)) => {
                for url in urls {
                    element(out, "QueueUrl", &scalar(url));
                }
            }
            ("Attributes", Value::Object(map)) => {
                for (k, v) in map {
                    let mut inner = String::new();
                    element(&mut inner, "Name", &escape(k));
                    element(&mut inner, "Value", &scalar(v));
                    element(out, "Attribute", &inner);
                }
            }
            ("Tags", Value::Object(map)) => {
                for (k, v) in map {
                    let mut inner = String::new();
                    element(&mut inner, "Key", &escape(k));
                    element(&mut inner, "Value", &scalar(v));
                    element(out, "Tag", &inner);
                }
            }
            ("MessageAttributes", Value::Object(map)) => {
                for (k, v) in map {
                    let mut inner = String::new();
                    element(&mut inner, "Name", &escape(k));
                    let mut val = String::new();
                    if let Value::Object(v) = v {
                        fields(&mut val, operation, v);
                    }
                    element(&mut inner, "Value", &val);
                    element(out, "MessageAttribute", &inner);
                }
            }
            ("Messages", Value::Array(messages)) => {
                for m in messages {
                    let mut inner = String::new();
                    if let Value::Object(m) = m {
                        fields(&mut inner, operation, m);
                    }
                    element(out, "Message", &inner);
                }
            }
            ("Successful" | "Failed", Value::Array(entries)) => {
                let name = if key == "Failed" {
                    "BatchResultErrorEntry".to_string()
                } else {
                    format!("{operation}ResultEntry")
                };
                for e in entries {
                    let mut inner = String::new();
                    if let Value::Object(e) = e {
                        fields(&mut inner, operation, e);
                    }
                    element(out, &name, &inner);
                }
            }
            (_, Value::Null) => {}
            (_, v) => element(out, key, &scalar(v)),
        }
    }
}

/// Operations whose answer has no result, only its metadata.
const NO_RESULT: &[&str] = &[
    "AddPermission",
    "RemovePermission",
    "DeleteQueue",
    "SetQueueAttributes",
    "PurgeQueue",
    "TagQueue",
    "UntagQueue",
    "DeleteMessage",
    "ChangeMessageVisibility",
];

/// The query protocol's answer for an operation's JSON-shaped output.
pub fn xml_response(operation: &str, output: &Value, request_id: &str) -> String {
    let result = if NO_RESULT.contains(&operation) {
        String::new()
    } else {
        let mut fields_xml = String::new();
        if let Value::Object(o) = output {
            fields(&mut fields_xml, operation, o);
        }
        format!("<{operation}Result>{fields_xml}</{operation}Result>")
    };
    format!(
        "<?xml version=\"1.0\"?><{operation}Response xmlns=\"{XMLNS}\">{result}\
         <ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata>\
         </{operation}Response>"
    )
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn form_becomes_the_json_input() {
        let params = decode_form(
            b"Action=SendMessageBatch&QueueUrl=http%3A%2F%2Fh%2F1%2Fq\
              &SendMessageBatchRequestEntry.2.Id=b&SendMessageBatchRequestEntry.2.MessageBody=y+z\
              &SendMessageBatchRequestEntry.2.DelaySeconds=3\
              &SendMessageBatchRequestEntry.1.Id=a&SendMessageBatchRequestEntry.1.MessageBody=x\
              &SendMessageBatchRequestEntry.1.MessageAttribute.1.Name=n\
              &SendMessageBatchRequestEntry.1.MessageAttribute.1.Value.DataType=String\
              &SendMessageBatchRequestEntry.1.MessageAttribute.1.Value.StringValue=v",
        );
        let input = to_json_input("SendMessageBatch", &params).unwrap();
        assert_eq!(
            input,
            json!({
                "Action": "SendMessageBatch",
                "QueueUrl": "http://h/1/q",
                "Entries": [
                    {"Id": "a", "MessageBody": "x",
                     "MessageAttributes": {"n": {"DataType": "String", "StringValue": "v"}}},
                    {"Id": "b", "MessageBody": "y z", "DelaySeconds": 3},
                ]
            })
        );
    }

    #[test]
    fn maps_lists_and_tags_follow_the_action() {
        let params = decode_form(
            b"Attribute.1.Name=VisibilityTimeout&Attribute.1.Value=10&Tag.1.Key=k&Tag.1.Value=v\
              &AttributeName.2=B&AttributeName.10=C&AttributeName.1=A",
        );
        let create = to_json_input("CreateQueue", &params).unwrap();
        assert_eq!(create["tags"], json!({"k": "v"}));
        assert_eq!(create["Attributes"], json!({"VisibilityTimeout": "10"}));
        assert_eq!(create["AttributeNames"], json!(["A", "B", "C"]));
        assert_eq!(
            to_json_input("TagQueue", &params).unwrap()["Tags"],
            json!({"k": "v"})
        );
    }

    #[test]
    fn permission_lists_take_their_json_names() {
        let params = decode_form(
            b"Action=AddPermission&Label=l&AWSAccountId.2=222222222222&AWSAccountId.1=111111111111\
              &ActionName.1=SendMessage",
        );
        let input = to_json_input("AddPermission", &params).unwrap();
        assert_eq!(
            input["AWSAccountIds"],
            json!(["111111111111", "222222222222"])
        );
        assert_eq!(input["Actions"], json!(["SendMessage"]));
        assert_eq!(input["Label"], "l");
        let xml = xml_response("AddPermission", &json!({}), "rid");
        assert!(!xml.contains("AddPermissionResult"), "{xml}");
    }

    #[test]
    fn a_non_integer_is_invalid() {
        let params = decode_form(b"MaxNumberOfMessages=ten");
        let e = to_json_input("ReceiveMessage", &params).unwrap_err();
        assert_eq!(e.code, "InvalidParameterValue");
    }

    #[test]
    fn output_becomes_flattened_xml() {
        let out = json!({
            "Messages": [{
                "Attributes": {"SentTimestamp": "1"},
                "Body": "a<b",
                "MessageAttributes": {"n": {"DataType": "String", "StringValue": "v"}},
            }],
        });
        let xml = xml_response("ReceiveMessage", &out, "rid");
        assert!(
            xml.contains(
                "<ReceiveMessageResult><Message>\
                 <Attribute><Name>SentTimestamp</Name><Value>1</Value></Attribute>\
                 <Body>a&lt;b</Body>\
                 <MessageAttribute><Name>n</Name><Value><DataType>String</DataType>\
                 <StringValue>v</StringValue></Value></MessageAttribute>\
                 </Message></ReceiveMessageResult>"
            ),
            "{xml}"
        );
        let batch = xml_response(
            "DeleteMessageBatch",
            &json!({"Successful": [{"Id": "a"}], "Failed": [{"Id": "b", "SenderFault": true}]}),
            "rid",
        );
        assert!(
            batch.contains(
                "<DeleteMessageBatchResultEntry><Id>a</Id></DeleteMessageBatchResultEntry>"
            ),
            "{batch}"
        );
        assert!(
            batch.contains(
                "<BatchResultErrorEntry><Id>b</Id><SenderFault>true</SenderFault>\
                 </BatchResultErrorEntry>"
            ),
            "{batch}"
        );
        let deleted = xml_response("DeleteMessage", &json!({}), "rid");
        assert_eq!(
            deleted,
            format!(
                "<?xml version=\"1.0\"?><DeleteMessageResponse xmlns=\"{XMLNS}\">\
                 <ResponseMetadata><RequestId>rid</RequestId></ResponseMetadata>\
                 </DeleteMessageResponse>"
            )
        );
    }
}
