//! Services that act with a role: the question they ask before acting.

/// Whether a role, as assumed by a service, may perform an action on a
/// resource. Scheduler asks it with a schedule's `RoleArn` before each
/// delivery; event source mappings with the function's execution role.
pub trait RoleCheck: Send + Sync {
    /// `Ok` when `service` (`scheduler.amazonaws.com`, ...) may assume
    /// `role_arn` and the role's policies allow `action` on `resource`;
    /// `Err` says why not, in AWS's words.
    fn check(
        &self,
        role_arn: &str,
        service: &str,
        action: &str,
        resource: &str,
    ) -> Result<(), String>;
}
