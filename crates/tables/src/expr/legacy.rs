//! The legacy (pre-expression) parameters, translated into the same ASTs
//! expressions parse into: `Expected`, `KeyConditions`, `QueryFilter` and
//! `ScanFilter` (with `ConditionalOperator`) become a [`Cond`];
//! `AttributeUpdates` becomes update [`Action`]s.
//!
//! ```text
//! {"a": {"ComparisonOperator": "GT", "AttributeValueList": [v]}}  ->  a > v
//! {"a": {"Exists": false}}                                         ->  attribute_not_exists(a)
//! {"a": {"Value": v}}                                              ->  a = v
//! {"a": {"Action": "ADD", "Value": {"L": [...]}}}                  ->  SET a = list_append(if_not_exists(a, []), ...)
//! ```

use serde_json::Value;

use super::parse::{Action, Cmp, Cond, Operand, Path, Step};
use crate::error::TablesError;
use crate::value::AttrValue;

fn path(name: &str) -> Path {
    Path(vec![Step::Attr(name.to_string())])
}

fn object<'a>(
    json: &'a Value,
    field: &str,
) -> Result<&'a serde_json::Map<String, Value>, TablesError> {
    json.as_object().ok_or_else(|| {
        TablesError::Serialization(format!("Unexpected value type in payload for {field}"))
    })
}

fn values(json: &Value) -> Result<Vec<AttrValue>, TablesError> {
    match json.get("AttributeValueList") {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(list)) => list.iter().map(AttrValue::from_json).collect(),
        Some(_) => Err(TablesError::Serialization(
            "Unexpected value type in payload for AttributeValueList".into(),
        )),
    }
}

/// One `ComparisonOperator` condition on `attr`.
fn comparison(attr: &str, op: &str, args: Vec<AttrValue>) -> Result<Cond, TablesError> {
    let wanted = match op {
        "NULL" | "NOT_NULL" => 0,
        "BETWEEN" => 2,
        "IN" => usize::MAX,
        "EQ" | "NE" | "LE" | "LT" | "GE" | "GT" | "CONTAINS" | "NOT_CONTAINS" | "BEGINS_WITH" => 1,
        other => {
            return Err(TablesError::validation(format!(
                "1 validation error detected: Value '{other}' at 'comparisonOperator' failed to satisfy constraint: Member must satisfy enum value set: [IN, NULL, BETWEEN, LT, NOT_CONTAINS, EQ, GT, NOT_NULL, NE, LE, BEGINS_WITH, GE, CONTAINS]"
            )))
        }
    };
    if (wanted == usize::MAX && args.is_empty()) || (wanted != usize::MAX && args.len() != wanted) {
        return Err(TablesError::validation(format!(
            "One or more parameter values were invalid: Invalid number of argument(s) for the {op} ComparisonOperator"
        )));
    }
    let left = || Operand::Path(path(attr));
    let mut args = args.into_iter().map(Operand::Value);
    let mut arg = || args.next().unwrap_or(Operand::Value(AttrValue::Null));
    Ok(match op {
        "NULL" => Cond::NotExists(path(attr)),
        "NOT_NULL" => Cond::Exists(path(attr)),
        "EQ" => Cond::Compare(left(), Cmp::Eq, arg()),
        "NE" => Cond::Compare(left(), Cmp::Ne, arg()),
        "LE" => Cond::Compare(left(), Cmp::Le, arg()),
        "LT" => Cond::Compare(left(), Cmp::Lt, arg()),
        "GE" => Cond::Compare(left(), Cmp::Ge, arg()),
        "GT" => Cond::Compare(left(), Cmp::Gt, arg()),
        "CONTAINS" => Cond::Contains(left(), arg()),
        "NOT_CONTAINS" => Cond::And(
            Box::new(Cond::Exists(path(attr))),
            Box::new(Cond::Not(Box::new(Cond::Contains(left(), arg())))),
        ),
        "BEGINS_WITH" => Cond::BeginsWith(left(), arg()),
        "BETWEEN" => {
            let low = arg();
            Cond::Between(left(), low, arg())
        }
        _ => Cond::In(left(), args.collect()),
    })
}

