//! Condition blocks: `{"Operator": {"Key": value | [values]}}`.
//!
//! Each operator is compiled once into a [`Condition`] per key: the base
//! comparison, whether it is negated (`StringNotEquals`, `NotIpAddress`,
//! ...), its set qualifier (`ForAnyValue:` / `ForAllValues:`), the
//! `IfExists` suffix, the lowercased key and the policy's values already
//! parsed for that comparison (numbers, instants, networks, patterns).
//! A value that cannot be read for its operator (`"NumericEquals":
//! {"k": "abc"}`) is kept as never matching, as IAM accepts it on write.
//!
//! Semantics, as AWS documents them:
//! - several operators in a block, and several keys in one operator, must
//!   all hold (AND); several values for one key are alternatives (OR);
//! - a negated operator is the negation of its positive form: it holds
//!   when no request value matches any policy value, so it holds when the
//!   key is absent;
//! - `...IfExists` holds when the key is absent;
//! - `ForAnyValue:` holds when at least one request value passes the
//!   (possibly negated) operator, never for an absent or empty key;
//!   `ForAllValues:` holds when every request value passes, and always for
//!   an absent or empty key;
//! - `Null: true` holds when the key is absent, `Null: false` when present.

use crate::date;
use crate::pattern::{Pattern, Syntax, Vars};
use std::borrow::Cow;
use std::net::IpAddr;

/// The operators IAM knows, without qualifier or `IfExists`.
pub(crate) const OPERATORS: &[&str] = &[
    "StringEquals",
    "StringNotEquals",
    "StringEqualsIgnoreCase",
    "StringNotEqualsIgnoreCase",
    "StringLike",
    "StringNotLike",
    "NumericEquals",
    "NumericNotEquals",
    "NumericLessThan",
    "NumericLessThanEquals",
    "NumericGreaterThan",
    "NumericGreaterThanEquals",
    "DateEquals",
    "DateNotEquals",
    "DateLessThan",
    "DateLessThanEquals",
    "DateGreaterThan",
    "DateGreaterThanEquals",
    "Bool",
    "BinaryEquals",
    "IpAddress",
    "NotIpAddress",
    "ArnEquals",
    "ArnLike",
    "ArnNotEquals",
    "ArnNotLike",
    "Null",
];

/// An operator name split into its parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct OperatorName<'a> {
    pub qualifier: Qualifier,
    pub base: &'a str,
    pub if_exists: bool,
}

