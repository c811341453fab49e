//! PartiQL statements as DynamoDB accepts them, parsed into the same
//! condition and update ASTs the expression language uses.
//!
//! ```text
//! SELECT * | path, … FROM "table"[."index"] [WHERE condition]
//! INSERT INTO "table" VALUE {'attr': value, …}
//! UPDATE "table" (SET path = value | REMOVE path)… WHERE condition [RETURNING ALL|MODIFIED NEW|OLD *]
//! DELETE FROM "table" WHERE condition [RETURNING ALL OLD *]
//! value := 'string' | number | TRUE | FALSE | NULL | [value, …] | {'key': value, …}
//!        | <<value, …>> | ? | path | value (+|-) value | list_append(a, b)
//!        | set_add(path, set) | set_delete(path, set) | if_not_exists(path, value)
//! ```
//!
//! `?` parameters are taken from the request's `Parameters`, in order.

use std::collections::BTreeMap;

use crate::error::TablesError;
use crate::expr::parse::{Action, Cmp, Cond, Operand, Path, Step};
use crate::number::Number;
use crate::value::{AttrValue, Item};

/// A parsed statement.
#[derive(Debug)]
pub enum Statement {
    Select {
        table: String,
        index: Option<String>,
        paths: Option<Vec<Path>>,
        filter: Option<Cond>,
    },
    Insert {
        table: String,
        item: Item,
    },
    Update {
        table: String,
        actions: Vec<Action>,
        filter: Cond,
        returning: Option<String>,
    },
    Delete {
        table: String,
        filter: Cond,
        returning: Option<String>,
    },
}

impl Statement {
    /// The table the statement acts on.
    pub fn table(&self) -> &str {
        match self {
            Statement::Select { table, .. }
            | Statement::Insert { table, .. }
            | Statement::Update { table, .. }
            | Statement::Delete { table, .. } => table,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Word(String),
    Quoted(String),
    Str(String),
    Num(String),
    Sym(&'static str),
    Param,
    Eof,
}

fn malformed(detail: impl std::fmt::Display) -> TablesError {
    TablesError::validation(format!(
        "Statement wasn't well formed, can't be processed: {detail}"
    ))
}

/// The tokens, each with whether it follows the previous one without space.
fn tokenize(src: &str) -> Result<(Vec<Tok>, Vec<bool>), TablesError> {
    const SYMS: &[&str] = &[
        "<<", ">>", "<>", "!=", "<=", ">=", "=", "<", ">", "(", ")", "[", "]", "{", "}", ",", ".",
        ":", "+", "-", "*",
    ];
    let mut out = Vec::new();
    let mut glued = Vec::new();
    let chars: Vec<char> = src.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if !c.is_whitespace() {
            glued.push(i > 0 && !chars[i - 1].is_whitespace());
        }
        if c.is_whitespace() {
            i += 1;
        } else if c == '\'' || c == '"' {
            let mut text = String::new();
            i += 1;
            loop {
                match chars.get(i) {
                    None => return Err(malformed("unterminated quoted text")),
                    Some(&q) if q == c && chars.get(i + 1) == Some(&c) => {
                        text.push(c);
                        i += 2;
                    }
                    Some(&q) if q == c => {
                        i += 1;
                        break;
                    }
                    Some(&other) => {
                        text.push(other);
                        i += 1;
                    }
                }
            }
            out.push(if c == '\'' {
                Tok::Str(text)
            } else {
                Tok::Quoted(text)
            });
        } else if c.is_ascii_digit() {
            let start = i;
            while i < chars.len()
                && (chars[i].is_ascii_digit()
                    || chars[i] == '.'
                    || chars[i] == 'e'
                    || chars[i] == 'E'
                    || ((chars[i] == '-' || chars[i] == '+') && matches!(chars[i - 1], 'e' | 'E')))
            {
                i += 1;
            }
            out.push(Tok::Num(chars[start..i].iter().collect()));
        } else if c.is_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            out.push(Tok::Word(chars[start..i].iter().collect()));
        } else if c == '?' {
            out.push(Tok::Param);
            i += 1;
        } else {
            let rest: String = chars[i..(i + 2).min(chars.len())].iter().collect();
            let sym = SYMS
                .iter()
                .find(|s| rest.starts_with(**s))
                .ok_or_else(|| malformed(format!("unexpected character '{c}'")))?;
            out.push(Tok::Sym(sym));
            i += sym.len();
        }
    }
    out.push(Tok::Eof);
    glued.push(false);
    Ok((out, glued))
}

struct Parser<'a> {
    toks: Vec<Tok>,
    glued: Vec<bool>,
    pos: usize,
    params: &'a [AttrValue],
    next_param: usize,
}

