//! Constraint checks with Lambda's wording.
//!
//! Modelled constraints (ranges, lengths, patterns) fail with
//! `ValidationException` and Lambda's sentence, several at once:
//! `2 validation errors detected: Value '64' at 'memorySize' failed to
//! satisfy constraint: Member must have value greater than or equal to 128;
//! Value ...`. Semantic checks fail with `InvalidParameterValueException`.

use std::collections::BTreeMap;

use updraft_types::{MAX_MEMORY_MB, MAX_TIMEOUT_S, MIN_MEMORY_MB, MIN_TIMEOUT_S};

use crate::LambdaError;

/// Largest deployment package accepted in a request (zipped), as Lambda's.
pub const MAX_ZIP_BYTES: usize = 50 * 1024 * 1024;
/// Largest unpacked deployment package, as Lambda's.
pub const MAX_UNZIPPED_BYTES: u64 = 250 * 1024 * 1024;
/// Largest description, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 256;
/// Largest environment, measured as its JSON text.
pub const MAX_ENVIRONMENT_BYTES: usize = 4 * 1024;

/// Variables the platform sets for every function; users cannot set them.
pub const RESERVED_ENV_KEYS: &[&str] = &[
    "_HANDLER",
    "_X_AMZN_TRACE_ID",
    "AWS_DEFAULT_REGION",
    "AWS_REGION",
    "AWS_EXECUTION_ENV",
    "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    "AWS_LAMBDA_FUNCTION_VERSION",
    "AWS_LAMBDA_INITIALIZATION_TYPE",
    "AWS_LAMBDA_LOG_GROUP_NAME",
    "AWS_LAMBDA_LOG_STREAM_NAME",
    "AWS_ACCESS_KEY",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_LAMBDA_RUNTIME_API",
    "LAMBDA_TASK_ROOT",
    "LAMBDA_RUNTIME_DIR",
];

/// Collects constraint violations, then reports them all in one error.
#[derive(Debug, Default)]
pub struct Violations(Vec<String>);

impl Violations {
    pub fn new() -> Self {
        Self::default()
    }

    /// Records `Value '{value}' at '{member}' failed to satisfy constraint: {constraint}`.
    pub fn add(&mut self, value: impl std::fmt::Display, member: &str, constraint: &str) {
        self.0.push(format!(
            "Value '{value}' at '{member}' failed to satisfy constraint: {constraint}"
        ));
    }

    /// Records a required member that is missing.
    pub fn null(&mut self, member: &str) {
        self.0.push(format!(
            "Value null at '{member}' failed to satisfy constraint: Member must not be null"
        ));
    }

    /// Checks `min <= value <= max`, returning the value as `u32` when it is.
    pub fn range(&mut self, value: i64, member: &str, min: u32, max: u32) -> Option<u32> {
        if value < i64::from(min) {
            self.add(
                value,
                member,
                &format!("Member must have value greater than or equal to {min}"),
            );
            None
        } else if value > i64::from(max) {
            self.add(
                value,
                member,
                &format!("Member must have value less than or equal to {max}"),
            );
            None
        } else {
            u32::try_from(value).ok()
        }
    }

