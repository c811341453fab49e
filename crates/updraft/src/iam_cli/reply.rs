//! Query-protocol replies as the aws CLI prints them: a small tolerant
//! XML reader ([`xml`]) and the conversion of its elements to JSON
//! ([`to_json`]): `member` lists become arrays, `entry` maps objects,
//! counts numbers, flags booleans and URL-encoded policy documents JSON
//! objects.

use std::collections::BTreeMap;

use percent_encoding::percent_decode_str;
use serde_json::{json, Map, Value};

/// Leaves that are numbers in the IAM and STS models.
const NUMBERS: &[&str] = &[
    "AttachmentCount",
    "PermissionsBoundaryUsageCount",
    "MaxSessionDuration",
    "PackedPolicySize",
    "Line",
    "Column",
];
/// Leaves that are booleans.
const BOOLEANS: &[&str] = &["IsTruncated", "IsAttachable", "IsDefaultVersion"];
/// Leaves that are URL-encoded JSON policy documents.
const DOCUMENTS: &[&str] = &["AssumeRolePolicyDocument", "Document", "PolicyDocument"];
/// Lists that are empty elements when they have no members.
const LISTS: &[&str] = &[
    "Users",
    "Groups",
    "Roles",
    "Policies",
    "AccessKeyMetadata",
    "AttachedPolicies",
    "PolicyNames",
    "PolicyUsers",
    "PolicyGroups",
    "PolicyRoles",
    "Versions",
    "Tags",
    "EvaluationResults",
    "MatchedStatements",
    "MissingContextValues",
];

/// An XML reply element as the aws CLI would print it.
pub fn to_json(e: &xml::Element) -> Value {
    if e.children.is_empty() {
        return leaf(&e.name, &e.text);
    }
    if e.children.iter().all(|c| c.name == "member") {
        return Value::Array(
            e.children
                .iter()
                .map(|m| match m.children.is_empty() {
                    true => Value::String(m.text.clone()),
                    false => to_json(m),
                })
                .collect(),
        );
    }
    if e.children.iter().all(|c| c.name == "entry") {
        let map: BTreeMap<String, Value> = e
            .children
            .iter()
            .map(|entry| {
                (
                    entry.text_of("key").to_string(),
                    Value::String(entry.text_of("value").to_string()),
                )
            })
            .collect();
        return json!(map);
    }
    let mut out = Map::new();
    for c in &e.children {
        out.insert(c.name.clone(), to_json(c));
    }
    Value::Object(out)
}

fn leaf(name: &str, text: &str) -> Value {
    if LISTS.contains(&name) && text.trim().is_empty() {
        return json!([]);
    }
    if NUMBERS.contains(&name) {
        if let Ok(n) = text.trim().parse::<i64>() {
            return json!(n);
        }
    }
    if BOOLEANS.contains(&name) {
        match text.trim() {
            "true" => return json!(true),
            "false" => return json!(false),
            _ => {}
        }
    }
    if DOCUMENTS.contains(&name) {
        let decoded = percent_decode_str(text).decode_utf8_lossy();
        if let Ok(doc) = serde_json::from_str::<Value>(&decoded) {
            return doc;
        }
    }
    Value::String(text.to_string())
}

/// A small XML reader for query-protocol replies: elements, text,
/// character and entity references, CDATA; declarations, comments,
/// processing instructions, attributes and namespace prefixes are
/// skipped. Enough for AWS's replies, tolerant of whitespace.
pub mod xml {
    #[derive(Debug, Clone, PartialEq, Default)]
    pub struct Element {
        /// The local name (without a namespace prefix).
        pub name: String,
        pub children: Vec<Element>,
        /// The element's own text (entities decoded).
        pub text: String,
    }

    #[derive(Debug, thiserror::Error, PartialEq)]
    pub enum XmlError {
        #[error("the document is not UTF-8")]
        NotUtf8,
        #[error("unexpected end of the document")]
        UnexpectedEnd,
        #[error("the document has no element")]
        NoElement,
        #[error("</{found}> closes <{expected}>")]
        Mismatched { expected: String, found: String },
        #[error("</{0}> closes no element")]
        Unopened(String),
        #[error("unknown entity &{0};")]
        UnknownEntity(String),
    }

    impl Element {
        pub fn new(name: &str) -> Element {
            Element {
                name: name.to_string(),
                ..Element::default()
            }
        }