/// Strips one `ForAnyValue:` / `ForAllValues:` prefix and one `IfExists`
/// suffix, as IAM does before looking the operator up.
pub(crate) fn split_operator(name: &str) -> OperatorName<'_> {
    let (qualifier, rest) = if let Some(r) = name.strip_prefix("ForAnyValue:") {
        (Qualifier::ForAnyValue, r)
    } else if let Some(r) = name.strip_prefix("ForAllValues:") {
        (Qualifier::ForAllValues, r)
    } else {
        (Qualifier::Single, name)
    };
    let (base, if_exists) = match rest.strip_suffix("IfExists") {
        Some(b) => (b, true),
        None => (rest, false),
    };
    OperatorName {
        qualifier,
        base,
        if_exists,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Qualifier {
    Single,
    ForAnyValue,
    ForAllValues,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cmp {
    Eq,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Cmp {
    fn holds<T: PartialOrd>(self, request: &T, policy: &T) -> bool {
        match self {
            Cmp::Eq => request == policy,
            Cmp::Lt => request < policy,
            Cmp::Le => request <= policy,
            Cmp::Gt => request > policy,
            Cmp::Ge => request >= policy,
        }
    }
}

/// The policy's values, read for the operator's comparison.
#[derive(Debug, Clone, PartialEq)]
enum Values {
    /// String operators: literal (`StringEquals`) or wildcard (`StringLike`)
    /// patterns, with policy variables.
    Strings(Vec<Pattern>),
    Numbers(Cmp, Vec<Option<f64>>),
    Dates(Cmp, Vec<Option<date::Instant>>),
    Bools(Vec<Option<bool>>),
    Binary(Vec<String>),
    Networks(Vec<Option<ipnet::IpNet>>),
    /// One entry per value: six per-component patterns for a full ARN,
    /// or one pattern for the whole value otherwise.
    Arns(Vec<ArnPattern>),
    Null(Vec<Option<bool>>),
}

#[derive(Debug, Clone, PartialEq)]
enum ArnPattern {
    Components(Box<[Pattern; 6]>),
    Whole(Pattern),
}

/// One key of one operator.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Condition {
    qualifier: Qualifier,
    if_exists: bool,
    negated: bool,
    /// Lowercased.
    key: Box<str>,
    values: Values,
}

/// The request's values of one key.
pub(crate) enum Found<'a> {
    Many(&'a [String]),
    One(Cow<'a, str>),
}

impl Found<'_> {
    fn len(&self) -> usize {
        match self {
            Found::Many(v) => v.len(),
            Found::One(_) => 1,
        }
    }

    fn get(&self, i: usize) -> &str {
        match self {
            Found::Many(v) => v.get(i).map(String::as_str).unwrap_or(""),
            Found::One(v) => v,
        }
    }

    fn any(&self, mut f: impl FnMut(&str) -> bool) -> bool {
        (0..self.len()).any(|i| f(self.get(i)))
    }

    fn all(&self, mut f: impl FnMut(&str) -> bool) -> bool {
        (0..self.len()).all(|i| f(self.get(i)))
    }
}

/// The request's values of a key, as condition evaluation sees them.
pub(crate) trait RequestValues: Vars {
    /// The request's values of `key` (lowercased); `None` when the key is
    /// absent.
    fn values(&self, key: &str) -> Option<Found<'_>>;
}

impl Condition {
    /// Compiles operator `op` (known to IAM) for `key` with `values`
    /// (strings, booleans and numbers already turned into text).
    pub(crate) fn compile(op: &str, key: &str, values: &[String], variables: bool) -> Condition {
        let name = split_operator(op);
        let literal = Syntax {
            wildcards: false,
            variables,
            ignore_case: false,
        };
        let glob = Syntax {
            wildcards: true,
            ..literal
        };
        let strings = |syntax: Syntax| {
            Values::Strings(values.iter().map(|v| Pattern::compile(v, syntax)).collect())
        };
        let numbers = |cmp| Values::Numbers(cmp, values.iter().map(|v| number(v)).collect());
        let dates = |cmp| Values::Dates(cmp, values.iter().map(|v| date::parse(v)).collect());
        let arns = || Values::Arns(values.iter().map(|v| arn_pattern(v, glob)).collect());
        let (negated, values) = match name.base {
            "StringEquals" => (false, strings(literal)),
            "StringNotEquals" => (true, strings(literal)),
            "StringEqualsIgnoreCase" => (
                false,
                strings(Syntax {
                    ignore_case: true,
                    ..literal
                }),
            ),
            "StringNotEqualsIgnoreCase" => (
                true,
                strings(Syntax {
                    ignore_case: true,
                    ..literal
                }),
            ),
            "StringLike" => (false, strings(glob)),
            "StringNotLike" => (true, strings(glob)),
            "NumericEquals" => (false, numbers(Cmp::Eq)),
            "NumericNotEquals" => (true, numbers(Cmp::Eq)),
            "NumericLessThan" => (false, numbers(Cmp::Lt)),
            "NumericLessThanEquals" => (false, numbers(Cmp::Le)),
            "NumericGreaterThan" => (false, numbers(Cmp::Gt)),
            "NumericGreaterThanEquals" => (false, numbers(Cmp::Ge)),
            "DateEquals" => (false, dates(Cmp::Eq)),
            "DateNotEquals" => (true, dates(Cmp::Eq)),
            "DateLessThan" => (false, dates(Cmp::Lt)),
            "DateLessThanEquals" => (false, dates(Cmp::Le)),
            "DateGreaterThan" => (false, dates(Cmp::Gt)),
            "DateGreaterThanEquals" => (false, dates(Cmp::Ge)),
            "Bool" => (
                false,
                Values::Bools(values.iter().map(|v| boolean(v)).collect()),
            ),
            "BinaryEquals" => (false, Values::Binary(values.to_vec())),
            "IpAddress" => (
                false,
                Values::Networks(values.iter().map(|v| network(v)).collect()),
            ),
            "NotIpAddress" => (
                true,
                Values::Networks(values.iter().map(|v| network(v)).collect()),
            ),
            "ArnEquals" | "ArnLike" => (false, arns()),
            "ArnNotEquals" | "ArnNotLike" => (true, arns()),
            // "Null" (the caller only passes known operators).
            _ => (
                false,
                Values::Null(values.iter().map(|v| boolean(v)).collect()),
            ),
        };
        Condition {
            qualifier: name.qualifier,
            if_exists: name.if_exists,
            negated,
            key: key.to_ascii_lowercase().into_boxed_str(),
            values,
        }
    }

    /// The lowercased key this condition reads.
    pub(crate) fn key(&self) -> &str {
        &self.key
    }

    pub(crate) fn holds<R: RequestValues>(&self, request: &R) -> bool {
        let present = request.values(&self.key).filter(|v| v.len() > 0);
        if let Values::Null(expected) = &self.values {
            let absent = present.is_none();
            return expected.contains(&Some(absent));
        }
        let Some(values) = present else {
            return match self.qualifier {
                _ if self.if_exists => true,
                Qualifier::Single => self.negated,
                Qualifier::ForAnyValue => false,
                Qualifier::ForAllValues => true,
            };
        };
        match self.qualifier {
            Qualifier::Single => {
                let any = values.any(|v| self.value_matches(v, request));
                any != self.negated
            }
            Qualifier::ForAnyValue => {
                values.any(|v| self.value_matches(v, request) != self.negated)
            }
            Qualifier::ForAllValues => {
                values.all(|v| self.value_matches(v, request) != self.negated)
            }
        }
    }

    /// Whether one request value matches any of the policy's values under
    /// the positive form of the operator.
    fn value_matches(&self, value: &str, vars: &dyn Vars) -> bool {
        match &self.values {
            Values::Strings(patterns) => patterns.iter().any(|p| p.matches(value, vars)),
            Values::Numbers(cmp, expected) => match number(value) {
                Some(v) => expected.iter().flatten().any(|e| cmp.holds(&v, e)),
                None => false,
            },
            Values::Dates(cmp, expected) => match date::parse(value) {
                Some(v) => expected.iter().flatten().any(|e| cmp.holds(&v, e)),
                None => false,
            },
            Values::Bools(expected) => match boolean(value) {
                Some(v) => expected.contains(&Some(v)),
                None => false,
            },
            Values::Binary(expected) => expected.iter().any(|e| e == value),
            Values::Networks(nets) => match value.trim().parse::<IpAddr>() {
                Ok(ip) => nets.iter().flatten().any(|n| n.contains(&ip)),
                Err(_) => false,
            },
            Values::Arns(patterns) => patterns.iter().any(|p| arn_matches(p, value, vars)),
            Values::Null(_) => false,
        }
    }
}

fn number(v: &str) -> Option<f64> {
    v.trim().parse::<f64>().ok().filter(|n| n.is_finite())
}

fn boolean(v: &str) -> Option<bool> {
    if v.eq_ignore_ascii_case("true") {
        Some(true)
    } else if v.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

/// A CIDR block, or a single address as its own /32 or /128.
fn network(v: &str) -> Option<ipnet::IpNet> {
    let v = v.trim();
    if let Ok(net) = v.parse::<ipnet::IpNet>() {
        return Some(net.trunc());
    }
    v.parse::<IpAddr>().ok().map(ipnet::IpNet::from)
}

fn arn_pattern(v: &str, syntax: Syntax) -> ArnPattern {
    let parts: Vec<&str> = v.splitn(6, ':').collect();
    match <[&str; 6]>::try_from(parts) {
        Ok(parts) => ArnPattern::Components(Box::new(parts.map(|p| Pattern::compile(p, syntax)))),
        Err(_) => ArnPattern::Whole(Pattern::compile(v, syntax)),
    }
}

fn arn_matches(pattern: &ArnPattern, value: &str, vars: &dyn Vars) -> bool {
    match pattern {
        ArnPattern::Whole(p) => p.matches(value, vars),
        ArnPattern::Components(parts) => {
            let mut rest = value;
            for (i, part) in parts.iter().enumerate() {
                let component = if i == 5 {
                    rest
                } else {
                    match rest.split_once(':') {
                        Some((c, r)) => {
                            rest = r;
                            c
                        }
                        None => return false,
                    }
                };
                if !part.matches(component, vars) {
                    return false;
                }
            }
            true
        }
    }
}
