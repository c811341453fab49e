//! Event bus resource policies: EventBridge's `PutPermission` and
//! `RemovePermission`, and the parsed policy the authorizer reads.
//!
//! `PutPermission` either replaces the whole policy (`Policy`) or adds a
//! statement for an account (or `*`) to put events on the bus, as
//! EventBridge writes it:
//!
//! ```text
//! {"Sid": ID, "Effect": "Allow",
//!  "Principal": {"AWS": "arn:aws:iam::ACCOUNT:root"} | "*",
//!  "Action": "events:PutEvents", "Resource": BUS_ARN,
//!  "Condition": {"StringEquals": {"aws:PrincipalOrgID": ORG}}}
//! ```
//!
//! A statement with the same id is replaced. The policy is validated as
//! a resource policy before it is stored with the bus; a bus whose last
//! statement is removed has no policy.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use updraft_policy::stored::{
    StoredDocument as Document, StoredStatement as Stored, UsualStatement as Usual,
};
use updraft_policy::{PolicyDocument, PolicyKind};
use updraft_store::EventWrite;

use crate::model::{BUS_KIND, DEFAULT_BUS};
use crate::{now_ms, Bus, BusError};

/// `PutPermission`'s `Condition`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct PermissionCondition {
    pub r#type: String,
    pub key: String,
    pub value: String,
}

/// What `PutPermission` takes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Permission {
    /// A bus name; `None` is the default bus.
    pub bus: Option<String>,
    pub action: Option<String>,
    pub principal: Option<String>,
    pub statement_id: Option<String>,
    pub condition: Option<PermissionCondition>,
    /// A whole policy, instead of the members above.
    pub policy: Option<String>,
}

/// Parses a stored policy; one that no longer parses is logged and grants
/// nothing.
pub(crate) fn parse(bus: &str, text: &str) -> Option<Arc<PolicyDocument>> {
    match PolicyDocument::parse(text, PolicyKind::Resource) {
        Ok(d) => Some(Arc::new(d)),
        Err(e) => {
            tracing::error!(%bus, error = %e, "stored event bus policy does not parse; ignored");
            None
        }
    }
}

/// Validates a policy for storing.
fn check(text: &str) -> Result<Arc<PolicyDocument>, BusError> {
    PolicyDocument::parse(text, PolicyKind::Resource)
        .map(Arc::new)
        .map_err(|e| BusError::Validation(format!("The policy is not valid: {e}")))
}

fn read(text: &str) -> Result<Document, BusError> {
    serde_json::from_str(text)
        .map_err(|e| BusError::Internal(format!("stored event bus policy does not read: {e}")))
}

fn render<T: Serialize>(value: &T) -> Result<String, BusError> {
    serde_json::to_string(value).map_err(|e| BusError::Internal(e.to_string()))
}

impl Bus {
    /// The parsed resource policy of bus `name`; `None` when it has none
    /// or does not exist. For the authorizer: a read lock and an `Arc`
    /// clone.
    pub fn policy(&self, name: &str) -> Option<Arc<PolicyDocument>> {
        self.read().policies.get(name).cloned()
    }

