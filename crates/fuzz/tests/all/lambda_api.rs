//! Every JSON request shape of the Lambda API (`updraft_api`): the body
//! through `parse_json` into its request struct, then `validate()`.
//!
//! Corpus files are request bodies named `<expect>-<Operation>-<what>.json`.
//!
//! Properties: no body makes either step panic; every refusal is a 4xx
//! (never a 500) with an exception name and a message, and renders as
//! Lambda's JSON error body; a well-formed CreateFunction validates and
//! keeps what it was given.

use std::collections::BTreeMap;

use base64::Engine as _;
use proptest::prelude::*;
use updraft_api::{
    parse_json, AddPermissionRequest, CreateAliasRequest, CreateFunctionRequest,
    CreateFunctionUrlConfigRequest, LambdaError, PublishVersionRequest,
    PutFunctionConcurrencyRequest, TagResourceRequest, UpdateAliasRequest,
    UpdateFunctionCodeRequest, UpdateFunctionConfigurationRequest, UpdateFunctionUrlConfigRequest,
};
use updraft_fuzz::{
    assert_message, bytes, config, corpus, corpus_bytes, escape, mutated, shaped, watched, Expect,
};
use updraft_types::FunctionName;

const TARGET: &str = "lambda_api";

/// Each operation with a JSON body, and its members (see
/// `updraft_fuzz::shaped` for the `:type` suffixes).
const OPERATIONS: &[(&str, &[&str])] = &[
    (
        "CreateFunction",
        &[
            "FunctionName:s",
            "Runtime:s",
            "Role:s",
            "Handler:s",
            "Code:v",
            "Code.ZipFile:s",
            "Code.S3Bucket:s",
            "Code.S3Key:s",
            "Code.S3ObjectVersion:s",
            "Code.ImageUri:s",
            "Code.SourceKMSKeyArn:s",
            "Description:s",
            "Timeout:i",
            "MemorySize:i",
            "Publish:b",
            "Environment.Variables:m",
            "PackageType:s",
            "Architectures:a",
            "Tags:m",
            "Layers:a",
            "TracingConfig.Mode:s",
            "EphemeralStorage.Size:i",
            "VpcConfig.SubnetIds:a",
            "VpcConfig.SecurityGroupIds:a",
            "VpcConfig.Ipv6AllowedForDualStack:b",
            "DeadLetterConfig.TargetArn:s",
            "KMSKeyArn:s",
            "ImageConfig:v",
            "FileSystemConfigs:v",
            "CodeSigningConfigArn:s",
            "SnapStart.ApplyOn:s",
            "LoggingConfig.LogFormat:s",
            "LoggingConfig.ApplicationLogLevel:s",
            "LoggingConfig.SystemLogLevel:s",
            "LoggingConfig.LogGroup:s",
        ],
    ),
    (
        "UpdateFunctionCode",
        &[
            "ZipFile:s",
            "S3Bucket:s",
            "S3Key:s",
            "S3ObjectVersion:s",
            "ImageUri:s",
            "SourceKMSKeyArn:s",
            "Publish:b",
            "DryRun:b",
            "RevisionId:s",
            "Architectures:a",
        ],
    ),
    (
        "UpdateFunctionConfiguration",
        &[
            "Role:s",
            "Handler:s",
            "Description:s",
            "Timeout:i",
            "MemorySize:i",
            "Environment.Variables:m",
            "Runtime:s",
            "RevisionId:s",
            "Layers:a",
            "TracingConfig.Mode:s",
            "EphemeralStorage.Size:i",
            "VpcConfig.SubnetIds:a",
            "DeadLetterConfig.TargetArn:s",
            "KMSKeyArn:s",
            "ImageConfig:v",
            "FileSystemConfigs:v",
            "SnapStart.ApplyOn:s",
            "LoggingConfig.LogFormat:s",
            "LoggingConfig.LogGroup:s",
        ],
    ),
    (
        "PublishVersion",
        &["CodeSha256:s", "Description:s", "RevisionId:s"],
    ),
    (
        "CreateAlias",
        &[
            "Name:s",
            "FunctionVersion:s",
            "Description:s",
            "RoutingConfig.AdditionalVersionWeights:v",
            "RoutingConfig.AdditionalVersionWeights.2:i",
        ],
    ),
    (
        "UpdateAlias",
        &[
            "FunctionVersion:s",
            "Description:s",
            "RevisionId:s",
            "RoutingConfig.AdditionalVersionWeights:v",
            "RoutingConfig.AdditionalVersionWeights.2:i",
        ],
    ),
    (
        "CreateFunctionUrlConfig",
        &[
            "AuthType:s",
            "InvokeMode:s",
            "Cors:v",
            "Cors.AllowCredentials:b",
            "Cors.AllowHeaders:a",
            "Cors.AllowMethods:a",
            "Cors.AllowOrigins:a",
            "Cors.ExposeHeaders:a",
            "Cors.MaxAge:i",
        ],
    ),
    (
        "UpdateFunctionUrlConfig",
        &[
            "AuthType:s",
            "InvokeMode:s",
            "Cors.AllowMethods:a",
            "Cors.MaxAge:i",
        ],
    ),
    (
        "PutFunctionConcurrency",
        &["ReservedConcurrentExecutions:i"],
    ),
    ("TagResource", &["Tags:m", "Tags.team:s"]),
    (
        "AddPermission",
        &[
            "StatementId:s",
            "Action:s",
            "Principal:s",
            "SourceArn:s",
            "SourceAccount:s",
            "EventSourceToken:s",
            "RevisionId:s",
            "PrincipalOrgID:s",
            "FunctionUrlAuthType:s",
            "InvokedViaFunctionUrl:b",
        ],
    ),
];

