//! Applying an `UpdateExpression` to an item.
//!
//! As on DynamoDB, every value is computed from the item as it was before
//! the update, then the actions are applied; paths may not overlap, key
//! attributes may not change, and a `DELETE` that empties a set removes
//! the attribute.

use super::eval::{check_overlap, resolve};
use super::parse::{Action, Operand, Path, Step};
use crate::error::TablesError;
use crate::schema::KeySchema;
use crate::value::{AttrValue, Item};

fn bad_type() -> TablesError {
    TablesError::validation("An operand in the update expression has an incorrect data type")
}

fn invalid_path() -> TablesError {
    TablesError::validation(
        "The document path provided in the update expression is invalid for update",
    )
}

fn wire_type(value: &AttrValue) -> &'static str {
    match value {
        AttrValue::S(_) => "STRING",
        AttrValue::N(_) => "NUMBER",
        AttrValue::B(_) => "BINARY",
        AttrValue::Bool(_) => "BOOLEAN",
        AttrValue::Null => "NULL",
        AttrValue::L(_) => "LIST",
        AttrValue::M(_) => "MAP",
        AttrValue::Ss(_) => "SS",
        AttrValue::Ns(_) => "NS",
        AttrValue::Bs(_) => "BS",
    }
}

/// Applies `actions` to `old` (an empty item when none exists); returns the
/// new item and the paths the update touched (for `UPDATED_*`).
pub fn apply(
    old: &Item,
    actions: &[Action],
    key: &KeySchema,
) -> Result<(Item, Vec<Path>), TablesError> {
    let paths: Vec<&Path> = actions
        .iter()
        .map(|a| match a {
            Action::Set(p, _) | Action::Remove(p) | Action::Add(p, _) | Action::Delete(p, _) => p,
        })
        .collect();
    check_overlap(&paths, "UpdateExpression")?;
    for path in &paths {
        if key.has(path.head()) {
            return Err(TablesError::validation(format!(
                "One or more parameter values were invalid: Cannot update attribute {}. This attribute is part of the key",
                path.head()
            )));
        }
    }
    // Values first, from the old item.
    let mut planned = Vec::with_capacity(actions.len());
    for action in actions {
        planned.push(match action {
            Action::Set(_, value) => Some(value_of(old, value)?),
            Action::Add(_, value) | Action::Delete(_, value) => Some(value_of(old, value)?),
            Action::Remove(_) => None,
        });
    }
    let mut item = old.clone();
    // Removals of list elements run from the highest index down so that
    // earlier removals do not shift later ones.
    let mut removals: Vec<&Path> = Vec::new();
    for (action, value) in actions.iter().zip(planned) {
        match (action, value) {
            (Action::Set(path, _), Some(value)) => set(&mut item, path, value)?,
            (Action::Remove(path), _) => removals.push(path),
            (Action::Add(path, _), Some(value)) => {
                let next = match (resolve(&item, path), value) {
                    (Some(AttrValue::N(a)), AttrValue::N(b)) => AttrValue::N(a.add(&b)?),
                    (Some(AttrValue::Ss(a)), AttrValue::Ss(b)) => AttrValue::Ss(union(a.clone(), b)),
                    (Some(AttrValue::Ns(a)), AttrValue::Ns(b)) => AttrValue::Ns(union(a.clone(), b)),
                    (Some(AttrValue::Bs(a)), AttrValue::Bs(b)) => AttrValue::Bs(union(a.clone(), b)),
                    (Some(_), _) => return Err(bad_type()),
                    (None, v @ (AttrValue::N(_) | AttrValue::Ss(_) | AttrValue::Ns(_) | AttrValue::Bs(_))) => v,
                    (None, v) => {
                        return Err(TablesError::validation(format!(
                            "Invalid UpdateExpression: Incorrect operand type for operator or function; operator: ADD, operand type: {}",
                            wire_type(&v)
                        )))
                    }
                };
                set(&mut item, path, next)?;
            }
            (Action::Delete(path, _), Some(value)) => {
                if !matches!(
                    value,
                    AttrValue::Ss(_) | AttrValue::Ns(_) | AttrValue::Bs(_)
                ) {
                    return Err(TablesError::validation(format!(
                        "Invalid UpdateExpression: Incorrect operand type for operator or function; operator or function: operator: DELETE, operand type: {}",
                        wire_type(&value)
                    )));
                }
                let next = match (resolve(&item, path), value) {
                    (None, _) => continue,
                    (Some(AttrValue::Ss(a)), AttrValue::Ss(b)) => {
                        difference(a, &b).map(AttrValue::Ss)
                    }
                    (Some(AttrValue::Ns(a)), AttrValue::Ns(b)) => {
                        difference(a, &b).map(AttrValue::Ns)
                    }
                    (Some(AttrValue::Bs(a)), AttrValue::Bs(b)) => {
                        difference(a, &b).map(AttrValue::Bs)
                    }
                    _ => return Err(bad_type()),
                };
                match next {
                    Some(v) => set(&mut item, path, v)?,
                    None => remove(&mut item, path),
                }
            }
            _ => {}
        }
    }
    removals.sort_by(|a, b| b.0.cmp_steps(&a.0));
    for path in removals {
        remove(&mut item, path);
    }
    Ok((item, paths.into_iter().cloned().collect()))
}

