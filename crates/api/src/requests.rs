//! Request bodies of the Lambda control plane, and what they validate into.
//!
//! Every shape rejects unknown members (`deny_unknown_fields`), so a typo
//! is an error that names the field rather than a setting silently lost.
//! Each request has a `validate` that turns it into what the registry acts
//! on (parse, then execute).
//!
//! Members Lambda knows but updraft does not implement are accepted only
//! with the value that means "off" and rejected otherwise, with a message
//! saying so:
//!
//! | member                                   | handling                                           |
//! |------------------------------------------|----------------------------------------------------|
//! | `Code.ZipFile`                           | used (base64 in JSON)                              |
//! | `Code.S3Bucket/S3Key/S3ObjectVersion` | the package is read from the node's object storage (by the gateway, as the caller) |
//! | `Code.ImageUri`, `Code.SourceKMSKeyArn` | rejected: only zip packages are supported |
//! | `Tags`                                   | kept                                               |
//! | `PackageType`                            | `Zip` accepted, `Image` rejected                   |
//! | `Architectures`                          | `["x86_64"]` accepted, others rejected             |
//! | `TracingConfig.Mode`                     | `PassThrough` accepted, `Active` rejected          |
//! | `EphemeralStorage.Size`                  | 512–10,240 kept: the MB `/tmp` may hold            |
//! | `SnapStart.ApplyOn`                      | `None` accepted, `PublishedVersions` rejected      |
//! | `LoggingConfig`                          | `LogFormat: Text` and the default log group accepted; JSON, log levels, other groups rejected |
//! | `VpcConfig`, `Layers`, `FileSystemConfigs` | empty accepted, anything else rejected           |
//! | `DeadLetterConfig.TargetArn`             | an SQS queue ARN kept (async invocations that fail for good without a failure destination go there); empty clears; other ARNs (SNS) rejected |
//! | `KMSKeyArn`, `CodeSigningConfigArn`      | empty accepted, anything else rejected             |
//! | `ImageConfig`                            | rejected                                           |
//! | `RoutingConfig.AdditionalVersionWeights` | empty accepted, weights rejected                   |
//! | `InvokeMode`                             | `BUFFERED` accepted, `RESPONSE_STREAM` rejected    |

use std::collections::BTreeMap;

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use updraft_types::{
    FunctionConfig, FunctionName, FunctionRef, UrlAuthType, DEFAULT_EPHEMERAL_STORAGE_MB,
    DEFAULT_MEMORY_MB, DEFAULT_TIMEOUT_S, MAX_EPHEMERAL_STORAGE_MB,
};

use crate::validate::{self, Violations};
use crate::LambdaError;

fn unsupported(what: &str, hint: &str) -> LambdaError {
    LambdaError::InvalidParameterValue(format!("{what} is not supported by updraft: {hint}"))
}

// ---------------------------------------------------------------- shapes

