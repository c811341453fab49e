//! Errors of the library calls (the wire API's errors are
//! [`crate::wire::ApiError`], rendered as AWS's XML).

use thiserror::Error;

#[derive(Debug, Error)]
pub enum IamError {
    /// The database could not be read or written.
    #[error("IAM storage: {0}")]
    Storage(String),
    /// The bootstrap file could not be read or is invalid.
    #[error("IAM bootstrap: {0}")]
    Bootstrap(String),
    #[error("account {0} does not exist")]
    NoSuchAccount(String),
    /// The role ARN names no existing role.
    #[error("role {0} does not exist")]
    NoSuchRole(String),
    /// The role's trust policy does not let the service assume it.
    #[error("role {role_arn} cannot be assumed by {service}")]
    NotTrusted { role_arn: String, service: String },
    /// A request that the directory refused (validation, conflicts).
    #[error("{0}")]
    Refused(String),
}
