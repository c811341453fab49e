//! The wire shapes as clients see them: parsing, validation and rendering.

use std::collections::BTreeMap;

use serde_json::{json, Value};
use updraft_api::*;
use updraft_types::{Account, AliasConfig, FunctionConfig, FunctionName, UrlAuthType, UrlConfig};

fn config(version: &str) -> FunctionConfig {
    FunctionConfig {
        name: FunctionName::new("hello").unwrap(),
        version: version.into(),
        runtime: "wasm".into(),
        handler: Some("index.handler".into()),
        role: "arn:aws:iam::000000000000:role/lambda".into(),
        description: "says hello".into(),
        memory_size: 256,
        timeout: 30,
        environment: BTreeMap::from([("GREETING".to_string(), "hi".to_string())]),
        code_sha256: "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824".into(),
        code_size: 1234,
        code_kind: "http".into(),
        last_modified: "2026-11-26T18:15:28.123+0000".into(),
        revision_id: "0b7c1b1e-2f4e-4f59-9f3c-6a0c2f1d1e11".into(),
        reserved_concurrency: None,
        provisioned_concurrency: Default::default(),
        dead_letter_target_arn: None,
        ephemeral_storage: 512,
    }
}

fn golden(name: &str, actual: &Value) {
    let path = format!("{}/tests/golden/{name}.json", env!("CARGO_MANIFEST_DIR"));
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, serde_json::to_string_pretty(actual).unwrap() + "\n").unwrap();
    }
    let expected: Value = serde_json::from_str(
        &std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}")),
    )
    .unwrap();
    assert_eq!(
        actual,
        &expected,
        "{name} differs from its golden file:\n{}",
        serde_json::to_string_pretty(actual).unwrap()
    );
}

#[test]
fn function_configuration_matches_golden() {
    let account = Account::default();
    golden(
        "function_configuration",
        &function_configuration(&config("$LATEST"), &account),
    );
}

#[test]
fn published_versions_have_qualified_arns_and_latest_only_in_lists() {
    let account = Account::default();
    let v3 = function_configuration(&config("3"), &account);
    assert_eq!(
        v3["FunctionArn"],
        "arn:aws:lambda:us-east-1:000000000000:function:hello:3"
    );
    let latest = function_configuration(&config("$LATEST"), &account);
    assert_eq!(
        latest["FunctionArn"],
        "arn:aws:lambda:us-east-1:000000000000:function:hello"
    );
    let versions = list_versions(&[config("$LATEST"), config("3")], &account, None);
    assert_eq!(
        versions["Versions"][0]["FunctionArn"],
        "arn:aws:lambda:us-east-1:000000000000:function:hello:$LATEST"
    );
    assert!(versions.get("NextMarker").is_none());
}

#[test]
fn code_sha256_is_base64_of_the_digest() {
    let hex = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";
    assert_eq!(
        code_sha256_base64(hex),
        "LPJNul+wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ="
    );
    assert!(code_sha256_matches(
        "LPJNul+wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ=",
        hex
    ));
    assert!(!code_sha256_matches("AAAA", hex));
}

#[test]
fn empty_environment_and_missing_handler_are_omitted() {
    let mut cfg = config("$LATEST");
    cfg.environment.clear();
    cfg.handler = None;
    let out = function_configuration(&cfg, &Account::default());
    assert!(out.get("Environment").is_none());
    assert!(out.get("Handler").is_none());
}