        /// The first child called `name`.
        pub fn child(&self, name: &str) -> Option<&Element> {
            self.children.iter().find(|c| c.name == name)
        }

        /// The first element called `name` at any depth (itself included).
        pub fn find(&self, name: &str) -> Option<&Element> {
            if self.name == name {
                return Some(self);
            }
            self.children.iter().find_map(|c| c.find(name))
        }

        /// The text of the child `name`, or "".
        pub fn text_of(&self, name: &str) -> &str {
            self.child(name).map(|c| c.text.as_str()).unwrap_or("")
        }
    }

    fn local(name: &str) -> String {
        name.rsplit(':').next().unwrap_or(name).to_string()
    }

    /// Parses `bytes`; returns the root element.
    pub fn parse(bytes: &[u8]) -> Result<Element, XmlError> {
        let s = std::str::from_utf8(bytes).map_err(|_| XmlError::NotUtf8)?;
        let s = s.strip_prefix('\u{feff}').unwrap_or(s);
        let mut stack: Vec<Element> = Vec::new();
        let mut rest = s;
        while !rest.is_empty() {
            let Some(lt) = rest.find('<') else {
                append_text(&mut stack, rest)?;
                break;
            };
            append_text(&mut stack, &rest[..lt])?;
            rest = &rest[lt..];
            if let Some(r) = rest.strip_prefix("<!--") {
                rest = after(r, "-->")?;
            } else if let Some(r) = rest.strip_prefix("<![CDATA[") {
                let end = r.find("]]>").ok_or(XmlError::UnexpectedEnd)?;
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&r[..end]);
                }
                rest = &r[end + 3..];
            } else if let Some(r) = rest.strip_prefix("<?") {
                rest = after(r, "?>")?;
            } else if rest.starts_with("<!") {
                rest = after(rest, ">")?;
            } else if let Some(r) = rest.strip_prefix("</") {
                let end = r.find('>').ok_or(XmlError::UnexpectedEnd)?;
                let name = local(r[..end].trim());
                rest = &r[end + 1..];
                let done = stack
                    .pop()
                    .ok_or_else(|| XmlError::Unopened(name.clone()))?;
                if done.name != name {
                    return Err(XmlError::Mismatched {
                        expected: done.name,
                        found: name,
                    });
                }
                match stack.last_mut() {
                    Some(parent) => parent.children.push(done),
                    None => return Ok(done),
                }
            } else {
                let r = &rest[1..];
                let end = tag_end(r).ok_or(XmlError::UnexpectedEnd)?;
                let tag = &r[..end];
                rest = &r[end + 1..];
                let (tag, empty) = match tag.strip_suffix('/') {
                    Some(t) => (t, true),
                    None => (tag, false),
                };
                let name = tag.split(|c: char| c.is_whitespace()).next().unwrap_or("");
                let element = Element::new(&local(name));
                if empty {
                    match stack.last_mut() {
                        Some(parent) => parent.children.push(element),
                        None => return Ok(element),
                    }
                } else {
                    stack.push(element);
                }
            }
        }
        Err(if stack.is_empty() {
            XmlError::NoElement
        } else {
            XmlError::UnexpectedEnd
        })
    }

    /// What follows the first `end` in `s`.
    fn after<'a>(s: &'a str, end: &str) -> Result<&'a str, XmlError> {
        s.find(end)
            .map(|i| &s[i + end.len()..])
            .ok_or(XmlError::UnexpectedEnd)
    }

    /// The index of the `>` ending a start tag (not one inside a quoted
    /// attribute value).
    fn tag_end(s: &str) -> Option<usize> {
        let mut quote = None;
        for (i, c) in s.char_indices() {
            match (quote, c) {
                (None, '"' | '\'') => quote = Some(c),
                (Some(q), c) if c == q => quote = None,
                (None, '>') => return Some(i),
                _ => {}
            }
        }
        None
    }

    fn append_text(stack: &mut [Element], raw: &str) -> Result<(), XmlError> {
        if raw.is_empty() {
            return Ok(());
        }
        let Some(top) = stack.last_mut() else {
            // Whitespace around the root element.
            return Ok(());
        };
        let mut rest = raw;
        while let Some(amp) = rest.find('&') {
            top.text.push_str(&rest[..amp]);
            let r = &rest[amp + 1..];
            let semi = r.find(';').ok_or(XmlError::UnexpectedEnd)?;
            let entity = &r[..semi];
            let c = match entity {
                "amp" => Some('&'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                e => e
                    .strip_prefix("#x")
                    .or_else(|| e.strip_prefix("#X"))
                    .and_then(|h| u32::from_str_radix(h, 16).ok())
                    .or_else(|| e.strip_prefix('#').and_then(|d| d.parse().ok()))
                    .and_then(char::from_u32),
            };
            top.text
                .push(c.ok_or_else(|| XmlError::UnknownEntity(entity.to_string()))?);
            rest = &r[semi + 1..];
        }
        top.text.push_str(rest);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
    use serde_json::json;

    use super::xml::{parse, Element, XmlError};
    use super::*;

    #[test]
    fn reads_a_reply_with_declaration_namespace_and_entities() {
        let root = parse(
            br#"<?xml version="1.0" encoding="UTF-8"?>
<CreateUserResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">
  <CreateUserResult>
    <User>
      <UserName>a&amp;b &lt;c&gt; &#65;&#x42;</UserName>
      <!-- a comment -->
      <Path><![CDATA[/x<y>/]]></Path>
      <Empty/>
    </User>
  </CreateUserResult>
  <ResponseMetadata><RequestId>r-1</RequestId></ResponseMetadata>
</CreateUserResponse>"#,
        )
        .unwrap();
        assert_eq!(root.name, "CreateUserResponse");
        let user = root.find("User").unwrap();
        assert_eq!(user.text_of("UserName"), "a&b <c> AB");
        assert_eq!(user.text_of("Path"), "/x<y>/");
        assert_eq!(user.child("Empty"), Some(&Element::new("Empty")));
        assert_eq!(root.find("RequestId").unwrap().text, "r-1");
    }

    #[test]
    fn refuses_broken_documents() {
        assert_eq!(
            parse(b"<a><b></a>").unwrap_err().to_string(),
            "</a> closes <b>"
        );
        assert_eq!(parse(b"<a>").unwrap_err(), XmlError::UnexpectedEnd);
        assert_eq!(parse(b"  ").unwrap_err(), XmlError::NoElement);
        assert_eq!(parse(b"</a>").unwrap_err(), XmlError::Unopened("a".into()));
        assert_eq!(
            parse(b"<a>&nbsp;</a>").unwrap_err(),
            XmlError::UnknownEntity("nbsp".into())
        );
        assert_eq!(parse(b"<a x='>'>t</a>").unwrap().text, "t");
        assert_eq!(parse(b"<p:a><p:b/></p:a>").unwrap().children[0].name, "b");
    }

    #[test]
    fn replies_become_the_aws_cli_shapes() {
        let doc = utf8_percent_encode(
            r#"{"Version":"2012-10-17","Statement":[]}"#,
            NON_ALPHANUMERIC,
        )
        .to_string();
        let result = parse(
            format!(
                "<ListRolesResult><Roles><member><RoleName>r</RoleName>\
                 <AssumeRolePolicyDocument>{doc}</AssumeRolePolicyDocument>\
                 <MaxSessionDuration>3600</MaxSessionDuration><Tags/></member></Roles>\
                 <IsTruncated>false</IsTruncated></ListRolesResult>"
            )
            .as_bytes(),
        )
        .unwrap();
        assert_eq!(
            to_json(&result),
            json!({"Roles": [{"RoleName": "r",
                             "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": []},
                             "MaxSessionDuration": 3600, "Tags": []}],
                   "IsTruncated": false})
        );
        let empty =
            parse(b"<ListUsersResult><Users/><IsTruncated>false</IsTruncated></ListUsersResult>")
                .unwrap();
        assert_eq!(to_json(&empty), json!({"Users": [], "IsTruncated": false}));
        let details = parse(
            b"<r><EvalDecisionDetails><entry><key>k</key><value>allowed</value></entry>\
              </EvalDecisionDetails><MissingContextValues><member>aws:a</member></MissingContextValues>\
              <Account>000000000000</Account></r>",
        )
        .unwrap();
        assert_eq!(
            to_json(&details),
            json!({"EvalDecisionDetails": {"k": "allowed"},
                   "MissingContextValues": ["aws:a"], "Account": "000000000000"})
        );
    }
}
