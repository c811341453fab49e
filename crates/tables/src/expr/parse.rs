//! A recursive-descent parser for condition, update and projection
//! expressions. `#name` and `:value` placeholders are resolved while
//! parsing (and marked used), so the ASTs hold real names and values.
//!
//! ```text
//! condition := or ; or := and (OR and)* ; and := not (AND not)*
//! not       := NOT not | '(' condition ')' | function '(' args ')'
//!            | operand (cmp operand | BETWEEN operand AND operand | IN '(' operand, … ')')
//! operand   := path | :value | size '(' path ')'
//! update    := (SET action, … | REMOVE path, … | ADD path :value, … | DELETE path :value, …)+
//! action    := path '=' value ; value := term (('+' | '-') term)?
//! term      := operand | if_not_exists '(' path ',' value ')' | list_append '(' value ',' value ')'
//! path      := name ('.' name | '[' integer ']')*
//! ```

use super::lex::{syntax_error, tokenize, Spanned, Tok};
use super::Attrs;
use crate::error::TablesError;
use crate::value::AttrValue;

/// One step of a document path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    Attr(String),
    Index(usize),
}

/// A document path such as `a.b[2]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Path(pub Vec<Step>);

impl Path {
    /// The top-level attribute name.
    pub fn head(&self) -> &str {
        match self.0.first() {
            Some(Step::Attr(name)) => name,
            _ => "",
        }
    }

    /// DynamoDB's rendering in overlap messages: `[a, b, [2]]`.
    pub fn show(&self) -> String {
        let parts: Vec<String> = self
            .0
            .iter()
            .map(|s| match s {
                Step::Attr(a) => a.clone(),
                Step::Index(i) => format!("[{i}]"),
            })
            .collect();
        format!("[{}]", parts.join(", "))
    }
}

/// A value in an expression.
#[derive(Clone, Debug)]
pub enum Operand {
    Path(Path),
    Value(AttrValue),
    Size(Path),
    IfNotExists(Path, Box<Operand>),
    ListAppend(Box<Operand>, Box<Operand>),
    Plus(Box<Operand>, Box<Operand>),
    Minus(Box<Operand>, Box<Operand>),
}

/// A comparison operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cmp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

/// A condition.
#[derive(Clone, Debug)]
pub enum Cond {
    Compare(Operand, Cmp, Operand),
    Between(Operand, Operand, Operand),
    In(Operand, Vec<Operand>),
    And(Box<Cond>, Box<Cond>),
    Or(Box<Cond>, Box<Cond>),
    Not(Box<Cond>),
    Exists(Path),
    NotExists(Path),
    Type(Path, Operand),
    BeginsWith(Operand, Operand),
    Contains(Operand, Operand),
}

/// One action of an update expression.
#[derive(Clone, Debug)]
pub enum Action {
    Set(Path, Operand),
    Remove(Path),
    Add(Path, Operand),
    Delete(Path, Operand),
}

struct Parser<'a> {
    src: &'a str,
    toks: Vec<Spanned>,
    pos: usize,
    what: &'static str,
    attrs: &'a mut Attrs,
    /// The first reserved word used as a name; reported only when the
    /// expression is otherwise valid, as DynamoDB reports syntax first.
    reserved: Option<String>,
}

/// DynamoDB's reserved words, as its developer guide lists them (sorted).
const RESERVED: &str = include_str!("reserved.txt");

fn is_reserved(word: &str) -> bool {
    static WORDS: std::sync::OnceLock<Vec<&'static str>> = std::sync::OnceLock::new();
    let words = WORDS.get_or_init(|| RESERVED.lines().collect());
    words
        .binary_search(&word.to_ascii_uppercase().as_str())
        .is_ok()
}

/// DynamoDB's limit on an expression's length.
const MAX_EXPRESSION: usize = 4096;
/// Steps a document path may have (DynamoDB nests documents 32 deep).
const MAX_PATH_DEPTH: usize = 32;
/// Parentheses, brackets and NOTs an expression may nest.
const MAX_NESTING: usize = 64;

const FUNCTIONS: &[&str] = &[
    "attribute_exists",
    "attribute_not_exists",
    "attribute_type",
    "begins_with",
    "contains",
    "size",
    "if_not_exists",
    "list_append",
];

