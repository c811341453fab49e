//! The records the registry persists for functions, aliases and URL configs.
//!
//! A [`FunctionConfig`] describes one version of a function: `$LATEST`
//! (mutable) or a published number (immutable). The API layer renders these
//! into Lambda's wire shapes; the store keeps them as they are here.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::FunctionName;

pub const MIN_MEMORY_MB: u32 = 128;
pub const MAX_MEMORY_MB: u32 = 10_240;
pub const DEFAULT_MEMORY_MB: u32 = 128;
pub const MIN_TIMEOUT_S: u32 = 1;
pub const MAX_TIMEOUT_S: u32 = 900;
pub const DEFAULT_TIMEOUT_S: u32 = 3;

/// One version of a function: its code and configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FunctionConfig {
    pub name: FunctionName,
    /// `$LATEST` or a published version number.
    pub version: String,
    /// As given at creation (`wasm`, later `provided.al2023`, `python3.11`, ...).
    pub runtime: String,
    pub handler: Option<String>,
    pub role: String,
    pub description: String,
    pub memory_size: u32,
    pub timeout: u32,
    pub environment: BTreeMap<String, String>,
    /// Hex SHA-256 of the deployment package (the zip as uploaded).
    pub code_sha256: String,
    pub code_size: u64,
    /// What the runtime detected at deploy time (`http` or `command` for wasm).
    pub code_kind: String,
    pub last_modified: String,
    /// Changes on every update; `$LATEST` environments are keyed by it.
    pub revision_id: String,
    /// Reserved concurrency (PutFunctionConcurrency); kept on `$LATEST`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reserved_concurrency: Option<u32>,
    /// Provisioned concurrency per qualifier (a version or an alias); kept
    /// on `$LATEST`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub provisioned_concurrency: BTreeMap<String, u32>,
    /// `DeadLetterConfig.TargetArn`: the SQS queue (ARN) that async
    /// invocations go to when they fail for good and have no failure
    /// destination.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dead_letter_target_arn: Option<String>,
    /// `EphemeralStorage.Size`: the MB of `/tmp` the function may fill
    /// (512–10,240).
    #[serde(default = "default_ephemeral_storage")]
    pub ephemeral_storage: u32,
}

/// What `/tmp` holds when a function does not say (Lambda's default).
pub const DEFAULT_EPHEMERAL_STORAGE_MB: u32 = 512;
/// The largest `EphemeralStorage.Size` Lambda accepts.
pub const MAX_EPHEMERAL_STORAGE_MB: u32 = 10_240;

fn default_ephemeral_storage() -> u32 {
    DEFAULT_EPHEMERAL_STORAGE_MB
}

/// An alias: a name that points at a published version (or `$LATEST`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AliasConfig {
    pub function: FunctionName,
    pub name: String,
    pub function_version: String,
    pub description: String,
    pub revision_id: String,
}

/// How a function URL authenticates callers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum UrlAuthType {
    #[serde(rename = "NONE")]
    None,
    #[serde(rename = "AWS_IAM")]
    AwsIam,
}

impl UrlAuthType {
    pub fn as_str(self) -> &'static str {
        match self {
            UrlAuthType::None => "NONE",
            UrlAuthType::AwsIam => "AWS_IAM",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "NONE" => Some(UrlAuthType::None),
            "AWS_IAM" => Some(UrlAuthType::AwsIam),
            _ => None,
        }
    }
}

/// A function URL configuration, for the unqualified function or an alias.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UrlConfig {
    pub function: FunctionName,
    /// `None` for the unqualified function (`$LATEST`), else an alias name.
    pub qualifier: Option<String>,
    pub auth_type: UrlAuthType,
    /// The CORS block as given, kept verbatim.
    pub cors: Option<serde_json::Value>,
    pub invoke_mode: String,
    pub creation_time: String,
    pub last_modified_time: String,
}
