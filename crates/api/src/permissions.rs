//! Lambda's function policies on the wire: the `AddPermission` body, the
//! statement Lambda writes for it, and the policy document that holds the
//! statements (`GetPolicy`'s `Policy`).
//!
//! ```text
//! AddPermissionRequest ──validate()──> NewPermission ──statement(arn)──> Statement
//! FunctionPolicyDocument { Version, Id: "default", Statement: [...] } ──to_json()──> text
//! ```
//!
//! Statements are rendered with Lambda's member order (`Sid`, `Effect`,
//! `Principal`, `Action`, `Resource`, `Condition`):
//!
//! | request member         | statement                                              |
//! |------------------------|--------------------------------------------------------|
//! | `Principal` `*`        | `"Principal": "*"`                                     |
//! | a 12-digit account     | `{"AWS": "arn:aws:iam::ACCOUNT:root"}`                 |
//! | an IAM ARN             | `{"AWS": ARN}`                                         |
//! | a service (`s3.amazonaws.com`) | `{"Service": NAME}`                            |
//! | `SourceArn`            | `Condition.ArnLike."AWS:SourceArn"`                    |
//! | `SourceAccount`        | `Condition.StringEquals."AWS:SourceAccount"`           |
//! | `PrincipalOrgID`       | `Condition.StringEquals."aws:PrincipalOrgID"`          |
//! | `EventSourceToken`     | `Condition.StringEquals."lambda:EventSourceToken"`     |
//! | `FunctionUrlAuthType`  | `Condition.StringEquals."lambda:FunctionUrlAuthType"`  |
//! | `InvokedViaFunctionUrl`| `Condition.Bool."lambda:InvokedViaFunctionUrl"`        |

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use updraft_types::UrlAuthType;

use crate::validate::Violations;
use crate::LambdaError;

/// The largest function policy Lambda keeps, in bytes.
pub const MAX_POLICY_BYTES: usize = 20 * 1024;

/// The body of `AddPermission` (`POST /2015-03-31/functions/{name}/policy`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
pub struct AddPermissionRequest {
    pub statement_id: Option<String>,
    pub action: Option<String>,
    pub principal: Option<String>,
    pub source_arn: Option<String>,
    pub source_account: Option<String>,
    pub event_source_token: Option<String>,
    pub revision_id: Option<String>,
    #[serde(rename = "PrincipalOrgID")]
    pub principal_org_id: Option<String>,
    pub function_url_auth_type: Option<String>,
    pub invoked_via_function_url: Option<bool>,
}

/// A validated `AddPermission`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPermission {
    pub statement_id: String,
    pub action: String,
    pub principal: String,
    pub source_arn: Option<String>,
    pub source_account: Option<String>,
    pub event_source_token: Option<String>,
    pub principal_org_id: Option<String>,
    pub function_url_auth_type: Option<UrlAuthType>,
    pub invoked_via_function_url: bool,
    /// Change the policy only if its revision is this one.
    pub revision_id: Option<String>,
}

fn matches_chars(s: &str, ok: impl Fn(char) -> bool) -> bool {
    !s.is_empty() && s.chars().all(ok)
}

/// `(lambda:[*]|lambda:[a-zA-Z]+|[*])`
fn valid_action(a: &str) -> bool {
    a == "*"
        || a.strip_prefix("lambda:")
            .is_some_and(|rest| rest == "*" || matches_chars(rest, |c| c.is_ascii_alphabetic()))
}

/// Whether `id` is a statement id as `RemovePermission` takes it
/// (`[a-zA-Z0-9-_.]+`, 1–100).
pub fn valid_statement_id(id: &str) -> bool {
    id.len() <= 100
        && matches_chars(id, |c| {
            c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')
        })
}