/// `Code` of CreateFunction.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
pub struct FunctionCode {
    /// The deployment package, base64.
    pub zip_file: Option<String>,
    pub s3_bucket: Option<String>,
    pub s3_key: Option<String>,
    pub s3_object_version: Option<String>,
    pub image_uri: Option<String>,
    #[serde(rename = "SourceKMSKeyArn")]
    pub source_kms_key_arn: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
pub struct Environment {
    pub variables: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
pub struct TracingConfig {
    pub mode: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
pub struct EphemeralStorage {
    pub size: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
pub struct VpcConfig {
    pub subnet_ids: Option<Vec<String>>,
    pub security_group_ids: Option<Vec<String>>,
    pub ipv6_allowed_for_dual_stack: Option<bool>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
pub struct DeadLetterConfig {
    pub target_arn: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
pub struct SnapStart {
    pub apply_on: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
pub struct LoggingConfig {
    pub log_format: Option<String>,
    pub application_log_level: Option<String>,
    pub system_log_level: Option<String>,
    pub log_group: Option<String>,
}

/// `POST /2015-03-31/functions`
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
pub struct CreateFunctionRequest {
    pub function_name: Option<String>,
    pub runtime: Option<String>,
    pub role: Option<String>,
    pub handler: Option<String>,
    pub code: Option<FunctionCode>,
    pub description: Option<String>,
    pub timeout: Option<i64>,
    pub memory_size: Option<i64>,
    pub publish: Option<bool>,
    pub environment: Option<Environment>,
    pub package_type: Option<String>,
    pub architectures: Option<Vec<String>>,
    pub tags: Option<BTreeMap<String, String>>,
    pub layers: Option<Vec<String>>,
    pub tracing_config: Option<TracingConfig>,
    pub ephemeral_storage: Option<EphemeralStorage>,
    pub vpc_config: Option<VpcConfig>,
    pub dead_letter_config: Option<DeadLetterConfig>,
    #[serde(rename = "KMSKeyArn")]
    pub kms_key_arn: Option<String>,
    pub image_config: Option<serde_json::Value>,
    pub file_system_configs: Option<Vec<serde_json::Value>>,
    pub code_signing_config_arn: Option<String>,
    pub snap_start: Option<SnapStart>,
    pub logging_config: Option<LoggingConfig>,
}

/// `PUT /2015-03-31/functions/{name}/code`
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
pub struct UpdateFunctionCodeRequest {
    pub zip_file: Option<String>,
    pub s3_bucket: Option<String>,
    pub s3_key: Option<String>,
    pub s3_object_version: Option<String>,
    pub image_uri: Option<String>,
    #[serde(rename = "SourceKMSKeyArn")]
    pub source_kms_key_arn: Option<String>,
    pub publish: Option<bool>,
    pub dry_run: Option<bool>,
    pub revision_id: Option<String>,
    pub architectures: Option<Vec<String>>,
}

/// `PUT /2015-03-31/functions/{name}/configuration`
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
pub struct UpdateFunctionConfigurationRequest {
    pub role: Option<String>,
    pub handler: Option<String>,
    pub description: Option<String>,
    pub timeout: Option<i64>,
    pub memory_size: Option<i64>,
    pub environment: Option<Environment>,
    pub runtime: Option<String>,
    pub revision_id: Option<String>,
    pub layers: Option<Vec<String>>,
    pub tracing_config: Option<TracingConfig>,
    pub ephemeral_storage: Option<EphemeralStorage>,
    pub vpc_config: Option<VpcConfig>,
    pub dead_letter_config: Option<DeadLetterConfig>,
    #[serde(rename = "KMSKeyArn")]
    pub kms_key_arn: Option<String>,
    pub image_config: Option<serde_json::Value>,
    pub file_system_configs: Option<Vec<serde_json::Value>>,
    pub snap_start: Option<SnapStart>,
    pub logging_config: Option<LoggingConfig>,
}

/// `POST /2015-03-31/functions/{name}/versions`
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
pub struct PublishVersionRequest {
    /// Base64 SHA-256 the caller expects `$LATEST` to have.
    pub code_sha256: Option<String>,
    pub description: Option<String>,
    pub revision_id: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
pub struct AliasRoutingConfig {
    pub additional_version_weights: Option<BTreeMap<String, f64>>,
}

/// `POST /2015-03-31/functions/{name}/aliases`
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
pub struct CreateAliasRequest {
    pub name: Option<String>,
    pub function_version: Option<String>,
    pub description: Option<String>,
    pub routing_config: Option<AliasRoutingConfig>,
}

/// `PUT /2015-03-31/functions/{name}/aliases/{alias}`
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
pub struct UpdateAliasRequest {
    pub function_version: Option<String>,
    pub description: Option<String>,
    pub routing_config: Option<AliasRoutingConfig>,
    pub revision_id: Option<String>,
}

/// The CORS block of a function URL, kept as given.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
pub struct Cors {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allow_credentials: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allow_headers: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allow_methods: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allow_origins: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expose_headers: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_age: Option<i64>,
}

/// `POST /2021-10-31/functions/{name}/url`
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
pub struct CreateFunctionUrlConfigRequest {
    pub auth_type: Option<String>,
    pub cors: Option<Cors>,
    pub invoke_mode: Option<String>,
}

/// `PUT /2021-10-31/functions/{name}/url`
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
pub struct UpdateFunctionUrlConfigRequest {
    pub auth_type: Option<String>,
    pub cors: Option<Cors>,
    pub invoke_mode: Option<String>,
}

/// `PUT /2017-10-31/functions/{name}/concurrency`
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
pub struct PutFunctionConcurrencyRequest {
    pub reserved_concurrent_executions: Option<i64>,
}

/// `POST /2017-03-31/tags/{arn}`
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
pub struct TagResourceRequest {
    pub tags: Option<BTreeMap<String, String>>,
}

// ---------------------------------------------------------------- validated

/// A CreateFunction that passed validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewFunction {
    pub name: FunctionName,
    pub runtime: String,
    pub role: String,
    pub handler: Option<String>,
    pub description: String,
    pub memory_size: u32,
    pub timeout: u32,
    pub environment: BTreeMap<String, String>,
    /// The deployment package, decoded (at most [`validate::MAX_ZIP_BYTES`]);
    /// empty when it is to be read from `s3`.
    pub zip: Vec<u8>,
    /// Where the package is in object storage (`Code.S3Bucket`, ...), when
    /// it was not uploaded.
    pub s3: Option<S3Location>,
    pub publish: bool,
    pub tags: BTreeMap<String, String>,
    /// The dead-letter queue's ARN (`DeadLetterConfig.TargetArn`).
    pub dead_letter_target_arn: Option<String>,
    /// `EphemeralStorage.Size` in MB.
    pub ephemeral_storage: u32,
}

/// A deployment package in object storage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Location {
    pub bucket: String,
    pub key: String,
    pub version: Option<String>,
}

/// An UpdateFunctionCode that passed validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeUpdate {
    /// Empty when the package is to be read from `s3`.
    pub zip: Vec<u8>,
    pub s3: Option<S3Location>,
    pub publish: bool,
    pub dry_run: bool,
    pub revision_id: Option<String>,
}

/// An UpdateFunctionConfiguration that passed validation: the members to
/// change, `None` meaning "leave as is".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConfigUpdate {
    pub role: Option<String>,
    pub handler: Option<String>,
    pub description: Option<String>,
    pub timeout: Option<u32>,
    pub memory_size: Option<u32>,
    /// The whole new environment (Lambda replaces, never merges).
    pub environment: Option<BTreeMap<String, String>>,
    pub runtime: Option<String>,
    pub revision_id: Option<String>,
    /// `Some(None)` removes the dead-letter queue.
    pub dead_letter_target_arn: Option<Option<String>>,
    pub ephemeral_storage: Option<u32>,
}

impl ConfigUpdate {
    /// Writes the changed members into `cfg`. `LastModified` and
    /// `RevisionId` are the registry's to set.
    pub fn apply(&self, cfg: &mut FunctionConfig) {
        if let Some(role) = &self.role {
            cfg.role = role.clone();
        }
        if let Some(handler) = &self.handler {
            cfg.handler = Some(handler.clone());
        }
        if let Some(description) = &self.description {
            cfg.description = description.clone();
        }
        if let Some(timeout) = self.timeout {
            cfg.timeout = timeout;
        }
        if let Some(memory) = self.memory_size {
            cfg.memory_size = memory;
        }
        if let Some(env) = &self.environment {
            cfg.environment = env.clone();
        }
        if let Some(runtime) = &self.runtime {
            cfg.runtime = runtime.clone();
        }
        if let Some(dlq) = &self.dead_letter_target_arn {
            cfg.dead_letter_target_arn = dlq.clone();
        }
        if let Some(mb) = self.ephemeral_storage {
            cfg.ephemeral_storage = mb;
        }
    }
}

/// A PublishVersion that passed validation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewVersion {
    /// Base64 SHA-256; compare with [`crate::code_sha256_matches`].
    pub code_sha256: Option<String>,
    pub description: Option<String>,
    pub revision_id: Option<String>,
}

/// A CreateAlias that passed validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAlias {
    pub name: String,
    /// `$LATEST` or a version number.
    pub function_version: String,
    pub description: String,
}

/// An UpdateAlias that passed validation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AliasUpdate {
    pub function_version: Option<String>,
    pub description: Option<String>,
    pub revision_id: Option<String>,
}

/// A CreateFunctionUrlConfig that passed validation.
#[derive(Debug, Clone, PartialEq)]
pub struct NewUrlConfig {
    pub auth_type: UrlAuthType,
    /// The CORS block as JSON, ready for [`updraft_types::UrlConfig::cors`].
    pub cors: Option<serde_json::Value>,
    pub invoke_mode: String,
}

/// An UpdateFunctionUrlConfig that passed validation.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UrlConfigUpdate {
    pub auth_type: Option<UrlAuthType>,
    pub cors: Option<serde_json::Value>,
    pub invoke_mode: Option<String>,
}

