//! Evaluating conditions and projections against an item.
//!
//! A path that does not resolve makes a comparison false (and `<>` true,
//! as on DynamoDB); comparing values of different types is false, never
//! an error.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use super::parse::{Cmp, Cond, Operand, Path, Step};
use crate::error::TablesError;
use crate::number::Number;
use crate::value::{AttrValue, Item};

/// The value at `path` in `item`.
pub fn resolve<'a>(item: &'a Item, path: &Path) -> Option<&'a AttrValue> {
    let mut steps = path.0.iter();
    let mut current = match steps.next()? {
        Step::Attr(name) => item.get(name)?,
        Step::Index(_) => return None,
    };
    for step in steps {
        current = match (step, current) {
            (Step::Attr(name), AttrValue::M(map)) => map.get(name)?,
            (Step::Index(i), AttrValue::L(list)) => list.get(*i)?,
            _ => return None,
        };
    }
    Some(current)
}

/// The value of a condition operand (`None` when its path is absent).
pub fn operand(item: &Item, op: &Operand) -> Option<AttrValue> {
    match op {
        Operand::Path(path) => resolve(item, path).cloned(),
        Operand::Value(value) => Some(value.clone()),
        Operand::Size(path) => {
            let size = match resolve(item, path)? {
                AttrValue::S(s) => s.chars().count(),
                AttrValue::B(b) => b.len(),
                AttrValue::L(l) => l.len(),
                AttrValue::M(m) => m.len(),
                AttrValue::Ss(s) => s.len(),
                AttrValue::Ns(n) => n.len(),
                AttrValue::Bs(b) => b.len(),
                _ => return None,
            };
            Number::parse(&size.to_string()).ok().map(AttrValue::N)
        }
        // Update-only forms never reach a condition.
        _ => None,
    }
}

/// Whether `item` satisfies `cond`.
pub fn condition(item: &Item, cond: &Cond) -> bool {
    match cond {
        Cond::And(a, b) => condition(item, a) && condition(item, b),
        Cond::Or(a, b) => condition(item, a) || condition(item, b),
        Cond::Not(a) => !condition(item, a),
        Cond::Exists(path) => resolve(item, path).is_some(),
        Cond::NotExists(path) => resolve(item, path).is_none(),
        Cond::Type(path, kind) => match (resolve(item, path), operand(item, kind)) {
            (Some(value), Some(AttrValue::S(kind))) => value.type_name() == kind,
            _ => false,
        },
        Cond::Compare(a, cmp, b) => {
            let (a, b) = (operand(item, a), operand(item, b));
            match (a, b) {
                (Some(a), Some(b)) => compare(&a, *cmp, &b),
                _ => *cmp == Cmp::Ne,
            }
        }
        Cond::Between(a, low, high) => {
            match (operand(item, a), operand(item, low), operand(item, high)) {
                (Some(a), Some(low), Some(high)) => {
                    matches!(a.compare(&low), Some(Ordering::Greater | Ordering::Equal))
                        && matches!(a.compare(&high), Some(Ordering::Less | Ordering::Equal))
                }
                _ => false,
            }
        }
        Cond::In(a, list) => match operand(item, a) {
            Some(a) => list
                .iter()
                .any(|b| operand(item, b).is_some_and(|b| a.equals(&b))),
            None => false,
        },
        Cond::BeginsWith(a, b) => match (operand(item, a), operand(item, b)) {
            (Some(AttrValue::S(a)), Some(AttrValue::S(b))) => a.starts_with(&b),
            (Some(AttrValue::B(a)), Some(AttrValue::B(b))) => a.starts_with(&b),
            _ => false,
        },
        Cond::Contains(a, b) => match (operand(item, a), operand(item, b)) {
            (Some(AttrValue::S(a)), Some(AttrValue::S(b))) => a.contains(&b),
            (Some(AttrValue::B(a)), Some(AttrValue::B(b))) => {
                b.is_empty() || a.windows(b.len()).any(|w| w == b.as_slice())
            }
            (Some(AttrValue::Ss(set)), Some(AttrValue::S(b))) => set.contains(&b),
            (Some(AttrValue::Ns(set)), Some(AttrValue::N(b))) => set.contains(&b),
            (Some(AttrValue::Bs(set)), Some(AttrValue::B(b))) => set.contains(&b),
            (Some(AttrValue::L(list)), Some(b)) => list.iter().any(|v| v.equals(&b)),
            _ => false,
        },
    }
}

fn compare(a: &AttrValue, cmp: Cmp, b: &AttrValue) -> bool {
    match cmp {
        Cmp::Eq => a.equals(b),
        Cmp::Ne => !a.equals(b),
        _ => match a.compare(b) {
            Some(order) => match cmp {
                Cmp::Lt => order == Ordering::Less,
                Cmp::Le => order != Ordering::Greater,
                Cmp::Gt => order == Ordering::Greater,
                _ => order != Ordering::Less,
            },
            None => false,
        },
    }
}

