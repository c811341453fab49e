//! Request bodies into typed shapes, with errors that name the field.

use serde::de::DeserializeOwned;

use crate::LambdaError;

/// Parses a JSON request body. An empty body reads as `{}` (clients send
/// nothing for operations whose members are all optional).
///
/// Errors are `InvalidRequestContentException` (as Lambda's), and name the
/// offending field by its path:
/// `Could not parse request body into json: field `Timeout`: invalid type: string "x", expected i64 at line 1 column 15`.
pub fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, LambdaError> {
    let body: &[u8] = if body.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        body
    };
    let de = &mut serde_json::Deserializer::from_slice(body);
    let result: Result<T, _> = serde_path_to_error::deserialize(&mut *de);
    let value = result.map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let inner = inner.to_string();
        let detail = if path == "." || path.is_empty() {
            inner
        } else if let Some(rest) = inner
            .strip_prefix("unknown field `")
            .and_then(|r| r.split_once('`'))
            .map(|(_, rest)| rest)
        {
            // The path already ends with the unknown name: name it once, in full.
            format!("unknown field `{path}`{rest}")
        } else {
            format!("field `{path}`: {inner}")
        };
        LambdaError::InvalidRequestContent(format!(
            "Could not parse request body into json: {detail}"
        ))
    })?;
    de.end().map_err(|e| {
        LambdaError::InvalidRequestContent(format!("Could not parse request body into json: {e}"))
    })?;
    Ok(value)
}