// ---------------------------------------------------------------- checks

fn decode_zip(b64: &str) -> Result<Vec<u8>, LambdaError> {
    // Base64 is 4/3 of the bytes: refuse before decoding something huge.
    validate::zip_size(b64.len() / 4 * 3)?;
    let zip = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .map_err(|e| {
            LambdaError::InvalidParameterValue(format!("Code.ZipFile is not valid base64: {e}"))
        })?;
    validate::zip_size(zip.len())?;
    if zip.is_empty() {
        return Err(LambdaError::InvalidParameterValue(
            "Code.ZipFile is empty: upload a zip file, for example --zip-file fileb://function.zip"
                .into(),
        ));
    }
    Ok(zip)
}

/// The package a request names: an uploaded zip or an object in storage
/// (`S3Bucket` and `S3Key`, optionally `S3ObjectVersion`), never both;
/// container images and customer-managed keys are refused.
fn code_source(
    prefix: &str,
    zip_file: &Option<String>,
    s3_bucket: &Option<String>,
    s3_key: &Option<String>,
    s3_object_version: &Option<String>,
    image_uri: &Option<String>,
    source_kms_key_arn: &Option<String>,
) -> Result<(Vec<u8>, Option<S3Location>), LambdaError> {
    let unsupported = [
        ("ImageUri", image_uri),
        ("SourceKMSKeyArn", source_kms_key_arn),
    ];
    if let Some((name, _)) = unsupported.iter().find(|(_, v)| v.is_some()) {
        return Err(LambdaError::InvalidParameterValue(format!(
            "{prefix}{name} is not supported by updraft: only zip packages are supported. \
             Upload the package itself (--zip-file fileb://function.zip) or name it in \
             object storage ({prefix}S3Bucket and {prefix}S3Key)"
        )));
    }
    let named_in_s3 = s3_bucket.is_some() || s3_key.is_some() || s3_object_version.is_some();
    match (zip_file, named_in_s3) {
        (Some(_), true) => Err(LambdaError::InvalidParameterValue(
            "Please do not provide other FunctionCode parameters when providing a ZipFile.".into(),
        )),
        (Some(b64), false) => Ok((decode_zip(b64)?, None)),
        (None, true) => match (s3_bucket, s3_key) {
            (Some(bucket), Some(key)) if !bucket.is_empty() && !key.is_empty() => Ok((
                Vec::new(),
                Some(S3Location {
                    bucket: bucket.clone(),
                    key: key.clone(),
                    version: s3_object_version.clone(),
                }),
            )),
            _ => Err(LambdaError::InvalidParameterValue(format!(
                "Please provide a source for function code: {prefix}S3Bucket and {prefix}S3Key \
                 name the package together."
            ))),
        },
        (None, false) => Err(LambdaError::InvalidParameterValue(format!(
            "Please provide a source for function code: {prefix}ZipFile or {prefix}S3Bucket \
             and {prefix}S3Key."
        ))),
    }
}

