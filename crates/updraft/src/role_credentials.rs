//! Functions' execution-role credentials, issued by the identity directory.
//!
//! Each environment of a function gets the credentials of a session of its
//! `Role`, assumed by `lambda.amazonaws.com` (the role's trust policy must
//! allow that) and named after the function, as on Lambda. Sessions last
//! [`SESSION`]; one is handed to new environments while at least two
//! thirds of it is left, so a burst of cold starts shares one session and
//! one durable write, and every environment lives long enough before the
//! pools retire it ahead of the expiry.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use updraft_pool::{BoxError, CredentialIssuer, ExecutionCredentials};

/// How long a function's role session lasts (IAM's default maximum).
pub const SESSION: Duration = Duration::from_secs(3600);

/// The principal Lambda assumes execution roles as.
const LAMBDA: &str = "lambda.amazonaws.com";

pub struct RoleCredentials {
    iam: Arc<updraft_iam::Iam>,
    /// By (function ARN, role ARN), with the IAM generation it was issued
    /// under: a change to roles or their trust is seen at the next start.
    cache: Mutex<HashMap<(String, String), (u64, ExecutionCredentials)>>,
}

impl RoleCredentials {
    pub fn new(iam: Arc<updraft_iam::Iam>) -> Self {
        RoleCredentials {
            iam,
            cache: Mutex::new(HashMap::new()),
        }
    }
}

/// Whether credentials still have two thirds of a session left.
fn fresh(creds: &ExecutionCredentials, now: SystemTime) -> bool {
    creds
        .expiration
        .duration_since(now)
        .is_ok_and(|left| left >= SESSION * 2 / 3)
}

impl CredentialIssuer for RoleCredentials {
    fn credentials(
        &self,
        function_arn: &str,
        role: &str,
    ) -> Result<ExecutionCredentials, BoxError> {
        let now = SystemTime::now();
        let generation = self.iam.generation();
        let key = (function_arn.to_string(), role.to_string());
        if let Ok(cache) = self.cache.lock() {
            if let Some((g, creds)) = cache.get(&key) {
                if *g == generation && fresh(creds, now) {
                    return Ok(creds.clone());
                }
            }
        }
        let session_name = function_arn
            .rsplit_once(":function:")
            .map_or(function_arn, |(_, name)| name);
        let issued = self
            .iam
            .service_credentials(role, LAMBDA, session_name, SESSION)?;
        let creds = ExecutionCredentials {
            access_key_id: issued.access_key_id,
            secret_access_key: issued.secret_access_key,
            session_token: issued.session_token,
            expiration: issued.expiration,
        };
        if let Ok(mut cache) = self.cache.lock() {
            cache.insert(key, (self.iam.generation(), creds.clone()));
        }
        Ok(creds)
    }
}

/// The roles services act with (a schedule's `RoleArn`), checked against
/// the identity directory before each action.
pub struct ServiceRoles(pub Arc<updraft_iam::Iam>);

impl updraft_types::RoleCheck for ServiceRoles {
    fn check(
        &self,
        role_arn: &str,
        service: &str,
        action: &str,
        resource: &str,
    ) -> Result<(), String> {
        // The session is named after the service (`scheduler`), and reused
        // while it lasts.
        let session = service.split('.').next().unwrap_or(service);
        self.0
            .role_may(role_arn, service, session, action, resource)
    }
}
