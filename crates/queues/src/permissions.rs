//! Queue access policies: the `Policy` attribute and SQS's
//! `AddPermission` / `RemovePermission`.
//!
//! A policy is validated as a resource policy
//! ([`PolicyDocument::parse`]) before it is stored in the queue's config;
//! the parsed document lives beside the queue ([`Queues::policy`]) and is
//! parsed again only when the policy changes or the queues are loaded.
//!
//! `AddPermission` adds a statement as SQS writes it, to the queue's
//! policy (created as `{"Version":"2012-10-17","Id":"ARN/SQSDefaultPolicy",
//! "Statement":[...]}` when there is none):
//!
//! ```text
//! {"Sid": LABEL, "Effect": "Allow",
//!  "Principal": {"AWS": "arn:aws:iam::ACCOUNT:root" | [...]},
//!  "Action": "SQS:ACTION" | [...], "Resource": QUEUE_ARN}
//! ```
//!
//! `RemovePermission` removes the statement whose `Sid` is the label; the
//! policy goes with its last statement.

use std::sync::Arc;

use serde_json::Value;
use updraft_policy::stored::{
    StoredDocument as Document, StoredStatement as Stored, UsualStatement as Usual,
};
use updraft_policy::{PolicyDocument, PolicyKind};

use crate::{QueueError, Queues};

/// The actions `AddPermission` may grant (others are the owner's only).
const GRANTABLE: &[&str] = &[
    "*",
    "ChangeMessageVisibility",
    "DeleteMessage",
    "GetQueueAttributes",
    "GetQueueUrl",
    "ListDeadLetterSourceQueues",
    "PurgeQueue",
    "ReceiveMessage",
    "SendMessage",
];

/// The most actions one `AddPermission` may name.
const MAX_ACTIONS: usize = 7;

/// Checks a `Policy` attribute: empty removes the policy; anything else
/// must be a valid resource policy (`InvalidAttributeValue` otherwise).
pub(crate) fn check_policy(value: &str) -> Result<Option<String>, QueueError> {
    if value.trim().is_empty() {
        return Ok(None);
    }
    PolicyDocument::parse(value, PolicyKind::Resource)
        .map_err(|_| QueueError::InvalidAttributeValue("Policy".into()))?;
    Ok(Some(value.to_owned()))
}

/// Parses a stored policy; one that no longer parses is logged and grants
/// nothing.
pub(crate) fn parse(queue: &str, text: &str) -> Option<Arc<PolicyDocument>> {
    match PolicyDocument::parse(text, PolicyKind::Resource) {
        Ok(d) => Some(Arc::new(d)),
        Err(e) => {
            tracing::error!(%queue, error = %e, "stored queue policy does not parse; ignored");
            None
        }
    }
}

/// One value alone, several as a list (as SQS writes them).
fn one_or_list(mut items: Vec<String>) -> Value {
    if items.len() == 1 {
        Value::String(items.remove(0))
    } else {
        Value::from(items)
    }
}

fn invalid_label(label: &str, reason: &str) -> QueueError {
    QueueError::InvalidParameterValue(format!(
        "Value {label} for parameter Label is invalid. Reason: {reason}"
    ))
}

fn read(text: &str) -> Result<Document, QueueError> {
    serde_json::from_str(text)
        .map_err(|e| QueueError::Internal(format!("stored queue policy does not read: {e}")))
}

fn render(document: &Document) -> Result<String, QueueError> {
    serde_json::to_string(document).map_err(|e| QueueError::Internal(e.to_string()))
}

impl Queues {
    /// The parsed access policy of an SQS queue; `None` when the queue has
    /// none, or does not exist, or is internal. For the authorizer.
    pub fn policy(&self, name: &str) -> Option<Arc<PolicyDocument>> {
        self.queue(name).ok().filter(|q| !q.internal)?.policy()
    }