fn architectures(archs: &Option<Vec<String>>) -> Result<(), LambdaError> {
    match archs.as_deref() {
        None => Ok(()),
        Some([one]) if one == "x86_64" => Ok(()),
        Some([one]) if one == "arm64" => Err(unsupported(
            "Architectures [\"arm64\"]",
            "functions run on the host's architecture and are reported as x86_64; omit Architectures",
        )),
        Some(other) => Err(LambdaError::Validation(format!(
            "1 validation error detected: Value '{other:?}' at 'architectures' failed to satisfy \
             constraint: Member must have length less than or equal to 1 and each member must \
             satisfy enum value set: [x86_64, arm64]"
        ))),
    }
}

/// `EphemeralStorage.Size` in MB, with Lambda's range check.
fn ephemeral_storage(storage: &Option<EphemeralStorage>) -> Result<Option<u32>, LambdaError> {
    let Some(s) = storage else { return Ok(None) };
    let bound = if s.size < DEFAULT_EPHEMERAL_STORAGE_MB.into() {
        format!("greater than or equal to {DEFAULT_EPHEMERAL_STORAGE_MB}")
    } else if s.size > MAX_EPHEMERAL_STORAGE_MB.into() {
        format!("less than or equal to {MAX_EPHEMERAL_STORAGE_MB}")
    } else {
        return Ok(Some(s.size as u32));
    };
    Err(LambdaError::Validation(format!(
        "1 validation error detected: Value '{}' at 'ephemeralStorage.size' failed to satisfy \
         constraint: Member must have value {bound}",
        s.size
    )))
}

/// `DeadLetterConfig`: `None` when absent, `Some(None)` when it names no
/// queue (`{}` or an empty `TargetArn`), `Some(Some(arn))` for an SQS queue.
fn dead_letter_target(
    dlq: &Option<DeadLetterConfig>,
) -> Result<Option<Option<String>>, LambdaError> {
    let Some(dlq) = dlq else { return Ok(None) };
    match dlq.target_arn.as_deref() {
        None | Some("") => Ok(Some(None)),
        Some(arn) => {
            validate::dead_letter_target_arn(arn)?;
            Ok(Some(Some(arn.to_string())))
        }
    }
}

