//! Registry records rendered into Lambda's response shapes.
//!
//! Members updraft has no setting for are rendered with the value that
//! describes how it behaves (`TracingConfig: PassThrough`, 512 MB of
//! ephemeral storage, `State: Active`, ...), so clients that read them get
//! a truthful answer.

use std::collections::BTreeMap;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde_json::{json, Map, Value};
use updraft_types::{Account, AliasConfig, FunctionConfig, UrlConfig, LATEST};

/// Lambda's `CodeSha256`: base64 of the digest bytes. `hex` is how the
/// registry keeps it; a value that is not hex is returned unchanged.
pub fn code_sha256_base64(hex: &str) -> String {
    match hex::decode(hex) {
        Ok(bytes) => STANDARD.encode(bytes),
        Err(_) => hex.to_string(),
    }
}

/// Whether a client's `CodeSha256` (base64, or hex) names the digest `hex`.
pub fn code_sha256_matches(given: &str, hex: &str) -> bool {
    given == code_sha256_base64(hex) || given.eq_ignore_ascii_case(hex)
}

/// The ARN a configuration is reported under: published versions always
/// qualified, `$LATEST` qualified only where Lambda does (version lists).
fn config_arn(cfg: &FunctionConfig, account: &Account, qualify_latest: bool) -> String {
    if cfg.version == LATEST && !qualify_latest {
        account.function_arn(&cfg.name)
    } else {
        account.qualified_arn(&cfg.name, &cfg.version)
    }
}

fn configuration(cfg: &FunctionConfig, account: &Account, qualify_latest: bool) -> Value {
    let mut out = Map::new();
    let mut put = |k: &str, v: Value| {
        out.insert(k.to_string(), v);
    };
    put("FunctionName", json!(cfg.name.as_str()));
    put(
        "FunctionArn",
        json!(config_arn(cfg, account, qualify_latest)),
    );
    put("Runtime", json!(cfg.runtime));
    put("Role", json!(cfg.role));
    if let Some(handler) = &cfg.handler {
        put("Handler", json!(handler));
    }
    put("CodeSize", json!(cfg.code_size));
    put("Description", json!(cfg.description));
    put("Timeout", json!(cfg.timeout));
    put("MemorySize", json!(cfg.memory_size));
    put("LastModified", json!(cfg.last_modified));
    put("CodeSha256", json!(code_sha256_base64(&cfg.code_sha256)));
    put("Version", json!(cfg.version));
    if !cfg.environment.is_empty() {
        put("Environment", json!({ "Variables": cfg.environment }));
    }
    if let Some(arn) = &cfg.dead_letter_target_arn {
        put("DeadLetterConfig", json!({ "TargetArn": arn }));
    }
    put("TracingConfig", json!({"Mode": "PassThrough"}));
    put("RevisionId", json!(cfg.revision_id));
    put("State", json!("Active"));
    put("LastUpdateStatus", json!("Successful"));
    put("PackageType", json!("Zip"));
    put("Architectures", json!(["x86_64"]));
    put("EphemeralStorage", json!({"Size": cfg.ephemeral_storage}));
    put(
        "SnapStart",
        json!({"ApplyOn": "None", "OptimizationStatus": "Off"}),
    );
    put(
        "LoggingConfig",
        json!({"LogFormat": "Text", "LogGroup": format!("/aws/lambda/{}", cfg.name)}),
    );
    Value::Object(out)
}

/// `FunctionConfiguration`, as CreateFunction, GetFunctionConfiguration,
/// UpdateFunction* and PublishVersion return it.
pub fn function_configuration(cfg: &FunctionConfig, account: &Account) -> Value {
    configuration(cfg, account, false)
}

