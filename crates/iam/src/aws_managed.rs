//! The AWS-managed policies the directory knows (`arn:aws:iam::aws:policy/...`):
//! readable and attachable in every account, never changed.

use std::sync::OnceLock;

use chrono::{DateTime, TimeZone, Utc};
use updraft_policy::PolicyKind;

use crate::model::{Doc, ManagedPolicy, PolicyVersion};

/// `Allow * on *`.
pub(crate) const ALLOW_ALL: &str =
    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;

/// (name, policy id, description, document) as AWS publishes them.
const KNOWN: &[(&str, &str, &str, &str)] = &[(
    "AdministratorAccess",
    "ANPAIWMBCKSKIEE64ZLYK",
    "Provides full access to AWS services and resources.",
    ALLOW_ALL,
)];

fn published() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2015, 2, 6, 18, 39, 46)
        .single()
        .unwrap_or_default()
}

/// Every known AWS-managed policy.
pub(crate) fn all() -> &'static [ManagedPolicy] {
    static POLICIES: OnceLock<Vec<ManagedPolicy>> = OnceLock::new();
    POLICIES.get_or_init(|| {
        KNOWN
            .iter()
            .filter_map(|(name, id, description, text)| {
                let doc = Doc::parse(text, PolicyKind::Identity).ok()?;
                Some(ManagedPolicy {
                    path: "/".into(),
                    name: name.to_string(),
                    id: id.to_string(),
                    arn: format!("arn:aws:iam::aws:policy/{name}"),
                    created: published(),
                    updated: published(),
                    description: Some(description.to_string()),
                    versions: vec![PolicyVersion {
                        id: "v1".into(),
                        doc,
                        created: published(),
                    }],
                    default_version: "v1".into(),
                    next_version: 2,
                    tags: Vec::new(),
                })
            })
            .collect()
    })
}

/// The AWS-managed policy with this ARN.
pub(crate) fn policy(arn: &str) -> Option<&'static ManagedPolicy> {
    all().iter().find(|p| p.arn == arn)
}