/// The configuration members CreateFunction and UpdateFunctionConfiguration
/// share and updraft does not implement.
#[allow(clippy::too_many_arguments)]
fn unimplemented_members(
    function: Option<&str>,
    layers: &Option<Vec<String>>,
    tracing: &Option<TracingConfig>,
    vpc: &Option<VpcConfig>,
    kms: &Option<String>,
    image: &Option<serde_json::Value>,
    file_systems: &Option<Vec<serde_json::Value>>,
    snap_start: &Option<SnapStart>,
    logging: &Option<LoggingConfig>,
) -> Result<(), LambdaError> {
    if layers.as_ref().is_some_and(|l| !l.is_empty()) {
        return Err(unsupported(
            "Layers",
            "package dependencies into the deployment zip",
        ));
    }
    if let Some(mode) = tracing.as_ref().and_then(|t| t.mode.as_deref()) {
        match mode {
            "PassThrough" => {}
            "Active" => return Err(unsupported("TracingConfig Mode Active", "use PassThrough")),
            other => {
                return Err(LambdaError::Validation(format!(
                "1 validation error detected: Value '{other}' at 'tracingConfig.mode' failed to \
                     satisfy constraint: Member must satisfy enum value set: [Active, PassThrough]"
            )))
            }
        }
    }
    if let Some(vpc) = vpc {
        let used = vpc.subnet_ids.as_ref().is_some_and(|v| !v.is_empty())
            || vpc
                .security_group_ids
                .as_ref()
                .is_some_and(|v| !v.is_empty());
        if used {
            return Err(unsupported("VpcConfig", "functions use the host's network"));
        }
    }
    if kms.as_deref().is_some_and(|k| !k.is_empty()) {
        return Err(unsupported("KMSKeyArn", "omit it"));
    }
    if image.is_some() {
        return Err(unsupported(
            "ImageConfig",
            "only Zip packages are supported",
        ));
    }
    if file_systems.as_ref().is_some_and(|f| !f.is_empty()) {
        return Err(unsupported("FileSystemConfigs", "omit it"));
    }
    if let Some(apply_on) = snap_start.as_ref().and_then(|s| s.apply_on.as_deref()) {
        if apply_on != "None" {
            return Err(unsupported(
                &format!("SnapStart ApplyOn {apply_on}"),
                "cold starts are fast without it; use None",
            ));
        }
    }
    if let Some(logging) = logging {
        if let Some(format) = logging.log_format.as_deref() {
            if format != "Text" {
                return Err(unsupported(
                    &format!("LoggingConfig LogFormat {format}"),
                    "use Text",
                ));
            }
        }
        if logging.application_log_level.is_some() || logging.system_log_level.is_some() {
            return Err(unsupported(
                "LoggingConfig log levels",
                "they apply to the JSON log format only",
            ));
        }
        if let Some(group) = logging.log_group.as_deref() {
            let default = function.map(|f| format!("/aws/lambda/{f}"));
            if default.as_deref() != Some(group) {
                return Err(unsupported(
                    &format!("LoggingConfig LogGroup {group}"),
                    "logs go to /aws/lambda/<function name>",
                ));
            }
        }
    }
    Ok(())
}

/// The members CreateFunction and UpdateFunctionConfiguration share:
/// records every violation in `v`, returns the valid memory size and
/// timeout (`None` when absent or invalid).
fn check_sizing_and_text(
    v: &mut Violations,
    memory_size: Option<i64>,
    timeout: Option<i64>,
    description: Option<&str>,
    handler: Option<&str>,
) -> (Option<u32>, Option<u32>) {
    let memory_size = memory_size.and_then(|m| {
        v.range(
            m,
            "memorySize",
            updraft_types::MIN_MEMORY_MB,
            updraft_types::MAX_MEMORY_MB,
        )
    });
    let timeout = timeout.and_then(|t| {
        v.range(
            t,
            "timeout",
            updraft_types::MIN_TIMEOUT_S,
            updraft_types::MAX_TIMEOUT_S,
        )
    });
    if let Some(d) = description {
        v.max_len(d, "description", validate::MAX_DESCRIPTION_CHARS);
    }
    if let Some(h) = handler {
        validate::handler_into(h, v);
    }
    (memory_size, timeout)
}