trait StepOrder {
    fn cmp_steps(&self, other: &Self) -> std::cmp::Ordering;
}

impl StepOrder for Vec<Step> {
    fn cmp_steps(&self, other: &Self) -> std::cmp::Ordering {
        for (a, b) in self.iter().zip(other) {
            let order = match (a, b) {
                (Step::Index(x), Step::Index(y)) => x.cmp(y),
                (Step::Attr(x), Step::Attr(y)) => x.cmp(y),
                (Step::Attr(_), Step::Index(_)) => std::cmp::Ordering::Less,
                (Step::Index(_), Step::Attr(_)) => std::cmp::Ordering::Greater,
            };
            if order.is_ne() {
                return order;
            }
        }
        self.len().cmp(&other.len())
    }
}

fn union<T: PartialEq>(mut a: Vec<T>, b: Vec<T>) -> Vec<T> {
    for x in b {
        if !a.contains(&x) {
            a.push(x);
        }
    }
    a
}

fn difference<T: PartialEq + Clone>(a: &[T], b: &[T]) -> Option<Vec<T>> {
    let out: Vec<T> = a.iter().filter(|x| !b.contains(x)).cloned().collect();
    (!out.is_empty()).then_some(out)
}

/// The value of an update operand against the old item.
fn value_of(item: &Item, operand: &Operand) -> Result<AttrValue, TablesError> {
    match operand {
        Operand::Value(v) => Ok(v.clone()),
        Operand::Path(path) => resolve(item, path).cloned().ok_or_else(|| {
            TablesError::validation("The provided expression refers to an attribute that does not exist in the item")
        }),
        Operand::Size(_) => Err(TablesError::validation(
            "Invalid UpdateExpression: The function is not allowed in an update expression; function: size",
        )),
        Operand::IfNotExists(path, fallback) => match resolve(item, path) {
            Some(v) => Ok(v.clone()),
            None => value_of(item, fallback),
        },
        Operand::ListAppend(a, b) => match (value_of(item, a)?, value_of(item, b)?) {
            (AttrValue::L(mut a), AttrValue::L(b)) => {
                a.extend(b);
                Ok(AttrValue::L(a))
            }
            _ => Err(bad_type()),
        },
        Operand::Plus(a, b) | Operand::Minus(a, b) => match (value_of(item, a)?, value_of(item, b)?) {
            (AttrValue::N(a), AttrValue::N(b)) => Ok(AttrValue::N(if matches!(operand, Operand::Plus(..)) {
                a.add(&b)?
            } else {
                a.sub(&b)?
            })),
            _ => Err(bad_type()),
        },
    }
}

/// Sets the value at `path`; its parent must exist.
fn set(item: &mut Item, path: &Path, value: AttrValue) -> Result<(), TablesError> {
    let (last, parents) = path.0.split_last().ok_or_else(invalid_path)?;
    if parents.is_empty() {
        let Step::Attr(name) = last else {
            return Err(invalid_path());
        };
        item.insert(name.clone(), value);
        return Ok(());
    }
    let Step::Attr(head) = &parents[0] else {
        return Err(invalid_path());
    };
    let mut current = item.get_mut(head).ok_or_else(invalid_path)?;
    for step in &parents[1..] {
        current = match (step, current) {
            (Step::Attr(name), AttrValue::M(map)) => map.get_mut(name).ok_or_else(invalid_path)?,
            (Step::Index(i), AttrValue::L(list)) => list.get_mut(*i).ok_or_else(invalid_path)?,
            _ => return Err(invalid_path()),
        };
    }
    match (last, current) {
        (Step::Attr(name), AttrValue::M(map)) => {
            map.insert(name.clone(), value);
        }
        (Step::Index(i), AttrValue::L(list)) => {
            if *i < list.len() {
                list[*i] = value;
            } else {
                list.push(value);
            }
        }
        _ => return Err(invalid_path()),
    }
    Ok(())
}

/// Removes the value at `path`, if there is one.
fn remove(item: &mut Item, path: &Path) {
    let Some((last, parents)) = path.0.split_last() else {
        return;
    };
    if parents.is_empty() {
        if let Step::Attr(name) = last {
            item.remove(name);
        }
        return;
    }
    let Step::Attr(head) = &parents[0] else {
        return;
    };
    let Some(mut current) = item.get_mut(head) else {
        return;
    };
    for step in &parents[1..] {
        let next = match (step, current) {
            (Step::Attr(name), AttrValue::M(map)) => map.get_mut(name),
            (Step::Index(i), AttrValue::L(list)) => list.get_mut(*i),
            _ => None,
        };
        let Some(next) = next else { return };
        current = next;
    }
    match (last, current) {
        (Step::Attr(name), AttrValue::M(map)) => {
            map.remove(name);
        }
        (Step::Index(i), AttrValue::L(list)) if *i < list.len() => {
            list.remove(*i);
        }
        _ => {}
    }
}