impl<'a> Parser<'a> {
    fn new(src: &'a str, what: &'static str, attrs: &'a mut Attrs) -> Result<Self, TablesError> {
        if src.trim().is_empty() {
            return Err(TablesError::validation(format!(
                "Invalid {what}: The expression can not be empty;"
            )));
        }
        if src.len() > MAX_EXPRESSION {
            return Err(TablesError::validation(format!(
                "Invalid {what}: Expression size has exceeded the maximum allowed size; expression size: {}",
                src.len()
            )));
        }
        let toks = tokenize(src, what)?;
        // The parser recurses on parentheses and NOT: bound it before
        // parsing, so no expression can exhaust the stack.
        let (mut depth, mut deepest, mut nots) = (0usize, 0usize, 0usize);
        for t in &toks {
            match &t.tok {
                Tok::Sym("(" | "[") => {
                    depth += 1;
                    deepest = deepest.max(depth);
                }
                Tok::Sym(")" | "]") => depth = depth.saturating_sub(1),
                Tok::Ident(word) if word.eq_ignore_ascii_case("NOT") => nots += 1,
                _ => {}
            }
        }
        if deepest + nots > MAX_NESTING {
            return Err(TablesError::validation(format!(
                "Invalid {what}: The expression has exceeded the maximum nesting depth; depth: {}",
                deepest + nots
            )));
        }
        Ok(Self {
            src,
            toks,
            pos: 0,
            what,
            attrs,
            reserved: None,
        })
    }

    fn peek(&self) -> &Tok {
        &self.toks[self.pos.min(self.toks.len() - 1)].tok
    }

    fn peek_at(&self, n: usize) -> &Tok {
        &self.toks[(self.pos + n).min(self.toks.len() - 1)].tok
    }

    fn next(&mut self) -> Tok {
        let tok = self.peek().clone();
        if self.pos < self.toks.len() - 1 {
            self.pos += 1;
        }
        tok
    }

    fn error(&self) -> TablesError {
        let i = self.pos.min(self.toks.len() - 1);
        let current = &self.toks[i];
        let start = if i > 0 {
            self.toks[i - 1].start
        } else {
            current.start
        };
        let end = self
            .toks
            .get(i + 1)
            .map_or(current.end, |t| t.end.max(current.end));
        syntax_error(self.what, &current.tok.text(), self.src, start, end)
    }

    fn is_keyword(&self, word: &str) -> bool {
        matches!(self.peek(), Tok::Ident(s) if s.eq_ignore_ascii_case(word))
    }

    fn expect_sym(&mut self, sym: &'static str) -> Result<(), TablesError> {
        if self.peek() == &Tok::Sym(sym) {
            self.next();
            Ok(())
        } else {
            Err(self.error())
        }
    }

    fn expect_end(&self) -> Result<(), TablesError> {
        if self.peek() != &Tok::Eof {
            return Err(self.error());
        }
        match &self.reserved {
            Some(word) => Err(TablesError::validation(format!(
                "Invalid {}: Attribute name is a reserved keyword; reserved keyword: {word}",
                self.what
            ))),
            None => Ok(()),
        }
    }