impl CreateFunctionRequest {
    pub fn validate(self) -> Result<NewFunction, LambdaError> {
        let mut v = Violations::new();
        let name = match &self.function_name {
            None => {
                v.null("functionName");
                None
            }
            // A bare name or an unqualified (partial) ARN, as Lambda accepts.
            Some(n) => match FunctionRef::parse(n) {
                Ok(FunctionRef {
                    name,
                    qualifier: None,
                }) => Some(name),
                _ => {
                    v.add(
                        n,
                        "functionName",
                        "Member must satisfy regular expression pattern: [a-zA-Z0-9-_]{1,64}",
                    );
                    None
                }
            },
        };
        if self.role.is_none() {
            v.null("role");
        }
        if self.code.is_none() {
            v.null("code");
        }
        let (memory_size, timeout) = check_sizing_and_text(
            &mut v,
            self.memory_size,
            self.timeout,
            self.description.as_deref(),
            self.handler.as_deref(),
        );
        let environment = self
            .environment
            .and_then(|e| e.variables)
            .unwrap_or_default();
        let env_semantic = validate::environment_into(&environment, &mut v);
        v.finish()?;
        env_semantic?;

        let name = name.expect("validated");
        let code = self.code.expect("validated");
        let (zip, s3) = code_source(
            "Code.",
            &code.zip_file,
            &code.s3_bucket,
            &code.s3_key,
            &code.s3_object_version,
            &code.image_uri,
            &code.source_kms_key_arn,
        )?;
        match self.package_type.as_deref() {
            None | Some("Zip") => {}
            Some("Image") => {
                return Err(unsupported(
                    "PackageType Image",
                    "only Zip packages are supported",
                ))
            }
            Some(other) => {
                return Err(LambdaError::Validation(format!(
                    "1 validation error detected: Value '{other}' at 'packageType' failed to \
                     satisfy constraint: Member must satisfy enum value set: [Image, Zip]"
                )))
            }
        }
        architectures(&self.architectures)?;
        unimplemented_members(
            Some(name.as_str()),
            &self.layers,
            &self.tracing_config,
            &self.vpc_config,
            &self.kms_key_arn,
            &self.image_config,
            &self.file_system_configs,
            &self.snap_start,
            &self.logging_config,
        )?;
        if self
            .code_signing_config_arn
            .as_deref()
            .is_some_and(|a| !a.is_empty())
        {
            return Err(unsupported("CodeSigningConfigArn", "omit it"));
        }
        let dead_letter_target_arn = dead_letter_target(&self.dead_letter_config)?.flatten();
        let ephemeral_storage =
            ephemeral_storage(&self.ephemeral_storage)?.unwrap_or(DEFAULT_EPHEMERAL_STORAGE_MB);
        let runtime = match self.runtime {
            Some(r) if !r.is_empty() => r,
            _ => return Err(LambdaError::InvalidParameterValue(
                "Runtime is a mandatory parameter for functions created with deployment packages."
                    .into(),
            )),
        };
        Ok(NewFunction {
            name,
            runtime,
            role: self.role.expect("validated"),
            handler: self.handler,
            description: self.description.unwrap_or_default(),
            memory_size: memory_size.unwrap_or(DEFAULT_MEMORY_MB),
            timeout: timeout.unwrap_or(DEFAULT_TIMEOUT_S),
            environment,
            zip,
            s3,
            publish: self.publish.unwrap_or(false),
            tags: self.tags.unwrap_or_default(),
            dead_letter_target_arn,
            ephemeral_storage,
        })
    }
}

impl UpdateFunctionCodeRequest {
    pub fn validate(self) -> Result<CodeUpdate, LambdaError> {
        let (zip, s3) = code_source(
            "",
            &self.zip_file,
            &self.s3_bucket,
            &self.s3_key,
            &self.s3_object_version,
            &self.image_uri,
            &self.source_kms_key_arn,
        )?;
        architectures(&self.architectures)?;
        Ok(CodeUpdate {
            zip,
            s3,
            publish: self.publish.unwrap_or(false),
            dry_run: self.dry_run.unwrap_or(false),
            revision_id: self.revision_id,
        })
    }
}