/// Refuses paths that overlap (one is a prefix of another) or conflict
/// (the same position reached as a map key and a list index).
pub fn check_overlap(paths: &[&Path], what: &str) -> Result<(), TablesError> {
    for (i, a) in paths.iter().enumerate() {
        for b in &paths[..i] {
            let common =
                a.0.iter()
                    .zip(b.0.iter())
                    .take_while(|(x, y)| x == y)
                    .count();
            if common == a.0.len().min(b.0.len()) {
                return Err(TablesError::validation(format!(
                    "Invalid {what}: Two document paths overlap with each other; must remove or rewrite one of these paths; path one: {}, path two: {}",
                    b.show(),
                    a.show()
                )));
            }
            let kind = |s: &Step| matches!(s, Step::Index(_));
            if let (Some(x), Some(y)) = (a.0.get(common), b.0.get(common)) {
                if kind(x) != kind(y) {
                    return Err(TablesError::validation(format!(
                        "Invalid {what}: Two document paths conflict with each other; must remove or rewrite one of these paths; path one: {}, path two: {}",
                        b.show(),
                        a.show()
                    )));
                }
            }
        }
    }
    Ok(())
}

/// The parts of `item` the paths name, keeping their nesting; list
/// elements picked by index keep their relative order.
pub fn project(item: &Item, paths: &[Path]) -> Item {
    let mut out = Item::new();
    for path in paths {
        let Some(Step::Attr(head)) = path.0.first() else {
            continue;
        };
        let Some(value) = item.get(head) else {
            continue;
        };
        let Some(picked) = pick(value, &path.0[1..]) else {
            continue;
        };
        match out.get_mut(head) {
            Some(existing) => merge(existing, picked),
            None => {
                out.insert(head.clone(), picked);
            }
        }
    }
    out
}

/// A value holding only what `steps` select of `value` (list positions
/// kept as a sparse map until merged, then compacted).
fn pick(value: &AttrValue, steps: &[Step]) -> Option<AttrValue> {
    let Some((first, rest)) = steps.split_first() else {
        return Some(value.clone());
    };
    match (first, value) {
        (Step::Attr(name), AttrValue::M(map)) => {
            let inner = pick(map.get(name)?, rest)?;
            Some(AttrValue::M(BTreeMap::from([(name.clone(), inner)])))
        }
        (Step::Index(i), AttrValue::L(list)) => {
            let inner = pick(list.get(*i)?, rest)?;
            Some(AttrValue::M(BTreeMap::from([(list_slot(*i), inner)])))
        }
        _ => None,
    }
    .map(|v| mark_lists(first, v))
}

/// Picked list elements are kept under a slot key (`\u{0}` + zero-padded
/// index) inside an `L` wrapper, compacted by [`finish`].
fn list_slot(i: usize) -> String {
    format!("\u{0}{i:010}")
}

fn mark_lists(step: &Step, value: AttrValue) -> AttrValue {
    match (step, value) {
        (Step::Index(_), AttrValue::M(map)) => AttrValue::L(vec![AttrValue::M(map)]),
        (_, v) => v,
    }
}

fn merge(into: &mut AttrValue, other: AttrValue) {
    match (into, other) {
        (AttrValue::M(a), AttrValue::M(b)) => {
            for (k, v) in b {
                match a.get_mut(&k) {
                    Some(existing) => merge(existing, v),
                    None => {
                        a.insert(k, v);
                    }
                }
            }
        }
        (AttrValue::L(a), AttrValue::L(b)) => {
            if let (Some(AttrValue::M(slots)), Some(AttrValue::M(more))) =
                (a.first_mut(), b.into_iter().next())
            {
                for (k, v) in more {
                    match slots.get_mut(&k) {
                        Some(existing) => merge(existing, v),
                        None => {
                            slots.insert(k, v);
                        }
                    }
                }
            }
        }
        (into, other) => *into = other,
    }
}

/// Turns the picked list slots into real lists.
pub fn finish(item: Item) -> Item {
    item.into_iter()
        .map(|(k, v)| (k, finish_value(v)))
        .collect()
}

fn finish_value(value: AttrValue) -> AttrValue {
    match value {
        AttrValue::L(list) => {
            if let [AttrValue::M(slots)] = list.as_slice() {
                if slots.keys().all(|k| k.starts_with('\u{0}')) && !slots.is_empty() {
                    return AttrValue::L(slots.values().cloned().map(finish_value).collect());
                }
            }
            AttrValue::L(list.into_iter().map(finish_value).collect())
        }
        AttrValue::M(map) => {
            AttrValue::M(map.into_iter().map(|(k, v)| (k, finish_value(v))).collect())
        }
        other => other,
    }
}

/// `project` then `finish`: what a `ProjectionExpression` returns.
pub fn projection(item: &Item, paths: &[Path]) -> Item {
    finish(project(item, paths))
}