impl AddPermissionRequest {
    pub fn validate(self) -> Result<NewPermission, LambdaError> {
        let mut v = Violations::new();
        let sid = self.statement_id.unwrap_or_else(|| {
            v.null("statementId");
            String::new()
        });
        if !sid.is_empty()
            && (sid.len() > 100
                || !matches_chars(&sid, |c| c.is_ascii_alphanumeric() || c == '-' || c == '_'))
        {
            v.add(
                &sid,
                "statementId",
                "Member must satisfy regular expression pattern: ([a-zA-Z0-9-_]+)",
            );
        }
        let action = self.action.unwrap_or_else(|| {
            v.null("action");
            String::new()
        });
        if !action.is_empty() && !valid_action(&action) {
            v.add(
                &action,
                "action",
                "Member must satisfy regular expression pattern: (lambda:[*]|lambda:[a-zA-Z]+|[*])",
            );
        }
        let principal = self.principal.unwrap_or_else(|| {
            v.null("principal");
            String::new()
        });
        if !principal.is_empty() && principal.chars().any(char::is_whitespace) {
            v.add(
                &principal,
                "principal",
                "Member must satisfy regular expression pattern: [^\\s]+",
            );
        }
        if let Some(a) = &self.source_account {
            if a.len() != 12 || !a.chars().all(|c| c.is_ascii_digit()) {
                v.add(
                    a,
                    "sourceAccount",
                    "Member must satisfy regular expression pattern: \\d{12}",
                );
            }
        }
        if let Some(o) = &self.principal_org_id {
            let ok = o.strip_prefix("o-").is_some_and(|rest| {
                (10..=32).contains(&rest.len())
                    && rest
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
            });
            if !ok {
                v.add(
                    o,
                    "principalOrgID",
                    "Member must satisfy regular expression pattern: o-[a-z0-9]{10,32}",
                );
            }
        }
        if let Some(t) = &self.event_source_token {
            v.max_len(t, "eventSourceToken", 256);
            if !matches_chars(t, |c| {
                c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')
            }) {
                v.add(
                    t,
                    "eventSourceToken",
                    "Member must satisfy regular expression pattern: [a-zA-Z0-9._\\-]+",
                );
            }
        }
        let url_auth = match self.function_url_auth_type.as_deref() {
            None => None,
            Some(t) => match UrlAuthType::parse(t) {
                Some(a) => Some(a),
                None => {
                    v.add(
                        t,
                        "functionUrlAuthType",
                        "Member must satisfy enum value set: [NONE, AWS_IAM]",
                    );
                    None
                }
            },
        };
        v.finish()?;
        if principal_element(&principal).is_none() {
            return Err(LambdaError::InvalidParameterValue(
                "The provided principal was invalid. Please check the principal and try again."
                    .into(),
            ));
        }
        Ok(NewPermission {
            statement_id: sid,
            action,
            principal,
            source_arn: self.source_arn,
            source_account: self.source_account,
            event_source_token: self.event_source_token,
            principal_org_id: self.principal_org_id,
            function_url_auth_type: url_auth,
            invoked_via_function_url: self.invoked_via_function_url.unwrap_or(false),
            revision_id: self.revision_id,
        })
    }
}

/// The `Principal` element for a request's principal: `*`, an account
/// (12 digits) as its root ARN, an IAM ARN, or a service principal
/// (a dotted name such as `s3.amazonaws.com`); `None` for anything else.
pub fn principal_element(principal: &str) -> Option<Value> {
    let one = |k: &str, v: String| {
        let mut map = serde_json::Map::new();
        map.insert(k.to_string(), Value::String(v));
        Some(Value::Object(map))
    };
    if principal == "*" {
        Some(Value::String("*".into()))
    } else if principal.len() == 12 && principal.chars().all(|c| c.is_ascii_digit()) {
        one("AWS", format!("arn:aws:iam::{principal}:root"))
    } else if principal.starts_with("arn:aws:iam::") || principal.starts_with("arn:aws:sts::") {
        one("AWS", principal.to_string())
    } else if principal.contains('.')
        && !principal.contains(':')
        && principal.split('.').all(|part| {
            matches_chars(part, |c| {
                c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'
            })
        })
    {
        one("Service", principal.to_string())
    } else {
        None
    }
}

/// One statement of a function policy, in Lambda's member order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Statement {
    pub sid: String,
    pub effect: String,
    pub principal: Value,
    pub action: Value,
    pub resource: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub condition: Option<BTreeMap<String, BTreeMap<String, Value>>>,
}

impl NewPermission {
    /// The statement Lambda writes for this permission on `resource_arn`
    /// (the function's ARN, with the qualifier when there is one).
    pub fn statement(&self, resource_arn: &str) -> Statement {
        let mut condition: BTreeMap<String, BTreeMap<String, Value>> = BTreeMap::new();
        let mut put = |op: &str, key: &str, value: &str| {
            condition
                .entry(op.to_string())
                .or_default()
                .insert(key.to_string(), Value::String(value.to_string()));
        };
        if let Some(a) = &self.source_account {
            put("StringEquals", "AWS:SourceAccount", a);
        }
        if let Some(o) = &self.principal_org_id {
            put("StringEquals", "aws:PrincipalOrgID", o);
        }
        if let Some(t) = &self.event_source_token {
            put("StringEquals", "lambda:EventSourceToken", t);
        }
        if let Some(a) = self.function_url_auth_type {
            put("StringEquals", "lambda:FunctionUrlAuthType", a.as_str());
        }
        if self.invoked_via_function_url {
            put("Bool", "lambda:InvokedViaFunctionUrl", "true");
        }
        if let Some(arn) = &self.source_arn {
            put("ArnLike", "AWS:SourceArn", arn);
        }
        Statement {
            sid: self.statement_id.clone(),
            effect: "Allow".into(),
            principal: principal_element(&self.principal).unwrap_or(Value::String("*".into())),
            action: Value::String(self.action.clone()),
            resource: Value::String(resource_arn.to_string()),
            condition: (!condition.is_empty()).then_some(condition),
        }
    }
}