fn combine(conds: Vec<Cond>, operator: Option<&str>) -> Result<Option<Cond>, TablesError> {
    let or = match operator {
        None | Some("AND") => false,
        Some("OR") => true,
        Some(other) => {
            return Err(TablesError::validation(format!(
                "1 validation error detected: Value '{other}' at 'conditionalOperator' failed to satisfy constraint: Member must satisfy enum value set: [AND, OR]"
            )))
        }
    };
    Ok(conds.into_iter().reduce(|a, b| {
        if or {
            Cond::Or(Box::new(a), Box::new(b))
        } else {
            Cond::And(Box::new(a), Box::new(b))
        }
    }))
}

/// `Expected` (with `ConditionalOperator`) as a condition.
pub fn expected(json: &Value, operator: Option<&str>) -> Result<Option<Cond>, TablesError> {
    let mut conds = Vec::new();
    for (attr, spec) in object(json, "Expected")? {
        let value = spec
            .get("Value")
            .filter(|v| !v.is_null())
            .map(AttrValue::from_json)
            .transpose()?;
        let exists = spec.get("Exists").and_then(Value::as_bool);
        let op = spec.get("ComparisonOperator").and_then(Value::as_str);
        let cond = match (op, exists, value) {
            (Some(op), _, value) => {
                let mut args = values(spec)?;
                if let Some(value) = value {
                    args.insert(0, value);
                }
                comparison(attr, op, args)?
            }
            (None, Some(false), None) => Cond::NotExists(path(attr)),
            (None, Some(false), Some(_)) => {
                return Err(TablesError::validation(
                    "One or more parameter values were invalid: Value cannot be used when Exists is false",
                ))
            }
            (None, _, Some(value)) => Cond::Compare(Operand::Path(path(attr)), Cmp::Eq, Operand::Value(value)),
            (None, _, None) => {
                return Err(TablesError::validation(
                    "One or more parameter values were invalid: Value must be provided when Exists is true",
                ))
            }
        };
        conds.push(cond);
    }
    combine(conds, operator)
}

/// `KeyConditions`, `QueryFilter` or `ScanFilter` as a condition.
pub fn conditions(
    json: &Value,
    field: &str,
    operator: Option<&str>,
) -> Result<Option<Cond>, TablesError> {
    let mut conds = Vec::new();
    for (attr, spec) in object(json, field)? {
        let op = spec.get("ComparisonOperator").and_then(Value::as_str).ok_or_else(|| {
            TablesError::validation(
                "1 validation error detected: Value null at 'comparisonOperator' failed to satisfy constraint: Member must not be null",
            )
        })?;
        conds.push(comparison(attr, op, values(spec)?)?);
    }
    combine(conds, operator)
}

/// `AttributeUpdates` as update actions.
pub fn attribute_updates(json: &Value) -> Result<Vec<Action>, TablesError> {
    let mut actions = Vec::new();
    for (attr, spec) in object(json, "AttributeUpdates")? {
        let value = spec
            .get("Value")
            .filter(|v| !v.is_null())
            .map(AttrValue::from_json)
            .transpose()?;
        let action = spec.get("Action").and_then(Value::as_str).unwrap_or("PUT");
        actions.push(match (action, value) {
            ("PUT", Some(value)) => Action::Set(path(attr), Operand::Value(value)),
            ("DELETE", None) => Action::Remove(path(attr)),
            ("DELETE", Some(value)) => Action::Delete(path(attr), Operand::Value(value)),
            ("ADD", Some(AttrValue::L(list))) => Action::Set(
                path(attr),
                Operand::ListAppend(
                    Box::new(Operand::IfNotExists(path(attr), Box::new(Operand::Value(AttrValue::L(Vec::new()))))),
                    Box::new(Operand::Value(AttrValue::L(list))),
                ),
            ),
            ("ADD", Some(value)) => Action::Add(path(attr), Operand::Value(value)),
            ("PUT" | "ADD", None) => {
                return Err(TablesError::validation(format!(
                    "One or more parameter values were invalid: Only DELETE action is allowed when no attribute value is specified; attribute: {attr}"
                )))
            }
            (other, _) => {
                return Err(TablesError::validation(format!(
                    "1 validation error detected: Value '{other}' at 'attributeUpdates.{attr}.member.action' failed to satisfy constraint: Member must satisfy enum value set: [ADD, PUT, DELETE]"
                )))
            }
        });
    }
    Ok(actions)
}
