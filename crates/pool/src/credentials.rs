//! The execution role's credentials, handed to a function's environments.
//!
//! ```text
//!   cold start ─> CredentialIssuer::credentials(function ARN, role ARN)
//!                   ├─ Ok  ─> AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY /
//!                   │         AWS_SESSION_TOKEN in EnvConfig::env; the
//!                   │         environment retires REFRESH_MARGIN before
//!                   │         they expire
//!                   └─ Err ─> StartError::Credentials (Lambda: "The role
//!                             defined for the function cannot be assumed")
//! ```
//!
//! As on Lambda, credentials are fixed for an environment's life: rather
//! than refreshing them inside a running function, the pools retire an
//! environment before its credentials run out and the next cold start
//! gets fresh ones.

use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime};

use crate::BoxError;

/// How long before its credentials expire an environment stops being
/// reused.
pub const REFRESH_MARGIN: Duration = Duration::from_secs(5 * 60);

/// What Lambda answers when it cannot get the execution role's
/// credentials (an `InvalidParameterValueException` on Invoke).
pub const ROLE_NOT_ASSUMABLE: &str =
    "The role defined for the function cannot be assumed by Lambda.";

/// The variables that carry the credentials into the function.
pub const ACCESS_KEY_ID_VAR: &str = "AWS_ACCESS_KEY_ID";
pub const SECRET_ACCESS_KEY_VAR: &str = "AWS_SECRET_ACCESS_KEY";
pub const SESSION_TOKEN_VAR: &str = "AWS_SESSION_TOKEN";

/// Temporary credentials of a role session.
#[derive(Clone, PartialEq, Eq)]
pub struct ExecutionCredentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: String,
    /// When the credentials stop being accepted.
    pub expiration: SystemTime,
}

impl std::fmt::Debug for ExecutionCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExecutionCredentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .field("session_token", &"<redacted>")
            .field("expiration", &self.expiration)
            .finish()
    }
}

impl ExecutionCredentials {
    /// Puts the credentials into an environment's variables, replacing
    /// whatever the function's own variables said.
    pub fn apply(&self, env: &mut BTreeMap<String, String>) {
        env.insert(ACCESS_KEY_ID_VAR.into(), self.access_key_id.clone());
        env.insert(SECRET_ACCESS_KEY_VAR.into(), self.secret_access_key.clone());
        env.insert(SESSION_TOKEN_VAR.into(), self.session_token.clone());
    }

    /// When an environment holding these credentials must stop being
    /// reused: `margin` before they expire (now, if that has passed).
    pub fn retire_at(&self, margin: Duration) -> Instant {
        let now = Instant::now();
        let left = self
            .expiration
            .duration_since(SystemTime::now())
            .unwrap_or_default();
        now + left.saturating_sub(margin)
    }
}

/// Supplies the credentials of a function's execution role.
///
/// Called on the cold-start path, on an async worker thread, once per new
/// environment: an implementation must answer from memory (cache the
/// credentials of a role and issue new ones well before they expire)
/// rather than block on I/O. An environment lives until [`REFRESH_MARGIN`]
/// before its credentials' expiration, so cached credentials should be
/// handed out only while most of their lifetime is left (e.g. renew a
/// one-hour session after 15 minutes), or new environments are short-lived.
pub trait CredentialIssuer: Send + Sync {
    /// Credentials for an environment of `function_arn` (unqualified,
    /// `arn:aws:lambda:REGION:ACCOUNT:function:NAME`) running as `role`
    /// (the function's `Role`, an IAM role ARN). An error (the role is
    /// gone, or does not trust Lambda) fails the cold start.
    fn credentials(&self, function_arn: &str, role: &str)
        -> Result<ExecutionCredentials, BoxError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creds(expires_in: Duration) -> ExecutionCredentials {
        ExecutionCredentials {
            access_key_id: "ASIAEXAMPLE".into(),
            secret_access_key: "secret".into(),
            session_token: "token".into(),
            expiration: SystemTime::now() + expires_in,
        }
    }

    #[test]
    fn credentials_replace_the_functions_own_variables() {
        let mut env = BTreeMap::new();
        env.insert("AWS_ACCESS_KEY_ID".to_string(), "AKIAMINE".to_string());
        env.insert("GREETING".to_string(), "hi".to_string());
        creds(Duration::from_secs(3600)).apply(&mut env);
        assert_eq!(env["AWS_ACCESS_KEY_ID"], "ASIAEXAMPLE");
        assert_eq!(env["AWS_SECRET_ACCESS_KEY"], "secret");
        assert_eq!(env["AWS_SESSION_TOKEN"], "token");
        assert_eq!(env["GREETING"], "hi");
    }

    #[test]
    fn environments_retire_a_margin_before_expiry() {
        let margin = Duration::from_secs(300);
        let at = creds(Duration::from_secs(3600)).retire_at(margin);
        let left = at.duration_since(Instant::now());
        assert!(left > Duration::from_secs(3290) && left <= Duration::from_secs(3300));
        // Within the margin already, or expired: retire at once.
        let soon = creds(Duration::from_secs(60)).retire_at(margin);
        assert!(soon <= Instant::now());
        let past = ExecutionCredentials {
            expiration: SystemTime::now() - Duration::from_secs(10),
            ..creds(Duration::ZERO)
        };
        assert!(past.retire_at(margin) <= Instant::now());
    }

    #[test]
    fn debug_output_hides_the_secrets() {
        let text = format!("{:?}", creds(Duration::from_secs(1)));
        assert!(text.contains("ASIAEXAMPLE"));
        assert!(
            !text.contains("secret\"") && !text.contains("token\""),
            "{text}"
        );
    }
}
