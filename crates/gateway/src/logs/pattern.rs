//! CloudWatch Logs filter patterns, parsed once and matched per event.
//!
//! Three forms, chosen by the first character:
//! - terms: `ERROR` (every plain term must appear), `"a phrase"`,
//!   `?ERROR ?WARN` (at least one of the `?` terms), `-DEBUG` (must not
//!   appear); `*` in a term matches any run of characters; case-sensitive;
//! - JSON, `{ ... }`: comparisons of selectors (`$.a.b`, `$.list[0]`) with
//!   `=`, `!=` (strings with `*` wildcards, or numbers), `<`, `<=`, `>`,
//!   `>=` (numbers), `IS NULL`, `IS TRUE`, `IS FALSE`, `NOT EXISTS`,
//!   joined with `&&`, `||` and parentheses; a message that is not a JSON
//!   object never matches;
//! - space-delimited, `[ ... ]`: fields named in order (`...` stands for
//!   any number of fields), each optionally compared as above; a message's
//!   fields are split on spaces, `"quoted"` and `[bracketed]` runs being
//!   one field each.

use serde_json::Value;

/// A parsed filter pattern.
#[derive(Debug, Clone, PartialEq)]
pub enum Pattern {
    /// The empty pattern: every event.
    All,
    Terms(Terms),
    Json(Expr),
    Delimited(Vec<Field>),
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Terms {
    required: Vec<String>,
    any_of: Vec<String>,
    excluded: Vec<String>,
}

/// A JSON pattern's expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Test(Vec<Step>, Test),
}

/// One step of a selector: a member or an array index.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    Key(String),
    Index(usize),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

/// What a selected value (or a delimited field) is tested for.
#[derive(Debug, Clone, PartialEq)]
pub enum Test {
    Compare(Op, Literal),
    IsNull,
    IsBool(bool),
    NotExists,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    Number(f64),
    /// A string, possibly with `*` wildcards.
    Text(String),
}

/// A field of a space-delimited pattern.
#[derive(Debug, Clone, PartialEq)]
pub enum Field {
    /// `...`: any number of fields.
    Rest,
    /// A named field with the conditions on it (alternatives of
    /// conjunctions), none for any value.
    Named(Vec<Vec<(Op, Literal)>>),
}

/// Why a pattern does not parse (InvalidParameterException's message).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatternError(String);

impl std::fmt::Display for PatternError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Invalid filter pattern: {}", self.0)
    }
}

impl std::error::Error for PatternError {}

fn fail<T>(why: impl Into<String>) -> Result<T, PatternError> {
    Err(PatternError(why.into()))
}

impl Pattern {
    pub fn parse(text: &str) -> Result<Pattern, PatternError> {
        let text = text.trim();
        if text.is_empty() {
            return Ok(Pattern::All);
        }
        if let Some(inner) = text.strip_prefix('{') {
            let Some(inner) = inner.strip_suffix('}') else {
                return fail("a JSON pattern ends with }");
            };
            let mut p = Parser::new(inner);
            let expr = p.or()?;
            p.skip_ws();
            if !p.at_end() {
                return fail(format!("unexpected '{}'", p.rest()));
            }
            return Ok(Pattern::Json(expr));
        }
        if let Some(inner) = text.strip_prefix('[') {
            let Some(inner) = inner.strip_suffix(']') else {
                return fail("a space-delimited pattern ends with ]");
            };
            return delimited(inner).map(Pattern::Delimited);
        }
        terms(text).map(Pattern::Terms)
    }