impl Statement {
    /// The statement as `AddPermission` answers it (a JSON string).
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// A function policy: `{"Version":"2012-10-17","Id":"default","Statement":[...]}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct FunctionPolicyDocument {
    pub version: String,
    pub id: String,
    pub statement: Vec<Statement>,
}

impl Default for FunctionPolicyDocument {
    fn default() -> Self {
        FunctionPolicyDocument {
            version: "2012-10-17".into(),
            id: "default".into(),
            statement: Vec::new(),
        }
    }
}

impl FunctionPolicyDocument {
    /// Reads a stored policy (one this module wrote).
    pub fn parse(text: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(text)
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Adds a statement; `ResourceConflict` if its `Sid` is taken,
    /// `PolicyLengthExceeded` if the policy would pass Lambda's limit.
    pub fn add(&mut self, statement: Statement) -> Result<(), LambdaError> {
        if self.statement.iter().any(|s| s.sid == statement.sid) {
            return Err(LambdaError::ResourceConflict(format!(
                "The statement id ({}) provided already exists. Please provide a new statement id, or remove the existing statement.",
                statement.sid
            )));
        }
        self.statement.push(statement);
        let size = self.to_json().len();
        if size > MAX_POLICY_BYTES {
            self.statement.pop();
            return Err(LambdaError::PolicyLengthExceeded(format!(
                "The final policy size ({size}) is bigger than the limit ({MAX_POLICY_BYTES})."
            )));
        }
        Ok(())
    }

    /// Removes the statement `sid`; `ResourceNotFound` if there is none.
    pub fn remove(&mut self, sid: &str) -> Result<Statement, LambdaError> {
        let i = self
            .statement
            .iter()
            .position(|s| s.sid == sid)
            .ok_or_else(|| {
                LambdaError::ResourceNotFound(format!(
                    "Statement {sid} is not found in resource policy."
                ))
            })?;
        Ok(self.statement.remove(i))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn request(v: Value) -> AddPermissionRequest {
        serde_json::from_value(v).unwrap()
    }

    fn permission(v: Value) -> NewPermission {
        request(v).validate().unwrap()
    }

    const ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function:f";

    #[test]
    fn a_service_principal_with_source_conditions() {
        let p = permission(json!({
            "StatementId": "s3-invoke",
            "Action": "lambda:InvokeFunction",
            "Principal": "s3.amazonaws.com",
            "SourceArn": "arn:aws:s3:::bucket",
            "SourceAccount": "123456789012",
        }));
        assert_eq!(
            p.statement(ARN).to_json(),
            format!(
                r#"{{"Sid":"s3-invoke","Effect":"Allow","Principal":{{"Service":"s3.amazonaws.com"}},"Action":"lambda:InvokeFunction","Resource":"{ARN}","Condition":{{"ArnLike":{{"AWS:SourceArn":"arn:aws:s3:::bucket"}},"StringEquals":{{"AWS:SourceAccount":"123456789012"}}}}}}"#
            )
        );
    }

    #[test]
    fn accounts_become_root_arns_and_star_stays_a_string() {
        let account = permission(json!({
            "StatementId": "a", "Action": "lambda:*", "Principal": "111122223333"}));
        assert_eq!(
            account.statement(ARN).principal,
            json!({"AWS": "arn:aws:iam::111122223333:root"})
        );
        let role = "arn:aws:iam::111122223333:role/r";
        let by_arn = permission(json!({"StatementId": "b", "Action": "*", "Principal": role}));
        assert_eq!(by_arn.statement(ARN).principal, json!({ "AWS": role }));
        let url = permission(json!({
            "StatementId": "u", "Action": "lambda:InvokeFunctionUrl", "Principal": "*",
            "FunctionUrlAuthType": "NONE", "PrincipalOrgID": "o-abcdefghij"}));
        let st = url.statement(&format!("{ARN}:live"));
        assert_eq!(st.principal, json!("*"));
        assert_eq!(st.resource, json!(format!("{ARN}:live")));
        assert_eq!(
            serde_json::to_value(&st.condition).unwrap(),
            json!({"StringEquals": {
                "aws:PrincipalOrgID": "o-abcdefghij",
                "lambda:FunctionUrlAuthType": "NONE"}})
        );
    }

    #[test]
    fn constraints_are_validation_errors_and_bad_principals_invalid_values() {
        let e = request(json!({"Action": "lambda:InvokeFunction"}))
            .validate()
            .unwrap_err();
        assert_eq!(
            e,
            LambdaError::Validation(
                "2 validation errors detected: Value null at 'statementId' failed to satisfy constraint: Member must not be null; Value null at 'principal' failed to satisfy constraint: Member must not be null".into()
            )
        );
        for (member, body) in [
            (
                "statementId",
                json!({"StatementId": "a b", "Action": "*", "Principal": "*"}),
            ),
            (
                "action",
                json!({"StatementId": "a", "Action": "s3:GetObject", "Principal": "*"}),
            ),
            (
                "sourceAccount",
                json!({"StatementId": "a", "Action": "*", "Principal": "*", "SourceAccount": "12"}),
            ),
            (
                "principalOrgID",
                json!({"StatementId": "a", "Action": "*", "Principal": "*", "PrincipalOrgID": "org"}),
            ),
            (
                "functionUrlAuthType",
                json!({"StatementId": "a", "Action": "*", "Principal": "*", "FunctionUrlAuthType": "IAM"}),
            ),
        ] {
            match request(body).validate() {
                Err(LambdaError::Validation(m)) => assert!(m.contains(member), "{m}"),
                other => panic!("{member}: {other:?}"),
            }
        }
        let e = request(json!({"StatementId": "a", "Action": "*", "Principal": "nobody"}))
            .validate()
            .unwrap_err();
        assert!(matches!(e, LambdaError::InvalidParameterValue(_)), "{e:?}");
        assert!(serde_json::from_value::<AddPermissionRequest>(json!({"Colour": "blue"})).is_err());
    }

    #[test]
    fn the_document_keeps_order_refuses_duplicates_and_finds_statements() {
        let mut doc = FunctionPolicyDocument::default();
        let p = |sid: &str| {
            permission(
                json!({"StatementId": sid, "Action": "lambda:InvokeFunction", "Principal": "*"}),
            )
        };
        doc.add(p("one").statement(ARN)).unwrap();
        doc.add(p("two").statement(ARN)).unwrap();
        assert_eq!(
            doc.add(p("one").statement(ARN)),
            Err(LambdaError::ResourceConflict("The statement id (one) provided already exists. Please provide a new statement id, or remove the existing statement.".into()))
        );
        let text = doc.to_json();
        assert!(
            text.starts_with(
                r#"{"Version":"2012-10-17","Id":"default","Statement":[{"Sid":"one","#
            ),
            "{text}"
        );
        let mut back = FunctionPolicyDocument::parse(&text).unwrap();
        assert_eq!(back, doc);
        assert_eq!(back.remove("one").unwrap().sid, "one");
        assert_eq!(
            back.remove("one"),
            Err(LambdaError::ResourceNotFound(
                "Statement one is not found in resource policy.".into()
            ))
        );
        assert_eq!(back.statement.len(), 1);
    }

    #[test]
    fn the_policy_size_is_limited() {
        let mut doc = FunctionPolicyDocument::default();
        let mut added = 0;
        let err = loop {
            let sid = format!("statement-{added:04}-{}", "x".repeat(60));
            let st = permission(json!({"StatementId": sid, "Action": "lambda:InvokeFunction", "Principal": "s3.amazonaws.com", "SourceArn": "arn:aws:s3:::a-bucket-with-a-long-name"})).statement(ARN);
            match doc.add(st) {
                Ok(()) => added += 1,
                Err(e) => break e,
            }
        };
        assert!(
            matches!(err, LambdaError::PolicyLengthExceeded(_)),
            "{err:?}"
        );
        assert_eq!(
            doc.statement.len(),
            added,
            "the refused statement is not kept"
        );
        assert!(doc.to_json().len() <= MAX_POLICY_BYTES);
    }

    #[test]
    fn statement_ids_for_removal() {
        assert!(valid_statement_id("a.b-c_1"));
        assert!(!valid_statement_id(""));
        assert!(!valid_statement_id("a/b"));
        assert!(!valid_statement_id(&"x".repeat(101)));
    }
}