    fn condition(&mut self) -> Result<Cond, TablesError> {
        let mut left = self.and()?;
        while self.is_keyword("OR") {
            self.next();
            let right = self.and()?;
            left = Cond::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Cond, TablesError> {
        let mut left = self.not()?;
        while self.is_keyword("AND") {
            self.next();
            let right = self.not()?;
            left = Cond::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn not(&mut self) -> Result<Cond, TablesError> {
        if self.is_keyword("NOT") {
            self.next();
            return Ok(Cond::Not(Box::new(self.not()?)));
        }
        if self.peek() == &Tok::Sym("(") {
            if self.redundant_parentheses() {
                return Err(TablesError::validation(format!(
                    "Invalid {}: The expression has redundant parentheses;",
                    self.what
                )));
            }
            self.next();
            let inner = self.condition()?;
            self.expect_sym(")")?;
            return Ok(inner);
        }
        if let (Tok::Ident(name), Tok::Sym("(")) = (self.peek().clone(), self.peek_at(1)) {
            let lower = name.clone();
            if lower != "size" {
                return self.condition_function(&name);
            }
        }
        let left = self.operand()?;
        match self.peek().clone() {
            Tok::Sym(op @ ("=" | "<>" | "<" | "<=" | ">" | ">=")) => {
                self.next();
                let right = self.operand()?;
                let cmp = match op {
                    "=" => Cmp::Eq,
                    "<>" => Cmp::Ne,
                    "<" => Cmp::Lt,
                    "<=" => Cmp::Le,
                    ">" => Cmp::Gt,
                    _ => Cmp::Ge,
                };
                Ok(Cond::Compare(left, cmp, right))
            }
            Tok::Ident(word) if word.eq_ignore_ascii_case("BETWEEN") => {
                self.next();
                let low = self.operand()?;
                if !self.is_keyword("AND") {
                    return Err(self.error());
                }
                self.next();
                let high = self.operand()?;
                if let (Operand::Value(a), Operand::Value(b)) = (&low, &high) {
                    if a.compare(b).is_some_and(|o| o.is_gt()) {
                        return Err(TablesError::validation(format!(
                            "Invalid {}: The BETWEEN operator requires upper bound to be greater than or equal to lower bound; lower bound operand: AttributeValue: {{{}:{}}}, upper bound operand: AttributeValue: {{{}:{}}}",
                            self.what, a.type_name(), scalar_text(a), b.type_name(), scalar_text(b)
                        )));
                    }
                }
                Ok(Cond::Between(left, low, high))
            }
            Tok::Ident(word) if word.eq_ignore_ascii_case("IN") => {
                self.next();
                self.expect_sym("(")?;
                let mut list = vec![self.operand()?];
                while self.peek() == &Tok::Sym(",") {
                    self.next();
                    list.push(self.operand()?);
                }
                self.expect_sym(")")?;
                Ok(Cond::In(left, list))
            }
            _ => Err(self.error()),
        }
    }

    fn condition_function(&mut self, name: &str) -> Result<Cond, TablesError> {
        let lower = name.to_string();
        if !FUNCTIONS.contains(&lower.as_str()) {
            return Err(TablesError::validation(format!(
                "Invalid {}: Invalid function name; function: {name}",
                self.what
            )));
        }
        if lower == "if_not_exists" || lower == "list_append" {
            return Err(TablesError::validation(format!(
                "Invalid {}: The function is not allowed to be used this way in an expression; function: {name}",
                self.what
            )));
        }
        self.next();
        self.expect_sym("(")?;
        let cond = match lower.as_str() {
            "attribute_exists" => Cond::Exists(self.path()?),
            "attribute_not_exists" => Cond::NotExists(self.path()?),
            "attribute_type" => {
                let path = self.path()?;
                self.expect_sym(",")?;
                let kind = self.operand()?;
                if let Operand::Value(v) = &kind {
                    const TYPES: &[&str] =
                        &["S", "SS", "N", "NS", "B", "BS", "BOOL", "NULL", "L", "M"];
                    let ok = matches!(v, AttrValue::S(s) if TYPES.contains(&s.as_str()));
                    if !ok {
                        return Err(TablesError::validation(format!(
                            "Invalid {}: Invalid attribute type name found; type: {}, valid types: {{B,NULL,SS,BOOL,L,BS,N,NS,S,M}}",
                            self.what,
                            scalar_text(v)
                        )));
                    }
                }
                Cond::Type(path, kind)
            }
            "begins_with" => {
                let a = self.operand()?;
                self.expect_sym(",")?;
                let b = self.operand()?;
                for operand in [&a, &b] {
                    if let Operand::Value(v) = operand {
                        if !matches!(v, AttrValue::S(_) | AttrValue::B(_)) {
                            return Err(self.operand_type_error("begins_with", v));
                        }
                    }
                }
                Cond::BeginsWith(a, b)
            }
            _ => {
                let a = self.operand()?;
                self.expect_sym(",")?;
                Cond::Contains(a, self.operand()?)
            }
        };
        self.expect_sym(")")?;
        Ok(cond)
    }

    /// Whether the group opened at the current `(` holds nothing but
    /// another parenthesized group: `((a < b))`.
    fn redundant_parentheses(&self) -> bool {
        if self.peek_at(1) != &Tok::Sym("(") {
            return false;
        }
        let mut depth = 0usize;
        let mut i = self.pos + 1;
        while i < self.toks.len() {
            match &self.toks[i].tok {
                Tok::Sym("(") => depth += 1,
                Tok::Sym(")") => {
                    depth -= 1;
                    if depth == 0 {
                        return self.toks.get(i + 1).is_some_and(|t| t.tok == Tok::Sym(")"));
                    }
                }
                Tok::Eof => return false,
                _ => {}
            }
            i += 1;
        }
        false
    }

    /// The `:value` an ADD or DELETE action takes (a path is a syntax error).
    fn placeholder(&mut self) -> Result<Operand, TablesError> {
        match self.peek().clone() {
            Tok::Value(name) => {
                self.next();
                Ok(Operand::Value(self.attrs.value(&name, self.what)?))
            }
            _ => Err(self.error()),
        }
    }

    fn operand_type_error(&self, function: &str, value: &AttrValue) -> TablesError {
        TablesError::validation(format!(
            "Invalid {}: Incorrect operand type for operator or function; operator or function: {function}, operand type: {}",
            self.what,
            value.type_name()
        ))
    }

    /// `path | :value | size(path)`.
    fn operand(&mut self) -> Result<Operand, TablesError> {
        match self.peek().clone() {
            Tok::Value(name) => {
                self.next();
                Ok(Operand::Value(self.attrs.value(&name, self.what)?))
            }
            Tok::Ident(name) if self.peek_at(1) == &Tok::Sym("(") => {
                let lower = name.clone();
                if lower != "size" {
                    if FUNCTIONS.contains(&lower.as_str()) {
                        return Err(TablesError::validation(format!(
                            "Invalid {}: The function is not allowed to be used this way in an expression; function: {name}",
                            self.what
                        )));
                    }
                    return Err(TablesError::validation(format!(
                        "Invalid {}: Invalid function name; function: {name}",
                        self.what
                    )));
                }
                self.next();
                self.next();
                let path = self.path()?;
                self.expect_sym(")")?;
                Ok(Operand::Size(path))
            }
            Tok::Ident(_) | Tok::Name(_) => Ok(Operand::Path(self.path()?)),
            _ => Err(self.error()),
        }
    }

    fn name(&mut self) -> Result<String, TablesError> {
        match self.peek().clone() {
            Tok::Ident(name) => {
                self.next();
                if self.reserved.is_none() && is_reserved(&name) {
                    self.reserved = Some(name.clone());
                }
                Ok(name)
            }
            Tok::Name(name) => {
                self.next();
                self.attrs.name(&name, self.what)
            }
            _ => Err(self.error()),
        }
    }

    fn path(&mut self) -> Result<Path, TablesError> {
        let mut steps = vec![Step::Attr(self.name()?)];
        loop {
            match self.peek() {
                Tok::Sym(".") => {
                    self.next();
                    steps.push(Step::Attr(self.name()?));
                }
                Tok::Sym("[") => {
                    self.next();
                    let Tok::Int(digits) = self.peek().clone() else {
                        return Err(self.error());
                    };
                    self.next();
                    let index = digits.parse::<usize>().map_err(|_| self.error())?;
                    self.expect_sym("]")?;
                    steps.push(Step::Index(index));
                }
                _ => return Ok(Path(steps)),
            }
            if steps.len() > MAX_PATH_DEPTH {
                return Err(TablesError::validation(format!(
                    "Invalid {}: The document path has exceeded the maximum nesting level of {MAX_PATH_DEPTH}",
                    self.what
                )));
            }
        }
    }

    /// An update's value: `term (+|- term)?`.
    fn set_value(&mut self) -> Result<Operand, TablesError> {
        let left = self.term()?;
        match self.peek() {
            Tok::Sym("+") => {
                self.next();
                Ok(Operand::Plus(Box::new(left), Box::new(self.term()?)))
            }
            Tok::Sym("-") => {
                self.next();
                Ok(Operand::Minus(Box::new(left), Box::new(self.term()?)))
            }
            _ => Ok(left),
        }
    }

    fn term(&mut self) -> Result<Operand, TablesError> {
        if let (Tok::Ident(name), Tok::Sym("(")) = (self.peek().clone(), self.peek_at(1)) {
            match name.as_str() {
                "if_not_exists" => {
                    self.next();
                    self.next();
                    let path = self.path()?;
                    self.expect_sym(",")?;
                    let value = self.set_value()?;
                    self.expect_sym(")")?;
                    return Ok(Operand::IfNotExists(path, Box::new(value)));
                }
                "list_append" => {
                    self.next();
                    self.next();
                    let a = self.set_value()?;
                    self.expect_sym(",")?;
                    let b = self.set_value()?;
                    self.expect_sym(")")?;
                    return Ok(Operand::ListAppend(Box::new(a), Box::new(b)));
                }
                "size" => {}
                _ if FUNCTIONS.contains(&name.as_str()) => {
                    return Err(TablesError::validation(format!(
                        "Invalid {}: The function is not allowed in an update expression; function: {name}",
                        self.what
                    )))
                }
                _ => {
                    return Err(TablesError::validation(format!(
                        "Invalid {}: Invalid function name; function: {name}",
                        self.what
                    )))
                }
            }
            return Err(TablesError::validation(format!(
                "Invalid {}: The function is not allowed in an update expression; function: {name}",
                self.what
            )));
        }
        self.operand()
    }

    fn update(&mut self) -> Result<Vec<Action>, TablesError> {
        let mut actions = Vec::new();
        let mut seen: Vec<String> = Vec::new();
        while self.peek() != &Tok::Eof {
            let Tok::Ident(word) = self.peek().clone() else {
                return Err(self.error());
            };
            let clause = word.to_ascii_uppercase();
            if !["SET", "REMOVE", "ADD", "DELETE"].contains(&clause.as_str()) {
                return Err(self.error());
            }
            if seen.contains(&clause) {
                return Err(TablesError::validation(format!(
                    "Invalid UpdateExpression: The \"{clause}\" section can only be used once in an update expression;"
                )));
            }
            seen.push(clause.clone());
            self.next();
            loop {
                let path = self.path()?;
                let action = match clause.as_str() {
                    "SET" => {
                        self.expect_sym("=")?;
                        Action::Set(path, self.set_value()?)
                    }
                    "REMOVE" => Action::Remove(path),
                    "ADD" => Action::Add(path, self.placeholder()?),
                    _ => Action::Delete(path, self.placeholder()?),
                };
                actions.push(action);
                if self.peek() == &Tok::Sym(",") {
                    self.next();
                } else {
                    break;
                }
            }
        }
        if actions.is_empty() {
            return Err(self.error());
        }
        Ok(actions)
    }
}

fn scalar_text(v: &AttrValue) -> String {
    match v {
        AttrValue::S(s) => s.clone(),
        AttrValue::N(n) => n.to_string(),
        other => other.to_json().to_string(),
    }
}

/// Parses a condition (`ConditionExpression`, `FilterExpression`,
/// `KeyConditionExpression` as named by `what`).
pub fn condition(src: &str, what: &'static str, attrs: &mut Attrs) -> Result<Cond, TablesError> {
    let mut parser = Parser::new(src, what, attrs)?;
    let cond = parser.condition()?;
    parser.expect_end()?;
    Ok(cond)
}

/// Parses an `UpdateExpression`.
pub fn update(src: &str, attrs: &mut Attrs) -> Result<Vec<Action>, TablesError> {
    let mut parser = Parser::new(src, "UpdateExpression", attrs)?;
    let actions = parser.update()?;
    parser.expect_end()?;
    Ok(actions)
}

/// Parses a `ProjectionExpression`.
pub fn projection(src: &str, attrs: &mut Attrs) -> Result<Vec<Path>, TablesError> {
    let mut parser = Parser::new(src, "ProjectionExpression", attrs)?;
    let mut paths = vec![parser.path()?];
    while parser.peek() == &Tok::Sym(",") {
        parser.next();
        paths.push(parser.path()?);
    }
    parser.expect_end()?;
    Ok(paths)
}