    /// Checks a length in characters.
    pub fn max_len(&mut self, value: &str, member: &str, max: usize) {
        if value.chars().count() > max {
            self.add(
                value,
                member,
                &format!("Member must have length less than or equal to {max}"),
            );
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `Ok(())` when nothing was recorded, else one `ValidationException`.
    pub fn finish(self) -> Result<(), LambdaError> {
        match self.0.len() {
            0 => Ok(()),
            1 => Err(LambdaError::Validation(format!(
                "1 validation error detected: {}",
                self.0[0]
            ))),
            n => Err(LambdaError::Validation(format!(
                "{n} validation errors detected: {}",
                self.0.join("; ")
            ))),
        }
    }
}

/// Memory size in MB, 128–10,240.
pub fn memory_size(mb: i64) -> Result<u32, LambdaError> {
    let mut v = Violations::new();
    let ok = v.range(mb, "memorySize", MIN_MEMORY_MB, MAX_MEMORY_MB);
    v.finish()?;
    Ok(ok.expect("in range"))
}

/// Timeout in seconds, 1–900.
pub fn timeout(seconds: i64) -> Result<u32, LambdaError> {
    let mut v = Violations::new();
    let ok = v.range(seconds, "timeout", MIN_TIMEOUT_S, MAX_TIMEOUT_S);
    v.finish()?;
    Ok(ok.expect("in range"))
}

/// A description of at most 256 characters.
pub fn description(text: &str) -> Result<(), LambdaError> {
    let mut v = Violations::new();
    v.max_len(text, "description", MAX_DESCRIPTION_CHARS);
    v.finish()
}

/// Pattern checks on environment keys go to `v`; reserved keys and the
/// 4 KB total are semantic errors, returned directly.
pub(crate) fn environment_into(
    vars: &BTreeMap<String, String>,
    v: &mut Violations,
) -> Result<(), LambdaError> {
    for key in vars.keys() {
        let mut chars = key.chars();
        let valid = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
            && key.len() >= 2
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            v.add(
                key,
                "environment.variables",
                "Map keys must satisfy constraint: [Member must satisfy regular expression pattern: [a-zA-Z]([a-zA-Z0-9_])+]",
            );
        }
    }
    let reserved: Vec<&str> = vars
        .keys()
        .map(String::as_str)
        .filter(|k| RESERVED_ENV_KEYS.contains(k))
        .collect();
    if !reserved.is_empty() {
        return Err(LambdaError::InvalidParameterValue(format!(
            "Lambda was unable to configure your environment variables because the environment \
             variables you have provided contains reserved keys that are currently not supported \
             for modification. Reserved keys used in this request: {}",
            reserved.join(",")
        )));
    }
    let size = serde_json::to_string(vars).map(|s| s.len()).unwrap_or(0);
    if size > MAX_ENVIRONMENT_BYTES {
        return Err(LambdaError::InvalidParameterValue(format!(
            "Lambda was unable to configure your environment variables because the environment \
             variables you have provided exceeded the 4KB limit. String measured: {size} bytes"
        )));
    }
    Ok(())
}

/// Environment variable names (`[a-zA-Z]([a-zA-Z0-9_])+`), reserved names,
/// and the 4 KB limit.
pub fn environment(vars: &BTreeMap<String, String>) -> Result<(), LambdaError> {
    let mut v = Violations::new();
    let semantic = environment_into(vars, &mut v);
    v.finish()?;
    semantic
}

/// A handler of at most 128 characters without whitespace.
pub fn handler(h: &str) -> Result<(), LambdaError> {
    let mut v = Violations::new();
    handler_into(h, &mut v);
    v.finish()
}

pub(crate) fn handler_into(h: &str, v: &mut Violations) {
    v.max_len(h, "handler", 128);
    if h.is_empty() || h.chars().any(char::is_whitespace) {
        v.add(
            h,
            "handler",
            "Member must satisfy regular expression pattern: [^\\s]+",
        );
    }
}

/// `DeadLetterConfig.TargetArn`: an ARN (Lambda's pattern, else a
/// `ValidationException`) of an SQS queue (`arn:aws:sqs:REGION:ACCOUNT:NAME`);
/// other services, SNS included, are an `InvalidParameterValueException`.
pub fn dead_letter_target_arn(arn: &str) -> Result<(), LambdaError> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let well_formed = match parts[..] {
        ["arn", partition, service, _region, _account, _resource] => {
            (partition.is_empty() || partition.starts_with("aws"))
                && !service.is_empty()
                && service
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
        }
        _ => false,
    };
    if !well_formed {
        let mut v = Violations::new();
        v.add(
            arn,
            "deadLetterConfig.targetArn",
            "Member must satisfy regular expression pattern: (arn:(aws[a-zA-Z-]*)?:[a-z0-9-.]+:.*)|()",
        );
        return v.finish();
    }
    match parts[..] {
        [_, _, "sqs", _, _, queue] if !queue.is_empty() && !queue.contains(':') => Ok(()),
        _ => Err(LambdaError::InvalidParameterValue(format!(
            "DeadLetterConfig TargetArn {arn} is not supported by updraft: only SQS dead-letter queues are supported"
        ))),
    }
}

/// The size of a zipped deployment package as uploaded.
pub fn zip_size(bytes: usize) -> Result<(), LambdaError> {
    if bytes > MAX_ZIP_BYTES {
        return Err(LambdaError::RequestTooLarge(format!(
            "Zipped size must be smaller than {MAX_ZIP_BYTES} bytes"
        )));
    }
    Ok(())
}

/// The total size of a deployment package once unpacked.
pub fn unzipped_size(bytes: u64) -> Result<(), LambdaError> {
    if bytes > MAX_UNZIPPED_BYTES {
        return Err(LambdaError::InvalidParameterValue(format!(
            "Unzipped size must be smaller than {MAX_UNZIPPED_BYTES} bytes"
        )));
    }
    Ok(())
}

