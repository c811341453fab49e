//! Expressions: condition, key-condition, filter, update and projection
//! expressions, parsed into ASTs ([`parse`]) and evaluated against items
//! ([`eval`], [`update`]).
//!
//! [`Attrs`] holds a request's `ExpressionAttributeNames` and
//! `ExpressionAttributeValues`; every expression of the request is parsed
//! with the same `Attrs`, which records the placeholders used, so that
//! unused ones are refused afterwards as DynamoDB refuses them.

pub mod eval;
pub mod legacy;
mod lex;
pub mod parse;
pub mod update;

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::error::TablesError;
use crate::value::AttrValue;

/// A request's expression attribute names and values.
#[derive(Debug, Default)]
pub struct Attrs {
    names: BTreeMap<String, String>,
    values: BTreeMap<String, AttrValue>,
    used_names: BTreeSet<String>,
    used_values: BTreeSet<String>,
}

impl Attrs {
    /// Reads `ExpressionAttributeNames` and `ExpressionAttributeValues`.
    /// `has_expressions` says whether the request has any expression.
    pub fn from_input(input: &Value, has_expressions: bool) -> Result<Self, TablesError> {
        let mut attrs = Attrs::default();
        if let Some(names) = input
            .get("ExpressionAttributeNames")
            .filter(|v| !v.is_null())
        {
            if !has_expressions {
                return Err(TablesError::validation(
                    "ExpressionAttributeNames can only be specified when using expressions",
                ));
            }
            let map = names.as_object().ok_or_else(|| {
                TablesError::Serialization(
                    "Unexpected value type in payload for ExpressionAttributeNames".into(),
                )
            })?;
            if map.is_empty() {
                return Err(TablesError::validation(
                    "ExpressionAttributeNames must not be empty",
                ));
            }
            for (k, v) in map {
                if !k.starts_with('#') {
                    return Err(TablesError::validation(format!(
                        "ExpressionAttributeNames contains invalid key: Syntax error; key: \"{k}\""
                    )));
                }
                let v = v.as_str().ok_or_else(|| {
                    TablesError::Serialization(
                        "Unexpected value type in payload for ExpressionAttributeNames".into(),
                    )
                })?;
                attrs.names.insert(k.clone(), v.to_string());
            }
        }
        if let Some(values) = input
            .get("ExpressionAttributeValues")
            .filter(|v| !v.is_null())
        {
            if !has_expressions {
                return Err(TablesError::validation(
                    "ExpressionAttributeValues can only be specified when using expressions",
                ));
            }
            let map = values.as_object().ok_or_else(|| {
                TablesError::Serialization(
                    "Unexpected value type in payload for ExpressionAttributeValues".into(),
                )
            })?;
            if map.is_empty() {
                return Err(TablesError::validation(
                    "ExpressionAttributeValues must not be empty",
                ));
            }
            for (k, v) in map {
                if !k.starts_with(':') {
                    return Err(TablesError::validation(format!(
                        "ExpressionAttributeValues contains invalid key: Syntax error; key: \"{k}\""
                    )));
                }
                let value = AttrValue::from_json(v).map_err(|e| match e {
                    TablesError::Validation(m) => TablesError::validation(format!(
                        "ExpressionAttributeValues contains invalid value: {m} for key {k}"
                    )),
                    other => other,
                })?;
                attrs.values.insert(k.clone(), value);
            }
        }
        Ok(attrs)
    }

    /// Resolves `#name` (given without the `#`).
    pub fn name(&mut self, name: &str, what: &str) -> Result<String, TablesError> {
        let key = format!("#{name}");
        match self.names.get(&key) {
            Some(real) => {
                let real = real.clone();
                self.used_names.insert(key);
                Ok(real)
            }
            None => Err(TablesError::validation(format!(
                "Invalid {what}: An expression attribute name used in the document path is not defined; attribute name: {key}"
            ))),
        }
    }

    /// Resolves `:value` (given without the `:`).
    pub fn value(&mut self, name: &str, what: &str) -> Result<AttrValue, TablesError> {
        let key = format!(":{name}");
        match self.values.get(&key) {
            Some(value) => {
                let value = value.clone();
                self.used_values.insert(key);
                Ok(value)
            }
            None => Err(TablesError::validation(format!(
                "Invalid {what}: An expression attribute value used in expression is not defined; attribute value: {key}"
            ))),
        }
    }

    /// Refuses placeholders no expression used.
    pub fn check_unused(&self) -> Result<(), TablesError> {
        let unused_names: Vec<&str> = self
            .names
            .keys()
            .filter(|k| !self.used_names.contains(*k))
            .map(String::as_str)
            .collect();
        if !unused_names.is_empty() {
            return Err(TablesError::validation(format!(
                "Value provided in ExpressionAttributeNames unused in expressions: keys: {{{}}}",
                unused_names.join(", ")
            )));
        }
        let unused_values: Vec<&str> = self
            .values
            .keys()
            .filter(|k| !self.used_values.contains(*k))
            .map(String::as_str)
            .collect();
        if !unused_values.is_empty() {
            return Err(TablesError::validation(format!(
                "Value provided in ExpressionAttributeValues unused in expressions: keys: {{{}}}",
                unused_values.join(", ")
            )));
        }
        Ok(())
    }
}