/// Parses a statement with its parameters.
pub fn parse(src: &str, params: &[AttrValue]) -> Result<Statement, TablesError> {
    if src.is_empty() || src.len() > 8192 {
        return Err(TablesError::validation(format!(
            "1 validation error detected: Value at 'statement' failed to satisfy constraint: Member must have length {}",
            if src.is_empty() { "greater than or equal to 1" } else { "less than or equal to 8192" }
        )));
    }
    let (toks, glued) = tokenize(src)?;
    // The parser recurses on brackets, parentheses and NOT: bound it.
    let (mut depth, mut deepest, mut nots) = (0usize, 0usize, 0usize);
    for tok in &toks {
        match tok {
            Tok::Sym("(" | "[" | "{" | "<<") => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            Tok::Sym(")" | "]" | "}" | ">>") => depth = depth.saturating_sub(1),
            Tok::Word(w) if w.eq_ignore_ascii_case("NOT") => nots += 1,
            _ => {}
        }
    }
    if deepest + nots > 64 {
        return Err(malformed("the statement nests too deeply"));
    }
    let mut p = Parser {
        toks,
        glued,
        pos: 0,
        params,
        next_param: 0,
    };
    let statement = p.statement()?;
    if p.peek() != &Tok::Eof {
        return Err(p.unexpected());
    }
    if p.next_param != params.len() {
        return Err(TablesError::validation(
            "Number of parameters in request and statement don't match.",
        ));
    }
    Ok(statement)
}