/// Alias names: 1–128 of `[a-zA-Z0-9-_]`, not all digits.
pub(crate) fn alias_name_into(name: &str, v: &mut Violations) {
    v.max_len(name, "name", 128);
    let chars_ok = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !chars_ok || name.chars().all(|c| c.is_ascii_digit()) {
        v.add(
            name,
            "name",
            "Member must satisfy regular expression pattern: (?!^[0-9]+$)([a-zA-Z0-9-_]+)",
        );
    }
}

/// Version references in aliases: `$LATEST` or a number.
pub(crate) fn function_version_into(version: &str, v: &mut Violations) {
    let ok = version == updraft_types::LATEST
        || (!version.is_empty()
            && version.len() <= 1024
            && version.chars().all(|c| c.is_ascii_digit()));
    if !ok {
        v.add(
            version,
            "functionVersion",
            "Member must satisfy regular expression pattern: (\\$LATEST|[0-9]+)",
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dead_letter_targets_are_sqs_queues() {
        assert!(dead_letter_target_arn("arn:aws:sqs:us-east-1:000000000000:dlq").is_ok());
        let sns = dead_letter_target_arn("arn:aws:sns:us-east-1:000000000000:topic").unwrap_err();
        assert_eq!(sns.error_type(), "InvalidParameterValueException");
        assert!(
            sns.to_string()
                .contains("only SQS dead-letter queues are supported"),
            "{sns}"
        );
        let other = dead_letter_target_arn("arn:aws:sqs:us-east-1:000000000000:").unwrap_err();
        assert_eq!(other.error_type(), "InvalidParameterValueException");
        let malformed = dead_letter_target_arn("my-queue").unwrap_err();
        assert_eq!(malformed.error_type(), "ValidationException");
        assert!(malformed
            .to_string()
            .contains("'deadLetterConfig.targetArn'"));
    }

    #[test]
    fn memory_and_timeout_bounds_use_lambdas_sentences() {
        assert_eq!(
            memory_size(64).unwrap_err(),
            LambdaError::Validation(
                "1 validation error detected: Value '64' at 'memorySize' failed to satisfy \
                 constraint: Member must have value greater than or equal to 128"
                    .into()
            )
        );
        assert_eq!(memory_size(128).unwrap(), 128);
        assert_eq!(memory_size(10_240).unwrap(), 10_240);
        assert!(memory_size(10_241)
            .unwrap_err()
            .to_string()
            .ends_with("Member must have value less than or equal to 10240"));
        assert!(timeout(0).is_err());
        assert_eq!(timeout(900).unwrap(), 900);
        assert!(timeout(901).unwrap_err().to_string().contains("'timeout'"));
        assert!(timeout(-5).is_err());
    }

    #[test]
    fn several_violations_are_reported_together() {
        let mut v = Violations::new();
        v.range(64, "memorySize", 128, 10_240);
        v.range(0, "timeout", 1, 900);
        let err = v.finish().unwrap_err();
        assert_eq!(err.error_type(), "ValidationException");
        let msg = err.to_string();
        assert!(msg.starts_with("2 validation errors detected: Value '64' at 'memorySize'"));
        assert!(msg.contains("; Value '0' at 'timeout'"));
    }

    #[test]
    fn environment_rules() {
        let env = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        environment(&env(&[("GREETING", "hi"), ("a_1", "")])).unwrap();
        let err = environment(&env(&[("1BAD", "x")])).unwrap_err();
        assert_eq!(err.error_type(), "ValidationException");
        assert!(err
            .to_string()
            .contains("'1BAD' at 'environment.variables'"));
        assert!(
            environment(&env(&[("A", "x")])).is_err(),
            "one letter is too short"
        );
        let err = environment(&env(&[("AWS_REGION", "x")])).unwrap_err();
        assert_eq!(err.error_type(), "InvalidParameterValueException");
        assert!(err
            .to_string()
            .ends_with("Reserved keys used in this request: AWS_REGION"));
        let big = "x".repeat(5000);
        let err = environment(&env(&[("BIG", &big)])).unwrap_err();
        assert!(err.to_string().contains("exceeded the 4KB limit"));
    }

    #[test]
    fn description_handler_and_sizes() {
        description(&"é".repeat(256)).unwrap();
        assert!(description(&"a".repeat(257))
            .unwrap_err()
            .to_string()
            .contains("Member must have length less than or equal to 256"));
        handler("main.handler").unwrap();
        assert!(handler("has space").is_err());
        zip_size(MAX_ZIP_BYTES).unwrap();
        let err = zip_size(MAX_ZIP_BYTES + 1).unwrap_err();
        assert_eq!(err.status().as_u16(), 413);
        assert!(unzipped_size(MAX_UNZIPPED_BYTES + 1).is_err());
    }
}