    pub fn matches(&self, message: &str) -> bool {
        match self {
            Pattern::All => true,
            Pattern::Terms(t) => t.matches(message),
            Pattern::Json(expr) => match serde_json::from_str::<Value>(message.trim()) {
                Ok(value @ Value::Object(_)) => expr.eval(&value),
                _ => false,
            },
            Pattern::Delimited(fields) => {
                let values = split_fields(message.trim_end_matches(['\n', '\r']));
                match_fields(fields, &values)
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Terms

fn terms(text: &str) -> Result<Terms, PatternError> {
    let mut out = Terms::default();
    let mut chars = text.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let Some(&first) = chars.peek() else { break };
        let kind = match first {
            '?' | '-' => {
                chars.next();
                first
            }
            _ => ' ',
        };
        let term = if chars.peek() == Some(&'"') {
            chars.next();
            let mut s = String::new();
            loop {
                match chars.next() {
                    None => return fail("a quoted term is not closed"),
                    Some('"') => break,
                    Some('\\') => match chars.next() {
                        Some(c) => s.push(c),
                        None => return fail("a quoted term is not closed"),
                    },
                    Some(c) => s.push(c),
                }
            }
            s
        } else {
            let mut s = String::new();
            while let Some(c) = chars.next_if(|c| !c.is_whitespace()) {
                s.push(c);
            }
            s
        };
        if term.is_empty() {
            if kind == ' ' {
                continue;
            }
            return fail(format!("'{kind}' needs a term after it"));
        }
        match kind {
            '?' => out.any_of.push(term),
            '-' => out.excluded.push(term),
            _ => out.required.push(term),
        }
    }
    Ok(out)
}

impl Terms {
    fn matches(&self, message: &str) -> bool {
        self.required.iter().all(|t| contains(message, t))
            && (self.any_of.is_empty() || self.any_of.iter().any(|t| contains(message, t)))
            && !self.excluded.iter().any(|t| contains(message, t))
    }
}

/// Whether `text` contains `term`, whose `*`s match any run of characters.
fn contains(text: &str, term: &str) -> bool {
    let parts: Vec<&str> = term.split('*').filter(|p| !p.is_empty()).collect();
    let mut rest = text;
    for part in parts {
        match rest.find(part) {
            Some(i) => rest = &rest[i + part.len()..],
            None => return false,
        }
    }
    true
}

/// Whether all of `text` matches `pattern`, whose `*`s match any run.
fn wildcard_eq(text: &str, pattern: &str) -> bool {
    if !pattern.contains('*') {
        return text == pattern;
    }
    let parts: Vec<&str> = pattern.split('*').collect();
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !text.starts_with(first) || text.len() < first.len() + last.len() {
        return false;
    }
    let mut rest = &text[first.len()..];
    for middle in &parts[1..parts.len() - 1] {
        match rest.find(middle) {
            Some(i) => rest = &rest[i + middle.len()..],
            None => return false,
        }
    }
    rest.ends_with(last)
}

// ---------------------------------------------------------------------------
// JSON patterns

struct Parser<'a> {
    text: &'a str,
    at: usize,
}

impl<'a> Parser<'a> {
    fn new(text: &'a str) -> Self {
        Parser { text, at: 0 }
    }

    fn rest(&self) -> &'a str {
        &self.text[self.at..]
    }

    fn at_end(&self) -> bool {
        self.at >= self.text.len()
    }

    fn skip_ws(&mut self) {
        let rest = self.rest();
        self.at += rest.len() - rest.trim_start().len();
    }

    fn eat(&mut self, token: &str) -> bool {
        self.skip_ws();
        if self.rest().starts_with(token) {
            self.at += token.len();
            true
        } else {
            false
        }
    }

    /// A keyword, case-insensitively, followed by a non-word character.
    fn eat_word(&mut self, word: &str) -> bool {
        self.skip_ws();
        let rest = self.rest();
        let matches = rest.len() >= word.len()
            && rest.is_char_boundary(word.len())
            && rest[..word.len()].eq_ignore_ascii_case(word)
            && !rest[word.len()..].starts_with(|c: char| c.is_alphanumeric() || c == '_');
        if matches {
            self.at += word.len();
        }
        matches
    }

    fn or(&mut self) -> Result<Expr, PatternError> {
        let mut left = self.and()?;
        while self.eat("||") {
            left = Expr::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Expr, PatternError> {
        let mut left = self.unary()?;
        while self.eat("&&") {
            left = Expr::And(Box::new(left), Box::new(self.unary()?));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Expr, PatternError> {
        if self.eat("(") {
            let inner = self.or()?;
            if !self.eat(")") {
                return fail("a '(' is not closed");
            }
            return Ok(inner);
        }
        let selector = self.selector()?;
        let test = if self.eat_word("IS") {
            if self.eat_word("NULL") {
                Test::IsNull
            } else if self.eat_word("TRUE") {
                Test::IsBool(true)
            } else if self.eat_word("FALSE") {
                Test::IsBool(false)
            } else {
                return fail("IS is followed by NULL, TRUE or FALSE");
            }
        } else if self.eat_word("NOT") {
            if !self.eat_word("EXISTS") {
                return fail("NOT is followed by EXISTS");
            }
            Test::NotExists
        } else {
            let op = self.op()?;
            Test::Compare(op, self.literal()?)
        };
        if let Test::Compare(Op::Lt | Op::Le | Op::Gt | Op::Ge, Literal::Text(_)) = &test {
            return fail("<, <=, > and >= compare numbers");
        }
        Ok(Expr::Test(selector, test))
    }

    fn selector(&mut self) -> Result<Vec<Step>, PatternError> {
        if !self.eat("$") {
            return fail(format!(
                "expected a selector ($.field) at '{}'",
                self.rest()
            ));
        }
        let mut steps = Vec::new();
        loop {
            let rest = self.rest();
            if let Some(after) = rest.strip_prefix('.') {
                let len = after
                    .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '-' || c == '@'))
                    .unwrap_or(after.len());
                if len == 0 {
                    return fail("a '.' in a selector is followed by a name");
                }
                steps.push(Step::Key(after[..len].to_string()));
                self.at += 1 + len;
            } else if let Some(after) = rest.strip_prefix('[') {
                let Some(end) = after.find(']') else {
                    return fail("a '[' in a selector is not closed");
                };
                let Ok(index) = after[..end].trim().parse() else {
                    return fail("a selector's index is a number");
                };
                steps.push(Step::Index(index));
                self.at += end + 2;
            } else {
                break;
            }
        }
        if steps.is_empty() {
            return fail("a selector names a field ($.field)");
        }
        Ok(steps)
    }

    fn op(&mut self) -> Result<Op, PatternError> {
        for (token, op) in [
            ("!=", Op::Ne),
            ("<=", Op::Le),
            (">=", Op::Ge),
            ("=", Op::Eq),
            ("<", Op::Lt),
            (">", Op::Gt),
        ] {
            if self.eat(token) {
                return Ok(op);
            }
        }
        fail(format!("expected a comparison at '{}'", self.rest()))
    }

    fn literal(&mut self) -> Result<Literal, PatternError> {
        self.skip_ws();
        let rest = self.rest();
        if let Some(after) = rest.strip_prefix('"') {
            let Some(end) = after.find('"') else {
                return fail("a quoted value is not closed");
            };
            self.at += end + 2;
            return Ok(Literal::Text(after[..end].to_string()));
        }
        let len = rest
            .find(|c: char| c.is_whitespace() || matches!(c, ')' | '&' | '|' | ','))
            .unwrap_or(rest.len());
        if len == 0 {
            return fail("a comparison needs a value");
        }
        self.at += len;
        Ok(literal_of(&rest[..len]))
    }
}

fn literal_of(word: &str) -> Literal {
    match word.parse::<f64>() {
        Ok(n) if n.is_finite() => Literal::Number(n),
        _ => Literal::Text(word.to_string()),
    }
}

impl Expr {
    fn eval(&self, doc: &Value) -> bool {
        match self {
            Expr::And(a, b) => a.eval(doc) && b.eval(doc),
            Expr::Or(a, b) => a.eval(doc) || b.eval(doc),
            Expr::Test(steps, test) => {
                let mut value = Some(doc);
                for step in steps {
                    value = value.and_then(|v| match step {
                        Step::Key(k) => v.get(k),
                        Step::Index(i) => v.get(*i),
                    });
                }
                match (test, value) {
                    (Test::NotExists, v) => v.is_none(),
                    (_, None) => false,
                    (Test::IsNull, Some(v)) => v.is_null(),
                    (Test::IsBool(b), Some(v)) => v.as_bool() == Some(*b),
                    (Test::Compare(op, lit), Some(v)) => compare_json(v, *op, lit),
                }
            }
        }
    }
}

fn compare_json(value: &Value, op: Op, lit: &Literal) -> bool {
    match value {
        Value::Number(n) => n.as_f64().is_some_and(|n| compare_number(n, op, lit)),
        Value::String(s) => compare_text(s, op, lit),
        Value::Bool(b) => compare_text(if *b { "true" } else { "false" }, op, lit),
        _ => false,
    }
}

fn compare_number(n: f64, op: Op, lit: &Literal) -> bool {
    match lit {
        Literal::Number(x) => match op {
            Op::Eq => n == *x,
            Op::Ne => n != *x,
            Op::Lt => n < *x,
            Op::Le => n <= *x,
            Op::Gt => n > *x,
            Op::Ge => n >= *x,
        },
        // `{ $.code = 2* }` against a number: its text.
        Literal::Text(t) => {
            let matched = wildcard_eq(&format_number(n), t);
            match op {
                Op::Eq => matched,
                Op::Ne => !matched,
                _ => false,
            }
        }
    }
}

fn format_number(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        n.to_string()
    }
}

fn compare_text(s: &str, op: Op, lit: &Literal) -> bool {
    match lit {
        Literal::Text(t) => {
            let matched = wildcard_eq(s, t);
            match op {
                Op::Eq => matched,
                Op::Ne => !matched,
                _ => false,
            }
        }
        // A number compared with a string field: numerically when the
        // field reads as a number, as CloudWatch does for delimited fields.
        Literal::Number(_) => match s.trim().parse::<f64>() {
            Ok(n) => compare_number(n, op, lit),
            Err(_) => op == Op::Ne,
        },
    }
}

// ---------------------------------------------------------------------------
// Space-delimited patterns

fn delimited(inner: &str) -> Result<Vec<Field>, PatternError> {
    let mut fields = Vec::new();
    for raw in inner.split(',') {
        let raw = raw.trim();
        if raw.is_empty() {
            return fail("an empty field in a space-delimited pattern");
        }
        if raw == "..." {
            fields.push(Field::Rest);
            continue;
        }
        let name_len = raw
            .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '$' || c == '.'))
            .unwrap_or(raw.len());
        if name_len == 0 {
            return fail(format!("a field needs a name: '{raw}'"));
        }
        let name = &raw[..name_len];
        let mut p = Parser::new(&raw[name_len..]);
        let mut alternatives = Vec::new();
        p.skip_ws();
        if !p.at_end() {
            loop {
                let mut all = Vec::new();
                loop {
                    let op = p.op()?;
                    all.push((op, p.literal()?));
                    if !p.eat("&&") {
                        break;
                    }
                    if !p.eat(name) {
                        return fail(format!("'&&' is followed by the field {name}"));
                    }
                }
                alternatives.push(all);
                if !p.eat("||") {
                    break;
                }
                if !p.eat(name) {
                    return fail(format!("'||' is followed by the field {name}"));
                }
            }
            p.skip_ws();
            if !p.at_end() {
                return fail(format!("unexpected '{}'", p.rest()));
            }
        }
        fields.push(Field::Named(alternatives));
    }
    Ok(fields)
}

