//! Identifiers and secrets in AWS's shapes, ARNs, and the name checks
//! IAM applies (with AWS's validation wording).

use rand::seq::IndexedRandom;

use crate::wire::ApiError;

const UPPER_ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
const SECRET_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn pick(alphabet: &[u8], n: usize) -> String {
    let mut rng = rand::rng();
    (0..n)
        .map(|_| alphabet.choose(&mut rng).copied().unwrap_or(b'A') as char)
        .collect()
}

/// A unique id with a type prefix (`AIDA`, `AROA`, `ANPA`, `AGPA`): 21
/// characters as AWS's.
pub(crate) fn unique_id(prefix: &str) -> String {
    format!("{prefix}{}", pick(UPPER_ALNUM, 17))
}

/// A long-term access key id (`AKIA` + 16).
pub(crate) fn access_key_id() -> String {
    format!("AKIA{}", pick(UPPER_ALNUM, 16))
}

/// A temporary access key id (`ASIA` + 16).
pub(crate) fn session_key_id() -> String {
    format!("ASIA{}", pick(UPPER_ALNUM, 16))
}

/// A 40-character secret access key.
pub(crate) fn secret() -> String {
    pick(SECRET_ALPHABET, 40)
}

/// A session token (opaque; 356 characters as STS's are of that order).
pub(crate) fn session_token() -> String {
    format!("IQoJb3JpZ2luX2Vj{}", pick(SECRET_ALPHABET, 340))
}

pub(crate) fn user_arn(account: &str, path: &str, name: &str) -> String {
    format!("arn:aws:iam::{account}:user{path}{name}")
}

pub(crate) fn group_arn(account: &str, path: &str, name: &str) -> String {
    format!("arn:aws:iam::{account}:group{path}{name}")
}

pub(crate) fn role_arn(account: &str, path: &str, name: &str) -> String {
    format!("arn:aws:iam::{account}:role{path}{name}")
}

pub(crate) fn policy_arn(account: &str, path: &str, name: &str) -> String {
    format!("arn:aws:iam::{account}:policy{path}{name}")
}

/// The account and the last path segment of an IAM ARN of `kind`
/// (`user`, `role`, `policy`, `group`): `arn:aws:iam::ACCT:kind/path/name`.
pub(crate) fn split_iam_arn<'a>(arn: &'a str, kind: &str) -> Option<(&'a str, &'a str)> {
    let rest = arn.strip_prefix("arn:aws:iam::")?;
    let (account, rest) = rest.split_once(':')?;
    let rest = rest.strip_prefix(kind)?;
    if !rest.starts_with('/') {
        return None;
    }
    let name = rest.rsplit('/').next()?;
    if name.is_empty() {
        return None;
    }
    Some((account, name))
}

/// The account field of any ARN (empty when it has none or is not an ARN).
pub(crate) fn arn_account(arn: &str) -> &str {
    arn.split(':').nth(4).unwrap_or("")
}

/// AWS's validation message for one failed constraint.
pub(crate) fn validation(value: Option<&str>, field: &str, constraint: &str) -> ApiError {
    let value = match value {
        Some(v) => format!("'{v}'"),
        None => "null".to_string(),
    };
    ApiError::validation(format!(
        "1 validation error detected: Value {value} at '{field}' failed to satisfy constraint: {constraint}"
    ))
}

/// A character IAM allows in names (`[\w+=,.@-]`).
pub(crate) fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "+=,.@_-".contains(c)
}

/// A user, group, role or policy name: `[\w+=,.@-]+`, 1..=`max`.
pub(crate) fn check_name(value: &str, field: &str, max: usize) -> Result<(), ApiError> {
    if value.is_empty() {
        return Err(validation(
            Some(value),
            field,
            "Member must have length greater than or equal to 1",
        ));
    }
    if value.chars().count() > max {
        return Err(validation(
            Some(value),
            field,
            &format!("Member must have length less than or equal to {max}"),
        ));
    }
    if !value.chars().all(is_name_char) {
        return Err(validation(
            Some(value),
            field,
            "Member must satisfy regular expression pattern: [\\w+=,.@-]+",
        ));
    }
    Ok(())
}

/// A path: `/` or `/.../`, at most 512 characters.
pub(crate) fn check_path(value: &str) -> Result<(), ApiError> {
    let ok = value.len() <= 512
        && value.starts_with('/')
        && value.ends_with('/')
        && value.chars().all(|c| ('\u{21}'..='\u{7f}').contains(&c));
    if ok {
        Ok(())
    } else {
        Err(validation(
            Some(value),
            "path",
            "Member must satisfy regular expression pattern: (\\u002F)|(\\u002F[\\u0021-\\u007F]+\\u002F)",
        ))
    }
}

/// A role session name: `[\w+=,.@-]*`, 2..=64.
pub(crate) fn check_session_name(value: &str) -> Result<(), ApiError> {
    if value.chars().count() < 2 {
        return Err(validation(
            Some(value),
            "roleSessionName",
            "Member must have length greater than or equal to 2",
        ));
    }
    if value.chars().count() > 64 {
        return Err(validation(
            Some(value),
            "roleSessionName",
            "Member must have length less than or equal to 64",
        ));
    }
    if !value.chars().all(is_name_char) {
        return Err(validation(
            Some(value),
            "roleSessionName",
            "Member must satisfy regular expression pattern: [\\w+=,.@-]*",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_have_aws_shapes() {
        let id = unique_id("AIDA");
        assert_eq!(id.len(), 21);
        assert!(id.starts_with("AIDA"));
        let k = access_key_id();
        assert_eq!(k.len(), 20);
        assert!(session_key_id().starts_with("ASIA"));
        assert_eq!(secret().len(), 40);
        assert_ne!(secret(), secret());
    }

    #[test]
    fn arns_split_into_account_and_name() {
        assert_eq!(
            split_iam_arn("arn:aws:iam::123456789012:role/svc/app", "role"),
            Some(("123456789012", "app"))
        );
        assert_eq!(
            split_iam_arn("arn:aws:iam::123456789012:user/bob", "role"),
            None
        );
        assert_eq!(
            arn_account("arn:aws:sqs:us-east-1:111122223333:q"),
            "111122223333"
        );
    }

    #[test]
    fn names_are_checked_with_aws_wording() {
        assert!(check_name("bob.smith@x", "userName", 64).is_ok());
        let e = check_name("bad name", "userName", 64).unwrap_err();
        assert_eq!(e.code, "ValidationError");
        assert_eq!(
            e.message,
            "1 validation error detected: Value 'bad name' at 'userName' failed to satisfy \
             constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]+"
        );
        assert!(check_name(&"a".repeat(65), "userName", 64).is_err());
        assert!(check_path("/a/b/").is_ok());
        assert!(check_path("a/").is_err());
        assert!(check_session_name("s").is_err());
        assert!(check_session_name("session-1").is_ok());
    }
}
