//! Wildcard patterns (`*` and `?`) with policy variables, compiled once.
//!
//! A pattern is split into tokens when the document is parsed: literal
//! runs, `*` (any run of characters, empty included), `?` (exactly one
//! character) and policy variables (`${aws:username}`, with an optional
//! default: `${aws:username, 'nobody'}`). The escapes `${*}`, `${?}` and
//! `${$}` stand for a literal `*`, `?` and `$`. Common shapes get their own
//! fast path (`*`, an exact string, a prefix followed by `*`).
//!
//! Matching walks the tokens against the text with the classic
//! "remember the last star" backtracking, so it needs no allocation and
//! runs in O(pattern × text) at worst. A variable's value is matched
//! literally: wildcard characters inside it are not wildcards. A variable
//! the request does not define makes the pattern match nothing (unless it
//! has a default).

use std::borrow::Cow;

/// Where a pattern finds the values of its policy variables.
pub(crate) trait Vars {
    /// The value of variable `key` (already lowercased), if the request
    /// defines it.
    fn var(&self, key: &str) -> Option<Cow<'_, str>>;
}

/// No variables at all (actions, and documents of version 2008-10-17).
pub(crate) struct NoVars;

impl Vars for NoVars {
    fn var(&self, _key: &str) -> Option<Cow<'_, str>> {
        None
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Lit(Box<str>),
    Star,
    One,
    Var {
        key: Box<str>,
        default: Option<Box<str>>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Shape {
    /// `*`: everything.
    Any,
    /// No wildcard and no variable.
    Exact(Box<str>),
    /// A literal followed by one `*`.
    Prefix(Box<str>),
    /// Literals and `*` only (no `?`, no variable): matched without
    /// backtracking, as the text must start with `head`, end with `tail`,
    /// and hold each of `middle` in order in between (leftmost occurrence
    /// first is always right).
    Stars {
        head: Box<str>,
        middle: Box<[Box<str>]>,
        tail: Box<str>,
    },
    General(Box<[Tok]>),
}

/// How a pattern's text is read.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Syntax {
    /// `*` and `?` are wildcards (otherwise literal characters).
    pub wildcards: bool,
    /// `${...}` is a policy variable (documents of version 2012-10-17).
    pub variables: bool,
    /// Compare ASCII letters without regard to case. The pattern's text is
    /// lowercased (ASCII) when compiled.
    pub ignore_case: bool,
}

/// A compiled pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Pattern {
    shape: Shape,
    ignore_case: bool,
}

impl Pattern {
    pub(crate) fn compile(text: &str, syntax: Syntax) -> Pattern {
        let text: Cow<'_, str> = if syntax.ignore_case {
            Cow::Owned(text.to_ascii_lowercase())
        } else {
            Cow::Borrowed(text)
        };
        let toks = tokenize(&text, syntax);
        let shape = match toks.as_slice() {
            [Tok::Star] => Shape::Any,
            [] => Shape::Exact("".into()),
            [Tok::Lit(s)] => Shape::Exact(s.clone()),
            [Tok::Lit(s), Tok::Star] => Shape::Prefix(s.clone()),
            _ if toks.iter().all(|t| matches!(t, Tok::Lit(_) | Tok::Star)) => stars(&toks),
            _ => Shape::General(toks.into_boxed_slice()),
        };
        Pattern {
            shape,
            ignore_case: syntax.ignore_case,
        }
    }

    /// Whether the pattern uses policy variables.
    #[cfg(test)]
    pub(crate) fn has_variables(&self) -> bool {
        match &self.shape {
            Shape::General(toks) => toks.iter().any(|t| matches!(t, Tok::Var { .. })),
            _ => false,
        }
    }

    /// The text before the first `:` when that part has no wildcard nor
    /// variable (an action's service, `s3` in `s3:Get*`).
    pub(crate) fn literal_head(&self) -> Option<&str> {
        let lead = match &self.shape {
            Shape::Any => return None,
            Shape::Exact(s) | Shape::Prefix(s) | Shape::Stars { head: s, .. } => s,
            Shape::General(toks) => match toks.first() {
                Some(Tok::Lit(s)) => s,
                _ => return None,
            },
        };
        lead.split_once(':').map(|(head, _)| head)
    }

    /// Whether `text` matches the whole pattern.
    pub(crate) fn matches(&self, text: &str, vars: &dyn Vars) -> bool {
        self.matches_with(text, vars, self.ignore_case)
    }

    /// Whether `text`, already lowercase (ASCII), matches the whole
    /// pattern: for patterns compiled with `ignore_case`, byte for byte
    /// comparisons instead of case folding each time.
    pub(crate) fn matches_lowercased(&self, text: &str) -> bool {
        self.matches_with(text, &NoVars, false)
    }

    fn matches_with(&self, text: &str, vars: &dyn Vars, ci: bool) -> bool {
        match &self.shape {
            Shape::Any => true,
            Shape::Exact(s) => eq(text.as_bytes(), s.as_bytes(), ci),
            Shape::Prefix(p) => {
                text.len() >= p.len() && eq(&text.as_bytes()[..p.len()], p.as_bytes(), ci)
            }
            Shape::Stars { head, middle, tail } => {
                let t = text.as_bytes();
                let (h, e) = (head.as_bytes(), tail.as_bytes());
                if t.len() < h.len() + e.len()
                    || !eq(&t[..h.len()], h, ci)
                    || !eq(&t[t.len() - e.len()..], e, ci)
                {
                    return false;
                }
                let end = t.len() - e.len();
                let mut at = h.len();
                for m in middle.iter() {
                    match find(&text[..end], at, m, ci) {
                        Some(found) => at = found + m.len(),
                        None => return false,
                    }
                }
                true
            }
            Shape::General(toks) => glob(toks, text, ci, vars),
        }
    }
}