    /// An SQS queue's tags (what `aws:ResourceTag/KEY` conditions read);
    /// empty for missing and internal queues.
    pub fn tags(&self, name: &str) -> Vec<(String, String)> {
        match self.queue(name).ok().filter(|q| !q.internal) {
            Some(q) => q
                .lock()
                .config
                .tags
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            None => Vec::new(),
        }
    }

    /// SQS `AddPermission`: grants `actions` on queue `name` to the root
    /// of each account in `accounts`, in a statement whose `Sid` is
    /// `label`.
    pub async fn add_permission(
        &self,
        name: &str,
        label: &str,
        accounts: &[String],
        actions: &[String],
    ) -> Result<(), QueueError> {
        let _admin = self.admin.lock().await;
        let mut config = self.get_queue(name).ok_or(QueueError::NonExistentQueue)?;
        if label.is_empty() {
            return Err(QueueError::MissingParameter(
                "The request must contain the parameter Label.".into(),
            ));
        }
        if label.len() > 80
            || !label
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(invalid_label(
                label,
                "Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length",
            ));
        }
        let arn = self.arn(name);
        let mut document = match &config.policy {
            Some(text) => read(text)?,
            None => Document {
                version: Value::from("2012-10-17"),
                id: Some(Value::from(format!("{arn}/SQSDefaultPolicy"))),
                statement: Vec::new(),
            },
        };
        if document.statement.iter().any(|s| s.sid() == Some(label)) {
            return Err(invalid_label(label, "Already exists."));
        }
        if actions.is_empty() {
            return Err(QueueError::MissingParameter(
                "The request must contain the parameter Actions.".into(),
            ));
        }
        let valid_account = |a: &String| a.len() == 12 && a.chars().all(|c| c.is_ascii_digit());
        if accounts.is_empty() || !accounts.iter().all(valid_account) {
            return Err(QueueError::InvalidParameterValue(format!(
                "Value [{}] for parameter PrincipalId is invalid. Reason: Unable to verify.",
                accounts.join(", ")
            )));
        }
        if actions.len() > MAX_ACTIONS {
            return Err(QueueError::OverLimit(format!(
                "{} Actions were found, maximum allowed is {MAX_ACTIONS}.",
                actions.len()
            )));
        }
        if let Some(bad) = actions.iter().find(|a| !GRANTABLE.contains(&a.as_str())) {
            return Err(QueueError::InvalidParameterValue(format!(
                "Value SQS:{bad} for parameter ActionName is invalid. Reason: Only the queue owner is allowed to invoke this action."
            )));
        }
        document.statement.push(Stored::Usual(Usual {
            sid: Some(label.to_owned()),
            effect: Value::from("Allow"),
            principal: serde_json::json!({ "AWS": one_or_list(
                accounts.iter().map(|a| format!("arn:aws:iam::{a}:root")).collect()
            ) }),
            action: one_or_list(actions.iter().map(|a| format!("SQS:{a}")).collect()),
            resource: Value::from(arn),
            condition: None,
        }));
        let text = render(&document)?;
        config.policy = check_policy(&text)?;
        self.replace_config(config).await
    }

    /// SQS `RemovePermission`: removes the statement whose `Sid` is
    /// `label` from queue `name`'s policy.
    pub async fn remove_permission(&self, name: &str, label: &str) -> Result<(), QueueError> {
        let _admin = self.admin.lock().await;
        let mut config = self.get_queue(name).ok_or(QueueError::NonExistentQueue)?;
        if label.is_empty() {
            return Err(QueueError::MissingParameter(
                "The request must contain the parameter Label.".into(),
            ));
        }
        let not_found = || invalid_label(label, "can't find label on existing policy.");
        let mut document = read(config.policy.as_deref().ok_or_else(not_found)?)?;
        let before = document.statement.len();
        document.statement.retain(|s| s.sid() != Some(label));
        if document.statement.len() == before {
            return Err(not_found());
        }
        config.policy = if document.statement.is_empty() {
            None
        } else {
            check_policy(&render(&document)?)?
        };
        self.replace_config(config).await
    }
}