/// A message's fields: split on spaces; a `"quoted"` or `[bracketed]`
/// run is one field (without its quotes or brackets).
fn split_fields(message: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = message.trim_start();
    while !rest.is_empty() {
        let (field, after) = match rest.chars().next() {
            Some(open @ ('"' | '[')) => {
                let close = if open == '"' { '"' } else { ']' };
                match rest[1..].find(close) {
                    Some(end) => (&rest[1..1 + end], &rest[end + 2..]),
                    None => (rest, ""),
                }
            }
            _ => {
                let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
                (&rest[..end], &rest[end..])
            }
        };
        out.push(field);
        rest = after.trim_start();
    }
    out
}

fn match_fields(fields: &[Field], values: &[&str]) -> bool {
    match fields.split_first() {
        None => values.is_empty(),
        Some((Field::Rest, more)) => {
            (0..=values.len()).any(|skip| match_fields(more, &values[skip..]))
        }
        Some((Field::Named(alternatives), more)) => match values.split_first() {
            None => false,
            Some((value, rest)) => {
                let ok = alternatives.is_empty()
                    || alternatives
                        .iter()
                        .any(|all| all.iter().all(|(op, lit)| compare_text(value, *op, lit)));
                ok && match_fields(more, rest)
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(pattern: &str, message: &str) -> bool {
        Pattern::parse(pattern)
            .unwrap_or_else(|e| panic!("{pattern}: {e}"))
            .matches(message)
    }

    #[test]
    fn empty_matches_everything() {
        assert!(m("", "anything"));
        assert!(m("   ", ""));
    }

    #[test]
    fn terms_must_all_appear() {
        assert!(m("ERROR", "[ERROR] disk full"));
        assert!(!m("ERROR", "[error] disk full"), "case-sensitive");
        assert!(m("ERROR disk", "[ERROR] disk full"));
        assert!(!m("ERROR memory", "[ERROR] disk full"));
    }

    #[test]
    fn quoted_phrases_keep_their_spaces() {
        assert!(m("\"disk full\"", "ERROR: disk full now"));
        assert!(!m("\"full disk\"", "ERROR: disk full now"));
        assert!(m("ERROR \"disk full\"", "ERROR: disk full now"));
        assert!(m(r#""say \"hi\"""#, r#"they say "hi" to you"#));
    }

    #[test]
    fn question_marks_are_alternatives() {
        assert!(m("?ERROR ?WARN", "WARN low memory"));
        assert!(m("?ERROR ?WARN", "ERROR boom"));
        assert!(!m("?ERROR ?WARN", "INFO fine"));
        assert!(m("?\"timed out\" ?ERROR", "Task timed out after 3 s"));
    }

    #[test]
    fn minus_excludes() {
        assert!(m("ERROR -retry", "ERROR boom"));
        assert!(!m("ERROR -retry", "ERROR boom, will retry"));
        assert!(!m("-\"health check\"", "GET / health check ok"));
        assert!(m("-\"health check\"", "GET /orders"));
    }

    #[test]
    fn wildcards_in_terms() {
        assert!(m("user*42", "user id 42 signed in"));
        assert!(!m("user*42", "42 user"));
    }

    #[test]
    fn json_string_equality_and_wildcards() {
        let line = r#"{"level":"ERROR","user":{"id":"u-42","name":"Ann"},"tags":["a","b"]}"#;
        assert!(m(r#"{ $.level = "ERROR" }"#, line));
        assert!(m("{ $.level = ERROR }", line));
        assert!(!m(r#"{ $.level = "WARN" }"#, line));
        assert!(m(r#"{ $.level != "WARN" }"#, line));
        assert!(m(r#"{ $.user.id = "u-*" }"#, line));
        assert!(m(r#"{ $.tags[1] = "b" }"#, line));
        assert!(!m(r#"{ $.tags[2] = "b" }"#, line));
        assert!(!m(r#"{ $.missing = "x" }"#, line), "absent never equals");
        assert!(!m(r#"{ $.missing != "x" }"#, line), "absent never differs");
    }

    #[test]
    fn json_numbers_compare() {
        let line = r#"{"latency": 150, "status": 200, "ratio": 0.5}"#;
        assert!(m("{ $.latency > 100 }", line));
        assert!(!m("{ $.latency > 150 }", line));
        assert!(m("{ $.latency >= 150 }", line));
        assert!(m("{ $.latency < 200 && $.status = 200 }", line));
        assert!(m("{ $.ratio <= 0.5 }", line));
        assert!(
            m("{ $.status = 2* }", line),
            "a wildcard against a number's text"
        );
        assert!(!m("{ $.status != 200 }", line));
    }

    #[test]
    fn json_and_or_parentheses() {
        let line = r#"{"level":"WARN","latency":50,"ok":true,"gone":null}"#;
        assert!(m(r#"{ $.level = "ERROR" || $.latency < 100 }"#, line));
        assert!(!m(r#"{ $.level = "ERROR" && $.latency < 100 }"#, line));
        assert!(m(
            r#"{ ($.level = "ERROR" || $.level = "WARN") && $.latency < 100 }"#,
            line
        ));
        assert!(m("{ $.ok IS TRUE }", line));
        assert!(!m("{ $.ok IS FALSE }", line));
        assert!(m("{ $.gone IS NULL }", line));
        assert!(m("{ $.nothing NOT EXISTS }", line));
        assert!(!m("{ $.level NOT EXISTS }", line));
    }

    #[test]
    fn json_patterns_skip_non_json_messages() {
        assert!(!m(r#"{ $.level = "ERROR" }"#, "ERROR plain text"));
        assert!(!m(r#"{ $.level = "ERROR" }"#, r#"["ERROR"]"#));
        assert!(m(r#"{ $.level = "ERROR" }"#, "{\"level\":\"ERROR\"}\n"));
    }

    #[test]
    fn invalid_patterns_are_refused() {
        for bad in [
            "{ $.level = \"ERROR\"",
            "{ level = 1 }",
            "{ $.a > \"x\" }",
            "{ $.a = }",
            "{ ($.a = 1 }",
            "{ $.a IS MAYBE }",
            "\"open",
            "ERROR ?",
            "[a,,b]",
            "[a = ]",
        ] {
            assert!(Pattern::parse(bad).is_err(), "{bad} was accepted");
        }
    }

    #[test]
    fn space_delimited_fields() {
        let line =
            r#"127.0.0.1 - frank [10/Oct/2000:13:25:15 -0700] "GET /index.html HTTP/1.0" 404 1534"#;
        assert!(m(
            "[ip, id, user, timestamp, request, status_code, bytes]",
            line
        ));
        assert!(!m("[ip, id, user, timestamp, request, status_code]", line));
        assert!(m(
            "[ip, id, user, timestamp, request, status_code = 404, bytes]",
            line
        ));
        assert!(m(
            "[ip, id, user, ..., status_code = 4*, bytes > 1000]",
            line
        ));
        assert!(!m("[..., status_code = 5*, bytes]", line));
        assert!(m("[ip = 127.0.0.*, ...]", line));
        assert!(m("[..., request = \"GET *\", status, bytes]", line));
        assert!(m(
            "[..., status = 500 || status = 404, bytes < 2000 && bytes > 1000]",
            line
        ));
        assert!(!m("[..., status = 500 || status = 503, bytes]", line));
    }
}
