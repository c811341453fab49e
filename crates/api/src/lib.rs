//! The AWS Lambda API as it appears on the wire (REST-JSON, 2015-03-31).
//!
//! This crate owns the shapes, not the behaviour: the gateway routes a
//! request, [`parse_json`] turns its body into a request shape,
//! `validate()` turns the shape into what the registry acts on, and the
//! [`render`] functions turn registry records back into Lambda's JSON.
//! Every failure is a [`LambdaError`], which knows its status, its
//! `X-Amzn-ErrorType` and its `{"Type","Message"}` body.
//!
//! ```text
//! body ──parse_json──> *Request ──validate()──> NewFunction, ConfigUpdate, ...
//!                                                    │ (registry)
//! JSON <──render::*── FunctionConfig, AliasConfig, UrlConfig
//! ```

mod error;
pub mod paginate;
mod parse;
pub mod permissions;
pub mod render;
pub mod requests;
pub mod validate;

pub use error::{LambdaError, ERROR_TYPE_HEADER};
pub use paginate::{paginate, parse_max_items, DEFAULT_MAX_ITEMS, MAX_MAX_ITEMS};
pub use parse::parse_json;
pub use permissions::{AddPermissionRequest, FunctionPolicyDocument, NewPermission};
pub use render::{
    alias, code_sha256_base64, code_sha256_matches, function_configuration, get_function,
    list_aliases, list_functions, list_url_configs, list_versions, url_config,
};
pub use requests::*;