impl Parser<'_> {
    fn peek(&self) -> &Tok {
        &self.toks[self.pos.min(self.toks.len() - 1)]
    }

    fn next(&mut self) -> Tok {
        let tok = self.peek().clone();
        if self.pos < self.toks.len() - 1 {
            self.pos += 1;
        }
        tok
    }

    fn unexpected(&self) -> TablesError {
        match self.peek() {
            Tok::Eof => malformed("unexpected end of statement"),
            Tok::Word(w) | Tok::Num(w) => malformed(format!("unexpected token '{w}'")),
            Tok::Quoted(w) => malformed(format!("unexpected token '\"{w}\"'")),
            Tok::Str(w) => malformed(format!("unexpected token ''{w}''")),
            Tok::Sym(s) => malformed(format!("unexpected token '{s}'")),
            Tok::Param => malformed("unexpected token '?'"),
        }
    }

    fn is_word(&self, word: &str) -> bool {
        matches!(self.peek(), Tok::Word(w) if w.eq_ignore_ascii_case(word))
    }

    fn word(&mut self, word: &str) -> Result<(), TablesError> {
        if self.is_word(word) {
            self.next();
            Ok(())
        } else {
            Err(self.unexpected())
        }
    }

    fn sym(&mut self, sym: &'static str) -> Result<(), TablesError> {
        if self.peek() == &Tok::Sym(sym) {
            self.next();
            Ok(())
        } else {
            Err(self.unexpected())
        }
    }

    fn eat_sym(&mut self, sym: &'static str) -> bool {
        let found = self.peek() == &Tok::Sym(sym);
        if found {
            self.next();
        }
        found
    }

    fn statement(&mut self) -> Result<Statement, TablesError> {
        let Tok::Word(verb) = self.peek().clone() else {
            return Err(self.unexpected());
        };
        match verb.to_ascii_uppercase().as_str() {
            "SELECT" => {
                self.next();
                let paths = if self.eat_sym("*") {
                    None
                } else {
                    let mut paths = vec![self.path()?];
                    while self.eat_sym(",") {
                        paths.push(self.path()?);
                    }
                    Some(paths)
                };
                self.word("FROM")?;
                let table = self.table_name()?;
                let index = if self.eat_sym(".") {
                    Some(self.table_name()?)
                } else {
                    None
                };
                let filter = if self.is_word("WHERE") {
                    self.next();
                    Some(self.condition()?)
                } else {
                    None
                };
                Ok(Statement::Select {
                    table,
                    index,
                    paths,
                    filter,
                })
            }
            "INSERT" => {
                self.next();
                self.word("INTO")?;
                let table = self.table_name()?;
                self.word("VALUE")?;
                match self.value()? {
                    AttrValue::M(item) => Ok(Statement::Insert { table, item }),
                    _ => Err(malformed(
                        "INSERT needs a tuple value: VALUE {'attribute': value, ...}",
                    )),
                }
            }
            "UPDATE" => {
                self.next();
                let table = self.table_name()?;
                let mut actions = Vec::new();
                loop {
                    if self.is_word("SET") {
                        self.next();
                        loop {
                            let path = self.path()?;
                            self.sym("=")?;
                            let value = self.set_value()?;
                            actions.push(match value {
                                SetValue::Plain(op) => Action::Set(path, op),
                                SetValue::SetAdd(target, v) if target == path => {
                                    Action::Add(path, v)
                                }
                                SetValue::SetDelete(target, v) if target == path => {
                                    Action::Delete(path, v)
                                }
                                _ => {
                                    return Err(malformed(
                                        "set_add and set_delete must update the path they read",
                                    ))
                                }
                            });
                            if !self.eat_sym(",") {
                                break;
                            }
                        }
                    } else if self.is_word("REMOVE") {
                        self.next();
                        actions.push(Action::Remove(self.path()?));
                    } else {
                        break;
                    }
                }
                if actions.is_empty() {
                    return Err(self.unexpected());
                }
                self.word("WHERE")?;
                let filter = self.condition()?;
                let returning = self.returning()?;
                Ok(Statement::Update {
                    table,
                    actions,
                    filter,
                    returning,
                })
            }
            "DELETE" => {
                self.next();
                self.word("FROM")?;
                let table = self.table_name()?;
                self.word("WHERE")?;
                let filter = self.condition()?;
                let returning = self.returning()?;
                Ok(Statement::Delete {
                    table,
                    filter,
                    returning,
                })
            }
            _ => Err(self.unexpected()),
        }
    }

    /// `RETURNING ALL|MODIFIED OLD|NEW *` as a `ReturnValues` name.
    fn returning(&mut self) -> Result<Option<String>, TablesError> {
        if !self.is_word("RETURNING") {
            return Ok(None);
        }
        self.next();
        let which = match self.next() {
            Tok::Word(w) if w.eq_ignore_ascii_case("ALL") => "ALL",
            Tok::Word(w) if w.eq_ignore_ascii_case("MODIFIED") => "UPDATED",
            _ => return Err(self.unexpected()),
        };
        let age = match self.next() {
            Tok::Word(w) if w.eq_ignore_ascii_case("OLD") => "OLD",
            Tok::Word(w) if w.eq_ignore_ascii_case("NEW") => "NEW",
            _ => return Err(self.unexpected()),
        };
        self.sym("*")?;
        Ok(Some(format!("{which}_{age}")))
    }

    /// A table or index name: quoted, or unquoted with the `-` and digits
    /// DynamoDB's names may hold (`my-table-2`).
    fn table_name(&mut self) -> Result<String, TablesError> {
        let mut name = match self.peek().clone() {
            Tok::Quoted(w) => {
                self.next();
                return Ok(w);
            }
            Tok::Word(w) => {
                self.next();
                w
            }
            _ => return Err(self.unexpected()),
        };
        while self.glued.get(self.pos).copied().unwrap_or(false) {
            match self.peek().clone() {
                Tok::Word(w) | Tok::Num(w) => name.push_str(&w),
                Tok::Sym("-") => name.push('-'),
                _ => break,
            }
            self.next();
        }
        Ok(name)
    }

    /// An attribute name: a word or a `"quoted"` name.
    fn name(&mut self) -> Result<String, TablesError> {
        match self.peek().clone() {
            Tok::Word(w) | Tok::Quoted(w) => {
                self.next();
                Ok(w)
            }
            _ => Err(self.unexpected()),
        }
    }

    fn path(&mut self) -> Result<Path, TablesError> {
        let mut steps = vec![Step::Attr(self.name()?)];
        loop {
            if self.eat_sym(".") {
                steps.push(Step::Attr(self.name()?));
            } else if self.eat_sym("[") {
                match self.next() {
                    Tok::Num(n) => steps.push(Step::Index(
                        n.parse().map_err(|_| malformed("bad list index"))?,
                    )),
                    Tok::Str(key) => steps.push(Step::Attr(key)),
                    _ => return Err(self.unexpected()),
                }
                self.sym("]")?;
            } else {
                return Ok(Path(steps));
            }
        }
    }

    fn condition(&mut self) -> Result<Cond, TablesError> {
        let mut left = self.and()?;
        while self.is_word("OR") {
            self.next();
            left = Cond::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Cond, TablesError> {
        let mut left = self.not()?;
        while self.is_word("AND") {
            self.next();
            left = Cond::And(Box::new(left), Box::new(self.not()?));
        }
        Ok(left)
    }

    fn not(&mut self) -> Result<Cond, TablesError> {
        if self.is_word("NOT") {
            self.next();
            return Ok(Cond::Not(Box::new(self.not()?)));
        }
        if self.eat_sym("(") {
            let inner = self.condition()?;
            self.sym(")")?;
            return Ok(inner);
        }
        if let Tok::Word(w) = self.peek().clone() {
            let lower = w.to_ascii_lowercase();
            if ["begins_with", "contains", "attribute_type"].contains(&lower.as_str())
                && self.toks.get(self.pos + 1) == Some(&Tok::Sym("("))
            {
                self.next();
                self.next();
                let path = self.path()?;
                self.sym(",")?;
                let value = Operand::Value(self.value()?);
                self.sym(")")?;
                return Ok(match lower.as_str() {
                    "begins_with" => Cond::BeginsWith(Operand::Path(path), value),
                    "contains" => Cond::Contains(Operand::Path(path), value),
                    _ => Cond::Type(path, value),
                });
            }
        }
        let left = self.operand()?;
        if self.is_word("IS") {
            self.next();
            let negated = self.is_word("NOT");
            if negated {
                self.next();
            }
            let Operand::Path(path) = left else {
                return Err(self.unexpected());
            };
            let cond = match self.next() {
                Tok::Word(w) if w.eq_ignore_ascii_case("MISSING") => Cond::NotExists(path),
                Tok::Word(w) if w.eq_ignore_ascii_case("NULL") => {
                    Cond::Type(path, Operand::Value(AttrValue::S("NULL".into())))
                }
                _ => return Err(self.unexpected()),
            };
            return Ok(if negated {
                Cond::Not(Box::new(cond))
            } else {
                cond
            });
        }
        if self.is_word("BETWEEN") {
            self.next();
            let low = self.operand()?;
            self.word("AND")?;
            return Ok(Cond::Between(left, low, self.operand()?));
        }
        if self.is_word("IN") {
            self.next();
            let close = if self.eat_sym("[") {
                "]"
            } else {
                self.sym("(")?;
                ")"
            };
            let mut list = vec![self.operand()?];
            while self.eat_sym(",") {
                list.push(self.operand()?);
            }
            self.sym(close)?;
            return Ok(Cond::In(left, list));
        }
        let cmp = match self.next() {
            Tok::Sym("=") => Cmp::Eq,
            Tok::Sym("<>" | "!=") => Cmp::Ne,
            Tok::Sym("<") => Cmp::Lt,
            Tok::Sym("<=") => Cmp::Le,
            Tok::Sym(">") => Cmp::Gt,
            Tok::Sym(">=") => Cmp::Ge,
            _ => {
                self.pos -= 1;
                return Err(self.unexpected());
            }
        };
        Ok(Cond::Compare(left, cmp, self.operand()?))
    }

    /// A path or a literal.
    fn operand(&mut self) -> Result<Operand, TablesError> {
        match self.peek() {
            Tok::Word(w) if !is_literal_word(w) => Ok(Operand::Path(self.path()?)),
            Tok::Quoted(_) => Ok(Operand::Path(self.path()?)),
            _ => Ok(Operand::Value(self.value()?)),
        }
    }

    fn set_value(&mut self) -> Result<SetValue, TablesError> {
        if let Tok::Word(w) = self.peek().clone() {
            let lower = w.to_ascii_lowercase();
            if self.toks.get(self.pos + 1) == Some(&Tok::Sym("(")) {
                self.next();
                self.next();
                let out = match lower.as_str() {
                    "list_append" => {
                        let a = self.term()?;
                        self.sym(",")?;
                        SetValue::Plain(Operand::ListAppend(Box::new(a), Box::new(self.term()?)))
                    }
                    "if_not_exists" => {
                        let path = self.path()?;
                        self.sym(",")?;
                        SetValue::Plain(Operand::IfNotExists(path, Box::new(self.term()?)))
                    }
                    "set_add" | "set_delete" => {
                        let path = self.path()?;
                        self.sym(",")?;
                        let value = Operand::Value(self.value()?);
                        if lower == "set_add" {
                            SetValue::SetAdd(path, value)
                        } else {
                            SetValue::SetDelete(path, value)
                        }
                    }
                    _ => return Err(malformed(format!("unknown function '{w}'"))),
                };
                self.sym(")")?;
                return Ok(out);
            }
        }
        let left = self.term()?;
        if self.eat_sym("+") {
            return Ok(SetValue::Plain(Operand::Plus(
                Box::new(left),
                Box::new(self.term()?),
            )));
        }
        if self.eat_sym("-") {
            return Ok(SetValue::Plain(Operand::Minus(
                Box::new(left),
                Box::new(self.term()?),
            )));
        }
        Ok(SetValue::Plain(left))
    }

    fn term(&mut self) -> Result<Operand, TablesError> {
        self.operand()
    }

    /// A literal value or a `?` parameter.
    fn value(&mut self) -> Result<AttrValue, TablesError> {
        match self.next() {
            Tok::Param => {
                let value = self.params.get(self.next_param).cloned().ok_or_else(|| {
                    TablesError::validation(
                        "Number of parameters in request and statement don't match.",
                    )
                })?;
                self.next_param += 1;
                Ok(value)
            }
            Tok::Str(s) => Ok(AttrValue::S(s)),
            Tok::Num(n) => Ok(AttrValue::N(Number::parse(&n)?)),
            Tok::Sym("-") => match self.next() {
                Tok::Num(n) => Ok(AttrValue::N(Number::parse(&format!("-{n}"))?)),
                _ => Err(self.unexpected()),
            },
            Tok::Word(w) if w.eq_ignore_ascii_case("TRUE") => Ok(AttrValue::Bool(true)),
            Tok::Word(w) if w.eq_ignore_ascii_case("FALSE") => Ok(AttrValue::Bool(false)),
            Tok::Word(w) if w.eq_ignore_ascii_case("NULL") => Ok(AttrValue::Null),
            Tok::Sym("[") => {
                let mut list = Vec::new();
                if !self.eat_sym("]") {
                    list.push(self.value()?);
                    while self.eat_sym(",") {
                        list.push(self.value()?);
                    }
                    self.sym("]")?;
                }
                Ok(AttrValue::L(list))
            }
            Tok::Sym("{") => {
                let mut map = BTreeMap::new();
                if !self.eat_sym("}") {
                    loop {
                        let key = match self.next() {
                            Tok::Str(k) | Tok::Quoted(k) => k,
                            _ => return Err(self.unexpected()),
                        };
                        self.sym(":")?;
                        map.insert(key, self.value()?);
                        if !self.eat_sym(",") {
                            break;
                        }
                    }
                    self.sym("}")?;
                }
                Ok(AttrValue::M(map))
            }
            Tok::Sym("<<") => {
                let mut items = vec![self.value()?];
                while self.eat_sym(",") {
                    items.push(self.value()?);
                }
                self.sym(">>")?;
                set_of(items)
            }
            _ => {
                self.pos -= 1;
                Err(self.unexpected())
            }
        }
    }
}

enum SetValue {
    Plain(Operand),
    SetAdd(Path, Operand),
    SetDelete(Path, Operand),
}

fn is_literal_word(word: &str) -> bool {
    ["TRUE", "FALSE", "NULL"]
        .iter()
        .any(|w| w.eq_ignore_ascii_case(word))
}

/// `<<a, b>>`: a string, number or binary set of distinct values.
fn set_of(items: Vec<AttrValue>) -> Result<AttrValue, TablesError> {
    let mixed = || malformed("a set must hold values of one type: strings, numbers or binaries");
    let set = match items.first() {
        Some(AttrValue::S(_)) => AttrValue::Ss(
            items
                .into_iter()
                .map(|v| {
                    if let AttrValue::S(s) = v {
                        Ok(s)
                    } else {
                        Err(mixed())
                    }
                })
                .collect::<Result<_, _>>()?,
        ),
        Some(AttrValue::N(_)) => AttrValue::Ns(
            items
                .into_iter()
                .map(|v| {
                    if let AttrValue::N(n) = v {
                        Ok(n)
                    } else {
                        Err(mixed())
                    }
                })
                .collect::<Result<_, _>>()?,
        ),
        Some(AttrValue::B(_)) => AttrValue::Bs(
            items
                .into_iter()
                .map(|v| {
                    if let AttrValue::B(b) = v {
                        Ok(b)
                    } else {
                        Err(mixed())
                    }
                })
                .collect::<Result<_, _>>()?,
        ),
        _ => return Err(mixed()),
    };
    // Re-validate through the wire form: no duplicates.
    AttrValue::from_json(&set.to_json())
}