/// Splits a star-and-literal token list at its stars.
fn stars(toks: &[Tok]) -> Shape {
    let mut parts: Vec<Box<str>> = vec!["".into()];
    for t in toks {
        match t {
            Tok::Lit(s) => {
                if let Some(last) = parts.last_mut() {
                    *last = s.clone();
                }
            }
            _ => parts.push("".into()),
        }
    }
    let tail = parts.pop().unwrap_or_default();
    let head = if parts.is_empty() {
        Box::from("")
    } else {
        parts.remove(0)
    };
    Shape::Stars {
        head,
        middle: parts.into_iter().filter(|m| !m.is_empty()).collect(),
        tail,
    }
}

fn eq(a: &[u8], b: &[u8], ignore_case: bool) -> bool {
    if ignore_case {
        a.eq_ignore_ascii_case(b)
    } else {
        a == b
    }
}

/// Length of the UTF-8 sequence that starts with `lead`.
fn char_len(lead: u8) -> usize {
    match lead {
        0x00..=0x7f => 1,
        0xc0..=0xdf => 2,
        0xe0..=0xef => 3,
        0xf0..=0xff => 4,
        // A continuation byte never starts a character of a `str`.
        _ => 1,
    }
}

fn glob(toks: &[Tok], text_str: &str, ci: bool, vars: &dyn Vars) -> bool {
    let text = text_str.as_bytes();
    let (mut p, mut i) = (0usize, 0usize);
    // After the most recent `*`: the token to resume at and where in the
    // text that star's run ends for now.
    let mut star: Option<(usize, usize)> = None;
    loop {
        let advanced = match toks.get(p) {
            Some(Tok::Star) => {
                p += 1;
                star = Some((p, i));
                continue;
            }
            Some(Tok::One) => {
                if i < text.len() {
                    i += char_len(text[i]);
                    true
                } else {
                    false
                }
            }
            Some(Tok::Lit(s)) => literal_at(text, &mut i, s.as_bytes(), ci),
            Some(Tok::Var { key, default }) => {
                let value = vars.var(key);
                let value = match (&value, default) {
                    (Some(v), _) => v.as_ref(),
                    (None, Some(d)) => d.as_ref(),
                    (None, None) => return false,
                };
                literal_at(text, &mut i, value.as_bytes(), ci)
            }
            None => {
                if i == text.len() {
                    return true;
                }
                false
            }
        };
        if advanced {
            p += 1;
            continue;
        }
        // Let the last star take one more character; when a literal
        // follows it, jump straight to that literal's next occurrence.
        let Some((sp, si)) = star else {
            return false;
        };
        if si >= text.len() {
            return false;
        }
        let mut next = si + char_len(text[si]);
        if let Some(Tok::Lit(lit)) = toks.get(sp) {
            match find(text_str, next, lit, ci) {
                Some(at) => next = at,
                None => return false,
            }
        }
        star = Some((sp, next));
        p = sp;
        i = next;
    }
}

/// The first position at or after `from` (a character boundary) where
/// `lit` occurs in `text`. Needles here are short, so a scan for the
/// first byte beats a general substring search and its setup.
fn find(text: &str, from: usize, lit: &str, ci: bool) -> Option<usize> {
    let hay = text.as_bytes().get(from..)?;
    let needle = lit.as_bytes();
    let (&first, rest) = needle.split_first()?;
    if needle.len() > hay.len() {
        return None;
    }
    let last_start = hay.len() - needle.len();
    let mut k = 0;
    while k <= last_start {
        let b = hay[k];
        let hit = if ci {
            b.eq_ignore_ascii_case(&first)
        } else {
            b == first
        };
        if hit && eq(&hay[k + 1..k + needle.len()], rest, ci) && text.is_char_boundary(from + k) {
            return Some(from + k);
        }
        k += 1;
    }
    None
}

fn literal_at(text: &[u8], i: &mut usize, lit: &[u8], ci: bool) -> bool {
    let end = *i + lit.len();
    if end <= text.len() && eq(&text[*i..end], lit, ci) {
        *i = end;
        true
    } else {
        false
    }
}