/// Parses and validates `body` as `operation`'s request.
fn run(operation: &str, body: &[u8]) -> Result<(), LambdaError> {
    let function = FunctionName::new("my-function").expect("a valid name");
    match operation {
        "CreateFunction" => parse_json::<CreateFunctionRequest>(body)?
            .validate()
            .map(drop),
        "UpdateFunctionCode" => parse_json::<UpdateFunctionCodeRequest>(body)?
            .validate()
            .map(drop),
        "UpdateFunctionConfiguration" => parse_json::<UpdateFunctionConfigurationRequest>(body)?
            .validate(&function)
            .map(drop),
        "PublishVersion" => parse_json::<PublishVersionRequest>(body)?
            .validate()
            .map(drop),
        "CreateAlias" => parse_json::<CreateAliasRequest>(body)?.validate().map(drop),
        "UpdateAlias" => parse_json::<UpdateAliasRequest>(body)?.validate().map(drop),
        "CreateFunctionUrlConfig" => parse_json::<CreateFunctionUrlConfigRequest>(body)?
            .validate()
            .map(drop),
        "UpdateFunctionUrlConfig" => parse_json::<UpdateFunctionUrlConfigRequest>(body)?
            .validate()
            .map(drop),
        "PutFunctionConcurrency" => parse_json::<PutFunctionConcurrencyRequest>(body)?
            .validate()
            .map(drop),
        "TagResource" => parse_json::<TagResourceRequest>(body)?.validate().map(drop),
        "AddPermission" => parse_json::<AddPermissionRequest>(body)?
            .validate()
            .map(drop),
        other => panic!("no operation {other}"),
    }
}

/// The oracle: no panic, and a refusal is a client error that renders.
fn check(operation: &str, body: &[u8]) -> Result<(), LambdaError> {
    let result = watched(TARGET, body, || run(operation, body));
    if let Err(e) = &result {
        assert_message(operation, body, &e.to_string());
        assert!(
            e.status().is_client_error(),
            "{operation}: {e:?} is not a 4xx, for {}",
            escape(body)
        );
        assert!(e.error_type().ends_with("Exception"), "{e:?}");
        let (status, headers, rendered) = e.clone().into_parts();
        assert_eq!(status, e.status());
        assert!(headers.contains_key(updraft_api::ERROR_TYPE_HEADER));
        let json: serde_json::Value = serde_json::from_slice(&rendered).unwrap_or_else(|err| {
            panic!("{operation}: error body is not JSON ({err}): {rendered:?}")
        });
        assert!(json.is_object(), "{json}");
    }
    result
}

fn check_all(body: &[u8]) {
    for (operation, _) in OPERATIONS {
        let _ = check(operation, body);
    }
}