#[test]
fn get_function_and_lists() {
    let account = Account::default();
    let tags = BTreeMap::from([("team".to_string(), "core".to_string())]);
    let out = get_function(
        &config("$LATEST"),
        &account,
        "http://127.0.0.1:9001/code/hello.zip",
        Some(&tags),
        Some(5),
    );
    assert_eq!(
        out["Code"],
        json!({"RepositoryType": "S3", "Location": "http://127.0.0.1:9001/code/hello.zip"})
    );
    assert_eq!(out["Configuration"]["FunctionName"], "hello");
    assert_eq!(out["Tags"], json!({"team": "core"}));
    assert_eq!(
        out["Concurrency"],
        json!({"ReservedConcurrentExecutions": 5})
    );
    let bare = get_function(&config("$LATEST"), &account, "x", None, None);
    assert!(bare.get("Tags").is_none() && bare.get("Concurrency").is_none());

    let list = list_functions(&[config("$LATEST")], &account, Some("abc".into()));
    assert_eq!(list["Functions"].as_array().unwrap().len(), 1);
    assert_eq!(list["NextMarker"], "abc");
}

#[test]
fn aliases_and_url_configs_render() {
    let account = Account::default();
    let a = AliasConfig {
        function: FunctionName::new("hello").unwrap(),
        name: "live".into(),
        function_version: "3".into(),
        description: "".into(),
        revision_id: "r1".into(),
    };
    assert_eq!(
        alias(&a, &account),
        json!({
            "AliasArn": "arn:aws:lambda:us-east-1:000000000000:function:hello:live",
            "Name": "live", "FunctionVersion": "3", "Description": "", "RevisionId": "r1"
        })
    );
    assert_eq!(
        list_aliases(&[a], &account, None)["Aliases"][0]["Name"],
        "live"
    );

    let u = UrlConfig {
        function: FunctionName::new("hello").unwrap(),
        qualifier: None,
        auth_type: UrlAuthType::None,
        cors: Some(json!({"AllowOrigins": ["*"]})),
        invoke_mode: "BUFFERED".into(),
        creation_time: "2026-11-26T18:15:28.123Z".into(),
        last_modified_time: "2026-11-26T18:15:28.123Z".into(),
    };
    assert_eq!(
        url_config(&u, &account, "http://127.0.0.1:9001/fn/hello/"),
        json!({
            "FunctionUrl": "http://127.0.0.1:9001/fn/hello/",
            "FunctionArn": "arn:aws:lambda:us-east-1:000000000000:function:hello",
            "AuthType": "NONE",
            "Cors": {"AllowOrigins": ["*"]},
            "CreationTime": "2026-11-26T18:15:28.123Z",
            "LastModifiedTime": "2026-11-26T18:15:28.123Z",
            "InvokeMode": "BUFFERED"
        })
    );
}

// ------------------------------------------------------------ parsing

fn parse_err<T: serde::de::DeserializeOwned + std::fmt::Debug>(body: &str) -> LambdaError {
    parse_json::<T>(body.as_bytes()).unwrap_err()
}

