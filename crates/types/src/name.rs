//! Function names, ARNs and qualifiers.
//!
//! Lambda accepts a function as a bare name (`my-function`), a name with a
//! qualifier (`my-function:v1`), a partial ARN (`123456789012:function:my-function`)
//! or a full ARN (`arn:aws:lambda:us-east-1:123456789012:function:my-function[:v1]`).
//! [`FunctionRef::parse`] turns any of them into a validated name and an
//! optional qualifier.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The mutable, unpublished version of every function.
pub const LATEST: &str = "$LATEST";

/// Why a name, ARN or qualifier was rejected; the text is shown to the user.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidName(pub String);

/// The region and account that ARNs are written with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub region: String,
    pub account_id: String,
}

impl Default for Account {
    fn default() -> Self {
        Account {
            region: "us-east-1".into(),
            account_id: "000000000000".into(),
        }
    }
}

impl Account {
    /// `arn:aws:lambda:REGION:ACCOUNT:function:NAME`
    pub fn function_arn(&self, name: &FunctionName) -> String {
        format!(
            "arn:aws:lambda:{}:{}:function:{}",
            self.region, self.account_id, name
        )
    }

    /// The function ARN with a `:QUALIFIER` suffix.
    pub fn qualified_arn(&self, name: &FunctionName, qualifier: &str) -> String {
        format!("{}:{}", self.function_arn(name), qualifier)
    }
}

/// A validated function name: 1–64 characters of `[A-Za-z0-9_-]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct FunctionName(String);

impl FunctionName {
    pub fn new(name: impl Into<String>) -> Result<Self, InvalidName> {
        let name = name.into();
        let valid_chars = name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if name.is_empty() || name.len() > 64 || !valid_chars {
            return Err(InvalidName(format!(
                "1 validation error detected: Value '{name}' at 'functionName' failed to satisfy constraint: \
                 Member must satisfy regular expression pattern: [a-zA-Z0-9-_]{{1,64}}"
            )));
        }
        Ok(FunctionName(name))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for FunctionName {
    type Error = InvalidName;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        FunctionName::new(value)
    }
}

impl From<FunctionName> for String {
    fn from(value: FunctionName) -> Self {
        value.0
    }
}

impl fmt::Display for FunctionName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Which version of a function an operation addresses.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Qualifier {
    /// `$LATEST`, the mutable version.
    Latest,
    /// A published, immutable version number.
    Version(u64),
    /// An alias that points at a version.
    Alias(String),
}

impl Qualifier {
    /// Parses `$LATEST`, a version number, or an alias name
    /// (alias names: 1–128 of `[A-Za-z0-9_-]`, not all digits).
    pub fn parse(s: &str) -> Result<Self, InvalidName> {
        if s == LATEST {
            return Ok(Qualifier::Latest);
        }
        if !s.is_empty() && s.len() <= 128 && s.chars().all(|c| c.is_ascii_digit()) {
            return s
                .parse::<u64>()
                .map(Qualifier::Version)
                .map_err(|_| InvalidName(format!("Invalid version: {s}")));
        }
        let valid = !s.is_empty()
            && s.len() <= 128
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !valid {
            return Err(InvalidName(format!(
                "1 validation error detected: Value '{s}' at 'qualifier' failed to satisfy constraint: \
                 Member must satisfy regular expression pattern: (|[a-zA-Z0-9$_-]+)"
            )));
        }
        Ok(Qualifier::Alias(s.to_string()))
    }
}

impl fmt::Display for Qualifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Qualifier::Latest => f.write_str(LATEST),
            Qualifier::Version(v) => write!(f, "{v}"),
            Qualifier::Alias(a) => f.write_str(a),
        }
    }
}

/// A function as a request names it: the name and an optional qualifier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionRef {
    pub name: FunctionName,
    pub qualifier: Option<Qualifier>,
}

impl FunctionRef {
    /// Parses a name, `name:qualifier`, a partial ARN or a full ARN.
    pub fn parse(s: &str) -> Result<Self, InvalidName> {
        let parts: Vec<&str> = s.split(':').collect();
        let (name, qualifier) = match parts.as_slice() {
            [name] => (*name, None),
            [name, q] => (*name, Some(*q)),
            [_account, "function", name] => (*name, None),
            [_account, "function", name, q] => (*name, Some(*q)),
            ["arn", _partition, "lambda", _region, _account, "function", name] => (*name, None),
            ["arn", _partition, "lambda", _region, _account, "function", name, q] => {
                (*name, Some(*q))
            }
            _ => {
                return Err(InvalidName(format!(
                    "1 validation error detected: Value '{s}' at 'functionName' failed to satisfy constraint: \
                     Member must satisfy regular expression pattern: \
                     (arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{{2}}(-gov)?-[a-z]+-\\d{{1}}:)?(\\d{{12}}:)?(function:)?([a-zA-Z0-9-_]+)(:(\\$LATEST|[a-zA-Z0-9-_]+))?"
                )))
            }
        };
        Ok(FunctionRef {
            name: FunctionName::new(name)?,
            qualifier: qualifier.map(Qualifier::parse).transpose()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_form_lambda_accepts() {
        let plain = FunctionRef::parse("hello").unwrap();
        assert_eq!(plain.name.as_str(), "hello");
        assert_eq!(plain.qualifier, None);

        let q = FunctionRef::parse("hello:7").unwrap();
        assert_eq!(q.qualifier, Some(Qualifier::Version(7)));

        let partial = FunctionRef::parse("123456789012:function:hello:live").unwrap();
        assert_eq!(partial.name.as_str(), "hello");
        assert_eq!(partial.qualifier, Some(Qualifier::Alias("live".into())));

        let arn =
            FunctionRef::parse("arn:aws:lambda:us-east-1:000000000000:function:hello:$LATEST")
                .unwrap();
        assert_eq!(arn.name.as_str(), "hello");
        assert_eq!(arn.qualifier, Some(Qualifier::Latest));
    }

    #[test]
    fn rejects_bad_names() {
        assert!(FunctionName::new("").is_err());
        assert!(FunctionName::new("a".repeat(65)).is_err());
        assert!(FunctionName::new("no/slash").is_err());
        assert!(FunctionRef::parse("a:b:c:d:e").is_err());
        assert!(Qualifier::parse("bad qualifier").is_err());
    }
}