fn tokenize(text: &str, syntax: Syntax) -> Vec<Tok> {
    let mut toks: Vec<Tok> = Vec::new();
    let mut lit = String::new();
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        if syntax.variables && rest.starts_with("${") {
            if let Some(close) = rest.find('}') {
                let inner = &rest[2..close];
                rest = &rest[close + 1..];
                match inner {
                    "*" | "?" | "$" => lit.push_str(inner),
                    _ => {
                        flush(&mut toks, &mut lit);
                        toks.push(variable(inner));
                    }
                }
                continue;
            }
        }
        rest = &rest[c.len_utf8()..];
        match c {
            '*' if syntax.wildcards => {
                flush(&mut toks, &mut lit);
                if toks.last() != Some(&Tok::Star) {
                    toks.push(Tok::Star);
                }
            }
            '?' if syntax.wildcards => {
                flush(&mut toks, &mut lit);
                toks.push(Tok::One);
            }
            _ => lit.push(c),
        }
    }
    flush(&mut toks, &mut lit);
    toks
}

fn flush(toks: &mut Vec<Tok>, lit: &mut String) {
    if !lit.is_empty() {
        toks.push(Tok::Lit(std::mem::take(lit).into_boxed_str()));
    }
}

/// `aws:username` or `aws:username, 'default'`.
fn variable(inner: &str) -> Tok {
    let (key, default) = match inner.split_once(',') {
        Some((key, default)) => {
            let default = default.trim();
            let default = default
                .strip_prefix('\'')
                .and_then(|d| d.strip_suffix('\''))
                .unwrap_or(default);
            (key, Some(default.into()))
        }
        None => (inner, None),
    };
    Tok::Var {
        key: key.trim().to_ascii_lowercase().into_boxed_str(),
        default,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    const GLOB: Syntax = Syntax {
        wildcards: true,
        variables: true,
        ignore_case: false,
    };

    struct Map(HashMap<&'static str, &'static str>);
    impl Vars for Map {
        fn var(&self, key: &str) -> Option<Cow<'_, str>> {
            self.0.get(key).map(|v| Cow::Borrowed(*v))
        }
    }

    fn m(pattern: &str, text: &str) -> bool {
        Pattern::compile(pattern, GLOB).matches(text, &NoVars)
    }

    #[test]
    fn stars_and_question_marks() {
        assert!(m("*", ""));
        assert!(m("*", "anything at all"));
        assert!(m("arn:aws:s3:::bucket/*", "arn:aws:s3:::bucket/a/b"));
        assert!(!m("arn:aws:s3:::bucket/*", "arn:aws:s3:::bucket"));
        assert!(m("a*b*c", "abc"));
        assert!(m("a*b*c", "aXXbYYc"));
        assert!(!m("a*b*c", "aXXbYYcd"));
        assert!(m("a?c", "abc"));
        assert!(!m("a?c", "ac"));
        assert!(m("a?c", "aéc"));
        assert!(m("*?", "x"));
        assert!(!m("*?", ""));
        assert!(m("**a", "bba"));
        assert!(m("exact", "exact"));
        assert!(!m("exact", "Exact"));
        assert!(!m("exact", "exactly"));
    }

    #[test]
    fn ignore_case_for_actions() {
        let p = Pattern::compile(
            "S3:Get*",
            Syntax {
                wildcards: true,
                variables: false,
                ignore_case: true,
            },
        );
        assert!(p.matches("s3:GetObject", &NoVars));
        assert!(p.matches("S3:GETOBJECT", &NoVars));
        assert!(!p.matches("s3:PutObject", &NoVars));
    }

    #[test]
    fn variables_are_substituted_literally() {
        let vars = Map(HashMap::from([("aws:username", "a*ice")]));
        let p = Pattern::compile("arn:aws:iam::1:user/${aws:username}", GLOB);
        assert!(p.has_variables());
        assert!(p.matches("arn:aws:iam::1:user/a*ice", &vars));
        assert!(!p.matches("arn:aws:iam::1:user/alice", &vars));
        // Key names are case-insensitive.
        let p = Pattern::compile("home/${AWS:UserName}/*", GLOB);
        assert!(p.matches("home/a*ice/x", &vars));
        // An undefined variable matches nothing, unless it has a default.
        let p = Pattern::compile("home/${aws:userid}/*", GLOB);
        assert!(!p.matches("home//x", &vars));
        let p = Pattern::compile("home/${aws:userid, 'none'}/*", GLOB);
        assert!(p.matches("home/none/x", &vars));
    }

    #[test]
    fn escapes() {
        let p = Pattern::compile("a${*}b${?}c${$}", GLOB);
        assert!(p.matches("a*b?c$", &NoVars));
        assert!(!p.matches("aXb?c$", &NoVars));
        // Without variable syntax `${` is plain text.
        let p = Pattern::compile(
            "${aws:username}",
            Syntax {
                wildcards: true,
                variables: false,
                ignore_case: false,
            },
        );
        assert!(p.matches("${aws:username}", &NoVars));
    }

    #[test]
    fn literal_patterns_ignore_wildcards() {
        let p = Pattern::compile(
            "a*",
            Syntax {
                wildcards: false,
                variables: true,
                ignore_case: false,
            },
        );
        assert!(p.matches("a*", &NoVars));
        assert!(!p.matches("ab", &NoVars));
    }
}
