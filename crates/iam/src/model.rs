//! The directory's records: accounts, users, groups, roles, managed
//! policies, access keys and sessions, as they are kept in memory and
//! stored (one JSON row per record).
//!
//! Policy documents are kept both as the text the caller sent (what the
//! API returns) and parsed (what evaluation uses); a stored record holds
//! only the text and is parsed again when loaded (a document validation
//! refuses by then denies everything rather than keep the directory shut).

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use updraft_policy::{MalformedPolicy, PolicyDocument, PolicyKind};

/// A policy document: its text and its parsed form.
#[derive(Debug, Clone)]
pub(crate) struct Doc {
    pub text: String,
    pub parsed: Arc<PolicyDocument>,
}

/// What a stored document that no longer passes validation evaluates as:
/// nothing is allowed through it and everything it covers is denied.
const DENY_ALL: &str =
    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"*","Resource":"*"}]}"#;
const DENY_ALL_TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":"*","Action":"sts:AssumeRole"}]}"#;

impl Doc {
    pub fn parse(text: &str, kind: PolicyKind) -> Result<Doc, MalformedPolicy> {
        let parsed = PolicyDocument::parse(text, kind)?;
        Ok(Doc {
            text: text.to_string(),
            parsed: Arc::new(parsed),
        })
    }

    /// A stored document, read back. One that validation refuses now (it
    /// was accepted when written) keeps its text, so the API still shows
    /// it, and evaluates as a deny of everything: the directory opens, and
    /// the principals it belongs to are refused until it is replaced.
    fn load(text: String, kind: PolicyKind) -> Result<Doc, String> {
        match PolicyDocument::parse(&text, kind) {
            Ok(parsed) => Ok(Doc {
                text,
                parsed: Arc::new(parsed),
            }),
            Err(e) => {
                tracing::warn!(error = %e, "a stored policy document no longer validates; it denies everything until replaced");
                let fallback = if kind == PolicyKind::Trust {
                    DENY_ALL_TRUST
                } else {
                    DENY_ALL
                };
                let parsed = PolicyDocument::parse(fallback, kind).map_err(|e| e.0)?;
                Ok(Doc {
                    text,
                    parsed: Arc::new(parsed),
                })
            }
        }
    }
}

impl Serialize for Doc {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for Doc {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Doc, D::Error> {
        Doc::load(String::deserialize(d)?, PolicyKind::Identity).map_err(serde::de::Error::custom)
    }
}

/// Serde for timestamps: RFC 3339 text.
pub(crate) mod ts {
    use super::*;

    pub fn serialize<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&t.to_rfc3339())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        let text = String::deserialize(d)?;
        DateTime::parse_from_rfc3339(&text)
            .map(|t| t.with_timezone(&Utc))
            .map_err(serde::de::Error::custom)
    }
}

/// Serde for a trust policy (parsed as [`PolicyKind::Trust`]).
pub(crate) mod trust_doc {
    use super::*;

    pub fn serialize<S: Serializer>(doc: &Doc, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&doc.text)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Doc, D::Error> {
        Doc::load(String::deserialize(d)?, PolicyKind::Trust).map_err(serde::de::Error::custom)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct Tag {
    pub key: String,
    pub value: String,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub enum KeyStatus {
    Active,
    Inactive,
}

impl KeyStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyStatus::Active => "Active",
            KeyStatus::Inactive => "Inactive",
        }
    }
}

/// A long-term access key (a user's or an account's root key).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct AccessKey {
    pub id: String,
    pub secret: String,
    pub status: KeyStatus,
    #[serde(with = "ts")]
    pub created: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct AccountRec {
    pub id: String,
    #[serde(with = "ts")]
    pub created: DateTime<Utc>,
    #[serde(default)]
    pub root_keys: Vec<AccessKey>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct User {
    pub path: String,
    pub name: String,
    pub id: String,
    pub arn: String,
    #[serde(with = "ts")]
    pub created: DateTime<Utc>,
    #[serde(default)]
    pub tags: Vec<Tag>,
    #[serde(default)]
    pub boundary: Option<String>,
    #[serde(default)]
    pub inline: BTreeMap<String, Doc>,
    /// Managed policy ARNs, in attachment order.
    #[serde(default)]
    pub attached: Vec<String>,
    /// Names of the groups the user is in.
    #[serde(default)]
    pub groups: Vec<String>,
    #[serde(default)]
    pub keys: Vec<AccessKey>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Group {
    pub path: String,
    pub name: String,
    pub id: String,
    pub arn: String,
    #[serde(with = "ts")]
    pub created: DateTime<Utc>,
    #[serde(default)]
    pub inline: BTreeMap<String, Doc>,
    #[serde(default)]
    pub attached: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Role {
    pub path: String,
    pub name: String,
    pub id: String,
    pub arn: String,
    #[serde(with = "ts")]
    pub created: DateTime<Utc>,
    #[serde(with = "trust_doc")]
    pub trust: Doc,
    pub max_session: u32,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub tags: Vec<Tag>,
    #[serde(default)]
    pub boundary: Option<String>,
    #[serde(default)]
    pub inline: BTreeMap<String, Doc>,
    #[serde(default)]
    pub attached: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct PolicyVersion {
    pub id: String,
    pub doc: Doc,
    #[serde(with = "ts")]
    pub created: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ManagedPolicy {
    pub path: String,
    pub name: String,
    pub id: String,
    pub arn: String,
    #[serde(with = "ts")]
    pub created: DateTime<Utc>,
    #[serde(with = "ts")]
    pub updated: DateTime<Utc>,
    #[serde(default)]
    pub description: Option<String>,
    pub versions: Vec<PolicyVersion>,
    pub default_version: String,
    /// The number the next version gets (`v{n}`).
    pub next_version: u32,
    #[serde(default)]
    pub tags: Vec<Tag>,
}

impl ManagedPolicy {
    pub fn default_doc(&self) -> Option<&Doc> {
        self.versions
            .iter()
            .find(|v| v.id == self.default_version)
            .map(|v| &v.doc)
    }
}

/// Who a session acts as.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) enum SessionOf {
    Role {
        role_name: String,
        role_arn: String,
        role_id: String,
        session_name: String,
    },
    /// GetSessionToken by a user (the id tells a user from a later one of
    /// the same name).
    User { user_name: String, user_id: String },
    /// GetSessionToken with a root key.
    Root,
}

/// Temporary credentials issued by STS.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Session {
    pub key_id: String,
    pub secret: String,
    pub token: String,
    #[serde(with = "ts")]
    pub expiration: DateTime<Utc>,
    pub account: String,
    pub of: SessionOf,
    #[serde(default)]
    pub policy: Option<Doc>,
    /// The access key the session was requested with (empty for sessions
    /// the platform issued for a service).
    #[serde(default)]
    pub source_key: String,
}