impl UpdateFunctionConfigurationRequest {
    /// `function` is the name from the path (to check a `LoggingConfig.LogGroup`).
    pub fn validate(self, function: &FunctionName) -> Result<ConfigUpdate, LambdaError> {
        let mut v = Violations::new();
        let (memory_size, timeout) = check_sizing_and_text(
            &mut v,
            self.memory_size,
            self.timeout,
            self.description.as_deref(),
            self.handler.as_deref(),
        );
        let environment = self.environment.map(|e| e.variables.unwrap_or_default());
        let env_semantic = match &environment {
            Some(env) => validate::environment_into(env, &mut v),
            None => Ok(()),
        };
        v.finish()?;
        env_semantic?;
        unimplemented_members(
            Some(function.as_str()),
            &self.layers,
            &self.tracing_config,
            &self.vpc_config,
            &self.kms_key_arn,
            &self.image_config,
            &self.file_system_configs,
            &self.snap_start,
            &self.logging_config,
        )?;
        if self.runtime.as_deref() == Some("") {
            return Err(LambdaError::InvalidParameterValue(
                "Runtime must not be empty.".into(),
            ));
        }
        let dead_letter_target_arn = dead_letter_target(&self.dead_letter_config)?;
        let ephemeral_storage = ephemeral_storage(&self.ephemeral_storage)?;
        Ok(ConfigUpdate {
            role: self.role,
            handler: self.handler,
            description: self.description,
            timeout,
            memory_size,
            environment,
            runtime: self.runtime,
            revision_id: self.revision_id,
            dead_letter_target_arn,
            ephemeral_storage,
        })
    }
}

impl PublishVersionRequest {
    pub fn validate(self) -> Result<NewVersion, LambdaError> {
        if let Some(d) = &self.description {
            validate::description(d)?;
        }
        Ok(NewVersion {
            code_sha256: self.code_sha256,
            description: self.description,
            revision_id: self.revision_id,
        })
    }
}

fn no_weights(routing: &Option<AliasRoutingConfig>) -> Result<(), LambdaError> {
    let weighted = routing
        .as_ref()
        .and_then(|r| r.additional_version_weights.as_ref())
        .is_some_and(|w| !w.is_empty());
    if weighted {
        return Err(unsupported(
            "RoutingConfig AdditionalVersionWeights (weighted aliases)",
            "an alias points at exactly one version; omit RoutingConfig",
        ));
    }
    Ok(())
}

impl CreateAliasRequest {
    pub fn validate(self) -> Result<NewAlias, LambdaError> {
        let mut v = Violations::new();
        match &self.name {
            None => v.null("name"),
            Some(n) => validate::alias_name_into(n, &mut v),
        }
        match &self.function_version {
            None => v.null("functionVersion"),
            Some(fv) => validate::function_version_into(fv, &mut v),
        }
        if let Some(d) = &self.description {
            v.max_len(d, "description", validate::MAX_DESCRIPTION_CHARS);
        }
        v.finish()?;
        no_weights(&self.routing_config)?;
        Ok(NewAlias {
            name: self.name.expect("validated"),
            function_version: self.function_version.expect("validated"),
            description: self.description.unwrap_or_default(),
        })
    }
}

impl UpdateAliasRequest {
    pub fn validate(self) -> Result<AliasUpdate, LambdaError> {
        let mut v = Violations::new();
        if let Some(fv) = &self.function_version {
            validate::function_version_into(fv, &mut v);
        }
        if let Some(d) = &self.description {
            v.max_len(d, "description", validate::MAX_DESCRIPTION_CHARS);
        }
        v.finish()?;
        no_weights(&self.routing_config)?;
        Ok(AliasUpdate {
            function_version: self.function_version,
            description: self.description,
            revision_id: self.revision_id,
        })
    }
}

fn auth_type(value: &str) -> Result<UrlAuthType, LambdaError> {
    UrlAuthType::parse(value).ok_or_else(|| {
        LambdaError::Validation(format!(
            "1 validation error detected: Value '{value}' at 'authType' failed to satisfy \
             constraint: Member must satisfy enum value set: [NONE, AWS_IAM]"
        ))
    })
}

fn invoke_mode(value: &str) -> Result<String, LambdaError> {
    match value {
        "BUFFERED" => Ok(value.to_string()),
        "RESPONSE_STREAM" => Err(unsupported(
            "InvokeMode RESPONSE_STREAM",
            "function URLs return buffered responses; use BUFFERED",
        )),
        other => Err(LambdaError::Validation(format!(
            "1 validation error detected: Value '{other}' at 'invokeMode' failed to satisfy \
             constraint: Member must satisfy enum value set: [BUFFERED, RESPONSE_STREAM]"
        ))),
    }
}

fn cors(value: Option<Cors>) -> Result<Option<serde_json::Value>, LambdaError> {
    let Some(c) = value else { return Ok(None) };
    let mut v = Violations::new();
    if let Some(age) = c.max_age {
        v.range(age, "cors.maxAge", 0, 86_400);
    }
    for m in c.allow_methods.iter().flatten() {
        if m.is_empty() || m.len() > 6 {
            v.add(
                m,
                "cors.allowMethods",
                "Member must have length less than or equal to 6",
            );
        }
    }
    v.finish()?;
    serde_json::to_value(&c)
        .map(Some)
        .map_err(|e| LambdaError::Service(format!("cannot store Cors: {e}")))
}