/// GetFunction: the configuration, where to download the code, the tags
/// (omitted when `None`) and the reserved concurrency (omitted when `None`).
pub fn get_function(
    cfg: &FunctionConfig,
    account: &Account,
    code_location: &str,
    tags: Option<&BTreeMap<String, String>>,
    reserved_concurrency: Option<u32>,
) -> Value {
    let mut out = json!({
        "Configuration": function_configuration(cfg, account),
        "Code": {"RepositoryType": "S3", "Location": code_location},
    });
    if let Some(tags) = tags {
        out["Tags"] = json!(tags);
    }
    if let Some(n) = reserved_concurrency {
        out["Concurrency"] = json!({"ReservedConcurrentExecutions": n});
    }
    out
}

fn with_marker(mut out: Value, next_marker: Option<String>) -> Value {
    if let Some(m) = next_marker {
        out["NextMarker"] = json!(m);
    }
    out
}

/// ListFunctions: `{Functions: [...], NextMarker?}`.
pub fn list_functions(
    items: &[FunctionConfig],
    account: &Account,
    next_marker: Option<String>,
) -> Value {
    let functions: Vec<Value> = items
        .iter()
        .map(|c| function_configuration(c, account))
        .collect();
    with_marker(json!({ "Functions": functions }), next_marker)
}

/// ListVersionsByFunction: `{Versions: [...], NextMarker?}`; here `$LATEST`
/// is reported under its qualified ARN, as Lambda does.
pub fn list_versions(
    items: &[FunctionConfig],
    account: &Account,
    next_marker: Option<String>,
) -> Value {
    let versions: Vec<Value> = items
        .iter()
        .map(|c| configuration(c, account, true))
        .collect();
    with_marker(json!({ "Versions": versions }), next_marker)
}

/// `AliasConfiguration`.
pub fn alias(a: &AliasConfig, account: &Account) -> Value {
    json!({
        "AliasArn": account.qualified_arn(&a.function, &a.name),
        "Name": a.name,
        "FunctionVersion": a.function_version,
        "Description": a.description,
        "RevisionId": a.revision_id,
    })
}

/// ListAliases: `{Aliases: [...], NextMarker?}`.
pub fn list_aliases(
    items: &[AliasConfig],
    account: &Account,
    next_marker: Option<String>,
) -> Value {
    let aliases: Vec<Value> = items.iter().map(|a| alias(a, account)).collect();
    with_marker(json!({ "Aliases": aliases }), next_marker)
}

/// A function URL configuration; `function_url` is the public URL the
/// gateway serves it at (ending in `/`).
pub fn url_config(u: &UrlConfig, account: &Account, function_url: &str) -> Value {
    let arn = match &u.qualifier {
        Some(q) => account.qualified_arn(&u.function, q),
        None => account.function_arn(&u.function),
    };
    let mut out = json!({
        "FunctionUrl": function_url,
        "FunctionArn": arn,
        "AuthType": u.auth_type.as_str(),
        "CreationTime": u.creation_time,
        "LastModifiedTime": u.last_modified_time,
        "InvokeMode": u.invoke_mode,
    });
    if let Some(cors) = &u.cors {
        out["Cors"] = cors.clone();
    }
    out
}

/// ListFunctionUrlConfigs: `{FunctionUrlConfigs: [...], NextMarker?}`;
/// each item paired with its public URL.
pub fn list_url_configs(
    items: &[(UrlConfig, String)],
    account: &Account,
    next_marker: Option<String>,
) -> Value {
    let configs: Vec<Value> = items
        .iter()
        .map(|(u, url)| url_config(u, account, url))
        .collect();
    with_marker(json!({ "FunctionUrlConfigs": configs }), next_marker)
}

/// PutFunctionConcurrency / GetFunctionConcurrency.
pub fn concurrency(reserved: Option<u32>) -> Value {
    match reserved {
        Some(n) => json!({"ReservedConcurrentExecutions": n}),
        None => json!({}),
    }
}

/// ListTags: `{Tags: {...}}`.
pub fn tags(tags: &BTreeMap<String, String>) -> Value {
    json!({ "Tags": tags })
}