    /// The statement `PutPermission`'s members describe.
    fn statement(&self, bus: &str, p: &Permission) -> Result<Usual, BusError> {
        let action = p.action.as_deref().unwrap_or_default();
        if action != "events:PutEvents" {
            return Err(BusError::Validation(
                "Provided value in parameter 'action' is not supported.".into(),
            ));
        }
        let principal = p
            .principal
            .as_deref()
            .ok_or_else(|| BusError::Validation("Parameter Principal must be specified.".into()))?;
        let account = principal.len() == 12 && principal.chars().all(|c| c.is_ascii_digit());
        if !account && principal != "*" {
            return Err(BusError::Validation(format!(
                "1 validation error detected: Value '{principal}' at 'principal' failed to satisfy constraint: Member must satisfy regular expression pattern: (\\d{{12}}|\\*)"
            )));
        }
        let sid = p.statement_id.as_deref().unwrap_or_default();
        if sid.is_empty()
            || sid.len() > 64
            || !sid
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(BusError::Validation(format!(
                "1 validation error detected: Value '{sid}' at 'statementId' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9-_]+"
            )));
        }
        let condition = match &p.condition {
            None => None,
            Some(c) => {
                if principal != "*" {
                    return Err(BusError::Validation(
                        "Value of the parameter 'principal' must be '*' when the parameter 'condition' is set.".into(),
                    ));
                }
                if c.r#type != "StringEquals" || c.key != "aws:PrincipalOrgID" {
                    return Err(BusError::Validation(
                        "Condition must have Type StringEquals and Key aws:PrincipalOrgID.".into(),
                    ));
                }
                Some(serde_json::json!({ "StringEquals": { "aws:PrincipalOrgID": c.value } }))
            }
        };
        let principal = if account {
            serde_json::json!({ "AWS": format!("arn:aws:iam::{principal}:root") })
        } else {
            Value::from("*")
        };
        Ok(Usual {
            sid: Some(sid.to_string()),
            effect: Value::from("Allow"),
            principal,
            action: Value::from(action),
            resource: Value::from(self.bus_arn(bus)),
            condition,
        })
    }

    /// EventBridge `PutPermission`.
    pub async fn put_permission(&self, p: Permission) -> Result<(), BusError> {
        let _w = self.writes.lock().await;
        let name = self.bus_name(p.bus.as_deref())?;
        let text = match &p.policy {
            Some(policy) => policy.clone(),
            None => {
                let statement = self.statement(&name, &p)?;
                let current = self.read().buses.get(&name).and_then(|b| b.policy.clone());
                let mut document = match current {
                    Some(text) => read(&text)?,
                    None => Document {
                        version: Value::from("2012-10-17"),
                        id: None,
                        statement: Vec::new(),
                    },
                };
                document
                    .statement
                    .retain(|s| s.sid() != statement.sid.as_deref());
                document.statement.push(Stored::Usual(statement));
                render(&document)?
            }
        };
        self.set_policy(&name, Some(text)).await
    }

    /// EventBridge `RemovePermission`: one statement, or with
    /// `remove_all` the whole policy.
    pub async fn remove_permission(
        &self,
        bus: Option<&str>,
        statement_id: Option<&str>,
        remove_all: bool,
    ) -> Result<(), BusError> {
        let _w = self.writes.lock().await;
        let name = self.bus_name(bus)?;
        if remove_all {
            return self.set_policy(&name, None).await;
        }
        let sid = statement_id.ok_or_else(|| {
            BusError::Validation("Parameter StatementId must be specified.".into())
        })?;
        let current = self.read().buses.get(&name).and_then(|b| b.policy.clone());
        let text =
            current.ok_or_else(|| BusError::NotFound("EventBus does not have a policy.".into()))?;
        let mut document = read(&text)?;
        let before = document.statement.len();
        document.statement.retain(|s| s.sid() != Some(sid));
        if document.statement.len() == before {
            return Err(BusError::NotFound(
                "Statement with the provided id does not exist.".into(),
            ));
        }
        let text = if document.statement.is_empty() {
            None
        } else {
            Some(render(&document)?)
        };
        self.set_policy(&name, text).await
    }

    /// Validates, stores and applies a bus's policy (`None` removes it).
    /// The caller holds the write lock.
    async fn set_policy(&self, name: &str, policy: Option<String>) -> Result<(), BusError> {
        let parsed = policy.as_deref().map(check).transpose()?;
        let mut bus = self
            .read()
            .buses
            .get(name)
            .cloned()
            .ok_or_else(|| BusError::NoSuchBus(name.to_string()))?;
        bus.policy = policy;
        if name != DEFAULT_BUS {
            bus.modified_ms = Some(now_ms());
        }
        let write = if name == DEFAULT_BUS && bus.policy.is_none() {
            EventWrite::DeleteResource {
                kind: BUS_KIND.into(),
                key: name.into(),
            }
        } else {
            EventWrite::PutResource {
                kind: BUS_KIND.into(),
                key: name.into(),
                value: render(&bus)?,
            }
        };
        self.queues.commit(vec![write]).await?;
        let mut state = self.write();
        state.buses.insert(name.to_string(), bus);
        match parsed {
            Some(p) => state.policies.insert(name.to_string(), p),
            None => state.policies.remove(name),
        };
        Ok(())
    }
}
