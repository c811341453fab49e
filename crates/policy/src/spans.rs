//! Where each statement sits in the document's text, for the policy
//! simulator's `MatchedStatements` (`StartPosition` / `EndPosition`).
//!
//! A small scanner over text that is already known to be valid JSON: it
//! walks the top-level object, finds the (last) `Statement` member and
//! records the extent of the statement object, or of each element of the
//! statement array. Lines and columns count from 1, columns in
//! characters; a statement starts at its `{` and ends just after its `}`.

/// A line and column in a document's text, both counted from 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Position {
    pub line: u32,
    pub column: u32,
}

/// The extent of one statement: from its `{` to just after its `}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Span {
    pub start: Position,
    pub end: Position,
}

struct Scanner<'a> {
    bytes: &'a [u8],
    text: &'a str,
    at: usize,
}

impl Scanner<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.at += 1;
        }
    }

    fn expect(&mut self, b: u8) -> Option<()> {
        self.skip_ws();
        (self.peek()? == b).then(|| self.at += 1)
    }

    /// A string starting at the current `"`; returns its raw contents
    /// (escapes left as written).
    fn string(&mut self) -> Option<&str> {
        self.expect(b'"')?;
        let start = self.at;
        loop {
            match self.peek()? {
                b'\\' => self.at += 2,
                b'"' => {
                    let raw = self.text.get(start..self.at)?;
                    self.at += 1;
                    return Some(raw);
                }
                _ => self.at += 1,
            }
        }
    }

    /// Skips one value of any kind.
    fn value(&mut self) -> Option<()> {
        self.skip_ws();
        match self.peek()? {
            b'"' => self.string().map(|_| ()),
            b'{' | b'[' => {
                let mut depth = 0usize;
                loop {
                    match self.peek()? {
                        b'"' => {
                            self.string()?;
                            continue;
                        }
                        b'{' | b'[' => depth += 1,
                        b'}' | b']' => {
                            depth -= 1;
                            if depth == 0 {
                                self.at += 1;
                                return Some(());
                            }
                        }
                        _ => {}
                    }
                    self.at += 1;
                }
            }
            _ => {
                while !matches!(
                    self.peek(),
                    None | Some(b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r')
                ) {
                    self.at += 1;
                }
                Some(())
            }
        }
    }

    /// Skips one value, returning its byte range.
    fn ranged_value(&mut self) -> Option<(usize, usize)> {
        self.skip_ws();
        let start = self.at;
        self.value()?;
        Some((start, self.at))
    }
}

/// The byte ranges of the statements of `text` (valid JSON).
fn statement_ranges(text: &str) -> Option<Vec<(usize, usize)>> {
    let mut s = Scanner {
        bytes: text.as_bytes(),
        text,
        at: 0,
    };
    let mut found: Option<Vec<(usize, usize)>> = None;
    s.expect(b'{')?;
    s.skip_ws();
    if s.peek()? == b'}' {
        return None;
    }
    loop {
        let key = s.string()?;
        let is_statement = key == "Statement";
        s.expect(b':')?;
        s.skip_ws();
        if is_statement && s.peek()? == b'[' {
            s.at += 1;
            let mut ranges = Vec::new();
            loop {
                s.skip_ws();
                if s.peek()? == b']' {
                    s.at += 1;
                    break;
                }
                ranges.push(s.ranged_value()?);
                s.skip_ws();
                if s.peek()? == b',' {
                    s.at += 1;
                }
            }
            found = Some(ranges);
        } else if is_statement {
            found = Some(vec![s.ranged_value()?]);
        } else {
            s.value()?;
        }
        s.skip_ws();
        match s.peek()? {
            b',' => {
                s.at += 1;
                s.skip_ws();
            }
            _ => return found,
        }
    }
}

/// The spans of the statements of `text` (valid JSON), in order; empty if
/// they cannot be found.
pub(crate) fn statement_spans(text: &str) -> Vec<Span> {
    let Some(ranges) = statement_ranges(text) else {
        return Vec::new();
    };
    // One pass over the text turns byte offsets into lines and columns.
    let mut offsets: Vec<usize> = ranges.iter().flat_map(|&(a, b)| [a, b]).collect();
    offsets.sort_unstable();
    let mut positions: Vec<(usize, Position)> = Vec::with_capacity(offsets.len());
    let (mut line, mut column) = (1u32, 1u32);
    let mut next = offsets.iter().peekable();
    for (i, c) in text
        .char_indices()
        .chain(std::iter::once((text.len(), '\0')))
    {
        while next.peek().is_some_and(|&&o| o == i) {
            positions.push((i, Position { line, column }));
            next.next();
        }
        if c == '\n' {
            line += 1;
            column = 1;
        } else {
            column += 1;
        }
    }
    let at = |offset: usize| {
        positions
            .iter()
            .find(|(o, _)| *o == offset)
            .map(|(_, p)| *p)
            .unwrap_or(Position { line: 0, column: 0 })
    };
    ranges
        .iter()
        .map(|&(a, b)| Span {
            start: at(a),
            end: at(b),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(line: u32, column: u32) -> Position {
        Position { line, column }
    }

    #[test]
    fn statements_in_an_array() {
        let text = "{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [\n    {\"Effect\": \"Allow\", \"Action\": \"a:b\", \"Resource\": \"*\"},\n    {\n      \"Sid\": \"x}\\\"{\",\n      \"Effect\": \"Deny\"\n    }\n  ]\n}";
        let spans = statement_spans(text);
        assert_eq!(
            spans,
            [
                Span {
                    start: p(4, 5),
                    end: p(4, 58)
                },
                Span {
                    start: p(5, 5),
                    end: p(8, 6)
                },
            ]
        );
    }

    #[test]
    fn one_statement_object_and_other_members() {
        let text =
            r#"{"Id": {"x": [1, 2]}, "Statement": {"Effect": "Allow"}, "Version": "2012-10-17"}"#;
        assert_eq!(
            statement_spans(text),
            [Span {
                start: p(1, 36),
                end: p(1, 55)
            }]
        );
    }

    #[test]
    fn columns_count_characters() {
        let text = "{\"Id\": \"é\", \"Statement\": [{}]}";
        assert_eq!(
            statement_spans(text),
            [Span {
                start: p(1, 27),
                end: p(1, 29)
            }]
        );
    }
}
