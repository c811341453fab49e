//! Tokens of DynamoDB's expression language.

use crate::error::TablesError;

#[derive(Clone, Debug, PartialEq)]
pub enum Tok {
    /// An attribute name or keyword (`a`, `AND`, `size`).
    Ident(String),
    /// `#name`.
    Name(String),
    /// `:value`.
    Value(String),
    /// A non-negative integer (list indexes).
    Int(String),
    /// Punctuation and operators: `= <> < <= > >= ( ) , . [ ] + -`.
    Sym(&'static str),
    Eof,
}

/// A token and the byte range it came from.
#[derive(Clone, Debug)]
pub struct Spanned {
    pub tok: Tok,
    pub start: usize,
    pub end: usize,
}

impl Tok {
    /// The token as DynamoDB's messages show it.
    pub fn text(&self) -> String {
        match self {
            Tok::Ident(s) | Tok::Int(s) => s.clone(),
            Tok::Name(s) => format!("#{s}"),
            Tok::Value(s) => format!(":{s}"),
            Tok::Sym(s) => (*s).to_string(),
            Tok::Eof => "<EOF>".to_string(),
        }
    }
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Splits an expression into tokens (ending with `Eof`).
pub fn tokenize(src: &str, what: &str) -> Result<Vec<Spanned>, TablesError> {
    let mut out = Vec::new();
    let chars: Vec<(usize, char)> = src.char_indices().collect();
    let mut i = 0;
    while i < chars.len() {
        let (start, c) = chars[i];
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        let take_word = |mut j: usize| {
            while j < chars.len() && is_name_char(chars[j].1) {
                j += 1;
            }
            j
        };
        let (tok, next) = match c {
            '#' | ':' => {
                let j = take_word(i + 1);
                let word: String = chars[i + 1..j].iter().map(|(_, c)| c).collect();
                if word.is_empty() {
                    return Err(syntax_error(what, &c.to_string(), src, start, start + 1));
                }
                (
                    if c == '#' {
                        Tok::Name(word)
                    } else {
                        Tok::Value(word)
                    },
                    j,
                )
            }
            c if c.is_ascii_digit() => {
                let mut j = i;
                while j < chars.len() && chars[j].1.is_ascii_digit() {
                    j += 1;
                }
                (Tok::Int(chars[i..j].iter().map(|(_, c)| c).collect()), j)
            }
            c if is_name_char(c) => {
                let j = take_word(i);
                (Tok::Ident(chars[i..j].iter().map(|(_, c)| c).collect()), j)
            }
            '<' if chars.get(i + 1).map(|x| x.1) == Some('>') => (Tok::Sym("<>"), i + 2),
            '<' if chars.get(i + 1).map(|x| x.1) == Some('=') => (Tok::Sym("<="), i + 2),
            '>' if chars.get(i + 1).map(|x| x.1) == Some('=') => (Tok::Sym(">="), i + 2),
            '<' => (Tok::Sym("<"), i + 1),
            '>' => (Tok::Sym(">"), i + 1),
            '=' => (Tok::Sym("="), i + 1),
            '(' => (Tok::Sym("("), i + 1),
            ')' => (Tok::Sym(")"), i + 1),
            ',' => (Tok::Sym(","), i + 1),
            '.' => (Tok::Sym("."), i + 1),
            '[' => (Tok::Sym("["), i + 1),
            ']' => (Tok::Sym("]"), i + 1),
            '+' => (Tok::Sym("+"), i + 1),
            '-' => (Tok::Sym("-"), i + 1),
            other => {
                return Err(TablesError::validation(format!(
                    "Invalid {what}: Syntax error; token: \"{other}\", near: \"{}\"",
                    near(src, start, start + other.len_utf8())
                )))
            }
        };
        let end = chars.get(next).map_or(src.len(), |(p, _)| *p);
        out.push(Spanned { tok, start, end });
        i = next;
    }
    out.push(Spanned {
        tok: Tok::Eof,
        start: src.len(),
        end: src.len(),
    });
    Ok(out)
}

fn near(src: &str, start: usize, end: usize) -> String {
    src.get(start..end).unwrap_or_default().to_string()
}

/// DynamoDB's syntax error: the token and the text around it.
pub fn syntax_error(what: &str, token: &str, src: &str, start: usize, end: usize) -> TablesError {
    TablesError::validation(format!(
        "Invalid {what}: Syntax error; token: \"{token}\", near: \"{}\"",
        near(src, start, end)
    ))
}