#[test]
fn corpus_replays() {
    for seed in corpus(TARGET) {
        let operation = seed.name.split('-').nth(1).unwrap_or_default();
        assert!(
            OPERATIONS.iter().any(|(op, _)| *op == operation),
            "{}: name it <expect>-<Operation>-<what>.json",
            seed.name
        );
        let result = check(operation, &seed.bytes);
        match seed.expect() {
            Expect::Valid => assert!(result.is_ok(), "{}: {result:?}", seed.name),
            Expect::Invalid => assert!(result.is_err(), "{}: accepted", seed.name),
            Expect::Any => {}
        }
        check_all(&seed.bytes);
    }
}

/// A shaped body for one operation.
fn shaped_request() -> impl Strategy<Value = (&'static str, String)> {
    prop::sample::select(OPERATIONS)
        .prop_flat_map(|(operation, paths)| shaped(paths).prop_map(move |body| (operation, body)))
}

/// The fields of a CreateFunction that Lambda accepts.
#[derive(Debug, Clone)]
struct ValidCreate {
    name: String,
    runtime: String,
    memory: i64,
    timeout: i64,
    zip: Vec<u8>,
    environment: BTreeMap<String, String>,
    description: String,
    handler: String,
}

fn valid_create() -> impl Strategy<Value = ValidCreate> {
    let key = "[a-zA-Z][a-zA-Z0-9_]{1,12}".prop_filter("reserved", |k| {
        !k.starts_with("AWS_") && !updraft_api::validate::RESERVED_ENV_KEYS.contains(&k.as_str())
    });
    (
        "[a-zA-Z0-9_-]{1,64}",
        "[a-z0-9.]{1,20}",
        128i64..=10_240,
        1i64..=900,
        prop::collection::vec(any::<u8>(), 1..512),
        prop::collection::btree_map(key, "\\PC{0,20}", 0..6),
        "\\PC{0,256}",
        "[!-~]{1,128}",
    )
        .prop_map(
            |(name, runtime, memory, timeout, zip, environment, description, handler)| {
                ValidCreate {
                    name,
                    runtime,
                    memory,
                    timeout,
                    zip,
                    environment,
                    description,
                    handler,
                }
            },
        )
}

proptest! {
    #![proptest_config(config(1))]

    #[test]
    fn random_bytes_are_refused_cleanly(body in bytes(256)) {
        check_all(&body);
    }

    #[test]
    fn mutated_bodies_are_refused_cleanly(body in mutated(corpus_bytes(TARGET, ".json"))) {
        check_all(&body);
    }

    #[test]
    fn hostile_members_are_refused_cleanly((operation, body) in shaped_request()) {
        let _ = check(operation, body.as_bytes());
    }

    #[test]
    fn a_valid_create_function_keeps_its_fields(f in valid_create()) {
        let body = serde_json::json!({
            "FunctionName": f.name,
            "Runtime": f.runtime,
            "Role": "arn:aws:iam::000000000000:role/r",
            "Handler": f.handler,
            "Code": {"ZipFile": base64::engine::general_purpose::STANDARD.encode(&f.zip)},
            "MemorySize": f.memory,
            "Timeout": f.timeout,
            "Description": f.description,
            "Environment": {"Variables": f.environment},
        })
        .to_string();
        let created = watched(TARGET, body.as_bytes(), || {
            parse_json::<CreateFunctionRequest>(body.as_bytes()).and_then(|r| r.validate())
        });
        let created = match created {
            Ok(c) => c,
            Err(e) => return Err(TestCaseError::fail(format!("{body}: {e}"))),
        };
        prop_assert_eq!(created.name.as_str(), f.name.as_str());
        prop_assert_eq!(&created.runtime, &f.runtime);
        prop_assert_eq!(i64::from(created.memory_size), f.memory);
        prop_assert_eq!(i64::from(created.timeout), f.timeout);
        prop_assert_eq!(&created.zip, &f.zip);
        prop_assert_eq!(&created.environment, &f.environment);
        prop_assert_eq!(&created.description, &f.description);
        prop_assert_eq!(created.handler.as_deref(), Some(f.handler.as_str()));
    }
}