impl CreateFunctionUrlConfigRequest {
    pub fn validate(self) -> Result<NewUrlConfig, LambdaError> {
        let Some(auth) = self.auth_type.as_deref() else {
            let mut v = Violations::new();
            v.null("authType");
            return Err(v.finish().expect_err("a null member is a violation"));
        };
        let auth_type = auth_type(auth)?;
        Ok(NewUrlConfig {
            auth_type,
            cors: cors(self.cors)?,
            invoke_mode: invoke_mode(self.invoke_mode.as_deref().unwrap_or("BUFFERED"))?,
        })
    }
}

impl UpdateFunctionUrlConfigRequest {
    pub fn validate(self) -> Result<UrlConfigUpdate, LambdaError> {
        Ok(UrlConfigUpdate {
            auth_type: self.auth_type.as_deref().map(auth_type).transpose()?,
            cors: cors(self.cors)?,
            invoke_mode: self.invoke_mode.as_deref().map(invoke_mode).transpose()?,
        })
    }
}

impl PutFunctionConcurrencyRequest {
    /// The reserved concurrency, 0 or more.
    pub fn validate(self) -> Result<u32, LambdaError> {
        let mut v = Violations::new();
        let value = match self.reserved_concurrent_executions {
            None => {
                v.null("reservedConcurrentExecutions");
                None
            }
            Some(n) => v.range(n, "reservedConcurrentExecutions", 0, u32::MAX),
        };
        v.finish()?;
        Ok(value.expect("validated"))
    }
}

impl TagResourceRequest {
    pub fn validate(self) -> Result<BTreeMap<String, String>, LambdaError> {
        let tags = self.tags.unwrap_or_default();
        let mut v = Violations::new();
        for (k, val) in &tags {
            if k.is_empty() || k.chars().count() > 128 {
                v.add(k, "tags", "Map keys must have length between 1 and 128");
            }
            v.max_len(val, "tags", 256);
        }
        v.finish()?;
        Ok(tags)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DLQ: &str = "arn:aws:sqs:us-east-1:000000000000:dlq";

    fn create(dlq: serde_json::Value) -> Result<NewFunction, LambdaError> {
        crate::parse_json::<CreateFunctionRequest>(
            serde_json::json!({
                "FunctionName": "f", "Runtime": "wasm", "Role": "arn:aws:iam::000000000000:role/r",
                "Code": {"ZipFile": "UEsFBgAAAAAAAAAAAAAAAAAAAAAAAA=="},
                "DeadLetterConfig": dlq,
            })
            .to_string()
            .as_bytes(),
        )?
        .validate()
    }

    fn update(body: &str) -> Result<ConfigUpdate, LambdaError> {
        crate::parse_json::<UpdateFunctionConfigurationRequest>(body.as_bytes())?
            .validate(&FunctionName::new("f").unwrap())
    }

    #[test]
    fn a_dead_letter_queue_is_kept_and_other_targets_are_rejected() {
        let f = create(serde_json::json!({"TargetArn": DLQ})).unwrap();
        assert_eq!(f.dead_letter_target_arn.as_deref(), Some(DLQ));
        assert_eq!(
            create(serde_json::json!({}))
                .unwrap()
                .dead_letter_target_arn,
            None
        );
        let sns = create(serde_json::json!({"TargetArn": "arn:aws:sns:us-east-1:000000000000:t"}))
            .unwrap_err();
        assert_eq!(sns.error_type(), "InvalidParameterValueException");
        assert!(sns
            .to_string()
            .contains("only SQS dead-letter queues are supported"));
    }

    #[test]
    fn an_update_sets_keeps_or_clears_the_dead_letter_queue() {
        let set = update(&format!(
            r#"{{"DeadLetterConfig":{{"TargetArn":"{DLQ}"}}}}"#
        ))
        .unwrap();
        assert_eq!(set.dead_letter_target_arn, Some(Some(DLQ.to_string())));
        assert_eq!(
            update(r#"{"Timeout":5}"#).unwrap().dead_letter_target_arn,
            None
        );
        let clear = update(r#"{"DeadLetterConfig":{"TargetArn":""}}"#).unwrap();
        assert_eq!(clear.dead_letter_target_arn, Some(None));
    }
}
