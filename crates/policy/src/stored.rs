//! Resource policies as services store and show them: the document's and
//! each statement's members in the order AWS writes them, statements of
//! other shapes kept exactly as they were given. For the services that
//! edit policies statement by statement (SQS `AddPermission`, EventBridge
//! `PutPermission`); validation and evaluation are [`crate::PolicyDocument`]'s.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A policy document with its members in the usual order; statements are
/// kept as they were given.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct StoredDocument {
    pub version: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<Value>,
    #[serde(deserialize_with = "one_or_many")]
    pub statement: Vec<StoredStatement>,
}

fn one_or_many<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<StoredStatement>, D::Error> {
    let items = match Value::deserialize(d)? {
        Value::Array(items) => items,
        other => vec![other],
    };
    Ok(items.into_iter().map(StoredStatement::from_value).collect())
}

/// A statement as stored: in the usual member order when it has only the
/// usual members, otherwise as it was given.
#[derive(Serialize)]
#[serde(untagged)]
pub enum StoredStatement {
    Usual(UsualStatement),
    Other(Value),
}

/// A statement of the usual members, in the order AWS writes them.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct UsualStatement {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    pub effect: Value,
    pub principal: Value,
    pub action: Value,
    pub resource: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub condition: Option<Value>,
}

impl StoredStatement {
    /// A statement read from JSON: usual when it has only the usual members.
    pub fn from_value(v: Value) -> StoredStatement {
        match serde_json::from_value::<UsualStatement>(v.clone()) {
            Ok(u) => StoredStatement::Usual(u),
            Err(_) => StoredStatement::Other(v),
        }
    }

    /// The statement's `Sid`, if it has one.
    pub fn sid(&self) -> Option<&str> {
        match self {
            StoredStatement::Usual(u) => u.sid.as_deref(),
            StoredStatement::Other(v) => v.get("Sid").and_then(Value::as_str),
        }
    }
}