#[test]
fn unknown_fields_are_named() {
    let err = parse_err::<CreateFunctionRequest>(r#"{"FunctionName":"f","Foo":1}"#);
    assert_eq!(err.error_type(), "InvalidRequestContentException");
    assert_eq!(err.status().as_u16(), 400);
    let msg = err.to_string();
    assert!(
        msg.starts_with("Could not parse request body into json: "),
        "{msg}"
    );
    assert!(msg.contains("unknown field `Foo`"), "{msg}");

    let msg = parse_err::<CreateFunctionRequest>(r#"{"Code":{"ZipFile":"","S3Buckett":"b"}}"#)
        .to_string();
    assert!(
        msg.contains("unknown field `Code.S3Buckett`, expected one of `ZipFile`"),
        "names the member by its path: {msg}"
    );
}

#[test]
fn wrong_types_name_the_field() {
    let msg =
        parse_err::<CreateFunctionRequest>(r#"{"FunctionName":"f","Timeout":"x"}"#).to_string();
    assert!(msg.contains("field `Timeout`"), "{msg}");
    assert!(msg.contains("invalid type: string \"x\""), "{msg}");

    let msg =
        parse_err::<UpdateFunctionConfigurationRequest>(r#"{"Environment":{"Variables":{"A":1}}}"#)
            .to_string();
    assert!(msg.contains("field `Environment.Variables.A`"), "{msg}");
}

#[test]
fn malformed_and_empty_bodies() {
    let err = parse_err::<PublishVersionRequest>("{not json");
    assert_eq!(err.error_type(), "InvalidRequestContentException");
    let err = parse_err::<PublishVersionRequest>("{} {}");
    assert!(err.to_string().contains("trailing characters"), "{err}");
    assert_eq!(
        parse_json::<PublishVersionRequest>(b"").unwrap(),
        PublishVersionRequest::default()
    );
}

// ------------------------------------------------------------ validation

fn create(body: Value) -> Result<NewFunction, LambdaError> {
    parse_json::<CreateFunctionRequest>(body.to_string().as_bytes())?.validate()
}

fn minimal() -> Value {
    json!({
        "FunctionName": "hello",
        "Runtime": "wasm",
        "Role": "arn:aws:iam::000000000000:role/r",
        "Handler": "h",
        "Code": {"ZipFile": "UEsDBA=="}
    })
}

#[test]
fn create_function_as_the_cli_sends_it() {
    let f = create(minimal()).unwrap();
    assert_eq!(f.name.as_str(), "hello");
    assert_eq!(f.zip, b"PK\x03\x04");
    assert_eq!((f.memory_size, f.timeout), (128, 3));
    assert!(!f.publish);

    let mut body = minimal();
    body["MemorySize"] = json!(512);
    body["Timeout"] = json!(60);
    body["Publish"] = json!(true);
    body["Environment"] = json!({"Variables": {"A1": "x"}});
    body["Tags"] = json!({"team": "core"});
    body["PackageType"] = json!("Zip");
    body["Architectures"] = json!(["x86_64"]);
    body["TracingConfig"] = json!({"Mode": "PassThrough"});
    body["EphemeralStorage"] = json!({"Size": 2048});
    body["VpcConfig"] = json!({"SubnetIds": [], "SecurityGroupIds": []});
    body["LoggingConfig"] = json!({"LogFormat": "Text", "LogGroup": "/aws/lambda/hello"});
    body["FunctionName"] = json!("arn:aws:lambda:us-east-1:000000000000:function:hello");
    let f = create(body).unwrap();
    assert_eq!(f.name.as_str(), "hello");
    assert_eq!((f.memory_size, f.timeout, f.publish), (512, 60, true));
    assert_eq!(f.environment["A1"], "x");
    assert_eq!(f.tags["team"], "core");
    assert_eq!(f.ephemeral_storage, 2048);
    assert_eq!(create(minimal()).unwrap().ephemeral_storage, 512);
}

#[test]
fn ephemeral_storage_outside_512_to_10240_is_a_validation_error() {
    for (size, bound) in [
        (511, "greater than or equal to 512"),
        (10_241, "less than or equal to 10240"),
    ] {
        let mut body = minimal();
        body["EphemeralStorage"] = json!({ "Size": size });
        let err = create(body).unwrap_err();
        assert_eq!(err.error_type(), "ValidationException");
        assert_eq!(
            err.to_string(),
            format!(
                "1 validation error detected: Value '{size}' at 'ephemeralStorage.size' \
                 failed to satisfy constraint: Member must have value {bound}"
            )
        );
    }
}

#[test]
fn create_function_constraint_violations() {
    let mut body = minimal();
    body["MemorySize"] = json!(64);
    body["Timeout"] = json!(0);
    let err = create(body).unwrap_err();
    assert_eq!(err.error_type(), "ValidationException");
    assert!(err
        .to_string()
        .starts_with("2 validation errors detected: Value '64' at 'memorySize'"));

    let mut body = minimal();
    body.as_object_mut().unwrap().remove("Role");
    body["FunctionName"] = json!("bad/name");
    let msg = create(body).unwrap_err().to_string();
    assert!(msg.contains("Value 'bad/name' at 'functionName'"), "{msg}");
    assert!(msg.contains("Value null at 'role'"), "{msg}");
}

#[test]
fn unsupported_members_are_rejected_clearly() {
    let cases = [
        (
            "Code",
            json!({"ImageUri": "x"}),
            "Code.ImageUri is not supported by updraft: only zip packages are supported",
        ),
        ("PackageType", json!("Image"), "PackageType Image"),
        (
            "Layers",
            json!(["arn:aws:lambda:us-east-1:1:layer:x:1"]),
            "Layers",
        ),
        ("TracingConfig", json!({"Mode": "Active"}), "Active"),
        ("VpcConfig", json!({"SubnetIds": ["s"]}), "VpcConfig"),
        (
            "DeadLetterConfig",
            json!({"TargetArn": "arn:aws:sns:us-east-1:000000000000:topic"}),
            "only SQS dead-letter queues are supported",
        ),
        ("KMSKeyArn", json!("arn:k"), "KMSKeyArn"),
        ("ImageConfig", json!({"Command": ["x"]}), "ImageConfig"),
        (
            "FileSystemConfigs",
            json!([{"Arn": "a", "LocalMountPath": "/mnt/x"}]),
            "FileSystemConfigs",
        ),
        (
            "CodeSigningConfigArn",
            json!("arn:c"),
            "CodeSigningConfigArn",
        ),
        (
            "SnapStart",
            json!({"ApplyOn": "PublishedVersions"}),
            "SnapStart",
        ),
        (
            "LoggingConfig",
            json!({"LogFormat": "JSON"}),
            "LogFormat JSON",
        ),
        ("Architectures", json!(["arm64"]), "arm64"),
    ];
    for (member, value, expected) in cases {
        let mut body = minimal();
        body[member] = value;
        let err = create(body).unwrap_err();
        assert_eq!(
            err.error_type(),
            "InvalidParameterValueException",
            "{member}: {err}"
        );
        assert!(err.to_string().contains(expected), "{member}: {err}");
    }
}

#[test]
fn bad_code_is_rejected() {
    let mut body = minimal();
    body["Code"] = json!({"ZipFile": "not base64!"});
    assert!(create(body).unwrap_err().to_string().contains("base64"));
    let mut body = minimal();
    body["Code"] = json!({});
    assert!(create(body).unwrap_err().to_string().contains("ZipFile"));
}

#[test]
fn update_configuration_applies_only_what_changed() {
    let name = FunctionName::new("hello").unwrap();
    let update = parse_json::<UpdateFunctionConfigurationRequest>(
        br#"{"MemorySize":1024,"Environment":{"Variables":{"B2":"y"}},"RevisionId":"r"}"#,
    )
    .unwrap()
    .validate(&name)
    .unwrap();
    assert_eq!(update.revision_id.as_deref(), Some("r"));
    let mut cfg = config("$LATEST");
    update.apply(&mut cfg);
    assert_eq!(cfg.memory_size, 1024);
    assert_eq!(cfg.timeout, 30);
    assert_eq!(
        cfg.environment,
        BTreeMap::from([("B2".to_string(), "y".to_string())])
    );
    let err = parse_json::<UpdateFunctionConfigurationRequest>(br#"{"Timeout":901}"#)
        .unwrap()
        .validate(&name)
        .unwrap_err();
    assert!(err.to_string().contains("less than or equal to 900"));
}

#[test]
fn update_code_and_publish_version() {
    let code = parse_json::<UpdateFunctionCodeRequest>(
        br#"{"ZipFile":"UEsDBA==","Publish":true,"DryRun":false}"#,
    )
    .unwrap()
    .validate()
    .unwrap();
    assert!(code.publish && !code.dry_run);
    // A package in object storage is named, to be read by the gateway.
    let from_s3 = parse_json::<UpdateFunctionCodeRequest>(
        br#"{"S3Bucket":"b","S3Key":"k","S3ObjectVersion":"v1"}"#,
    )
    .unwrap()
    .validate()
    .unwrap();
    assert!(from_s3.zip.is_empty());
    assert_eq!(
        from_s3.s3,
        Some(S3Location {
            bucket: "b".into(),
            key: "k".into(),
            version: Some("v1".into())
        })
    );
    for (body, expected) in [
        (
            &br#"{"S3Bucket":"b"}"#[..],
            "S3Bucket and S3Key name the package together",
        ),
        (
            br#"{"ZipFile":"UEsDBA==","S3Bucket":"b","S3Key":"k"}"#,
            "Please do not provide other FunctionCode parameters when providing a ZipFile",
        ),
        (br#"{}"#, "Please provide a source for function code"),
    ] {
        let err = parse_json::<UpdateFunctionCodeRequest>(body)
            .unwrap()
            .validate()
            .unwrap_err();
        assert_eq!(err.error_type(), "InvalidParameterValueException");
        assert!(err.to_string().contains(expected), "{err}");
    }

    let v = parse_json::<PublishVersionRequest>(br#"{"Description":"v1"}"#)
        .unwrap()
        .validate()
        .unwrap();
    assert_eq!(v.description.as_deref(), Some("v1"));
}

#[test]
fn aliases_validate() {
    let a = parse_json::<CreateAliasRequest>(br#"{"Name":"live","FunctionVersion":"3"}"#)
        .unwrap()
        .validate()
        .unwrap();
    assert_eq!(
        (a.name.as_str(), a.function_version.as_str()),
        ("live", "3")
    );
    let err = parse_json::<CreateAliasRequest>(
        br#"{"Name":"live","FunctionVersion":"3","RoutingConfig":{"AdditionalVersionWeights":{"2":0.1}}}"#,
    )
    .unwrap()
    .validate()
    .unwrap_err();
    assert_eq!(err.error_type(), "InvalidParameterValueException");
    assert!(err.to_string().contains("weighted aliases"), "{err}");
    // Empty weights, as some tools send them, are fine.
    parse_json::<UpdateAliasRequest>(br#"{"RoutingConfig":{"AdditionalVersionWeights":{}}}"#)
        .unwrap()
        .validate()
        .unwrap();
    let err = parse_json::<CreateAliasRequest>(br#"{"Name":"123","FunctionVersion":"v"}"#)
        .unwrap()
        .validate()
        .unwrap_err();
    assert!(
        err.to_string().starts_with("2 validation errors detected"),
        "{err}"
    );
}

#[test]
fn url_configs_validate() {
    let u = parse_json::<CreateFunctionUrlConfigRequest>(
        br#"{"AuthType":"NONE","Cors":{"AllowOrigins":["*"],"MaxAge":60}}"#,
    )
    .unwrap()
    .validate()
    .unwrap();
    assert_eq!(u.auth_type, UrlAuthType::None);
    assert_eq!(u.invoke_mode, "BUFFERED");
    assert_eq!(u.cors, Some(json!({"AllowOrigins": ["*"], "MaxAge": 60})));
    let err = parse_json::<CreateFunctionUrlConfigRequest>(br#"{}"#)
        .unwrap()
        .validate()
        .unwrap_err();
    assert!(err.to_string().contains("Value null at 'authType'"));
    let err = parse_json::<CreateFunctionUrlConfigRequest>(br#"{"AuthType":"OPEN"}"#)
        .unwrap()
        .validate()
        .unwrap_err();
    assert!(err.to_string().contains("[NONE, AWS_IAM]"));
    let err = parse_json::<UpdateFunctionUrlConfigRequest>(br#"{"InvokeMode":"RESPONSE_STREAM"}"#)
        .unwrap()
        .validate()
        .unwrap_err();
    assert!(err.to_string().contains("RESPONSE_STREAM"));
    assert!(parse_json::<CreateFunctionUrlConfigRequest>(
        br#"{"AuthType":"NONE","Cors":{"AllowOrigin":["*"]}}"#
    )
    .is_err());
}
