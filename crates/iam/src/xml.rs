//! A small XML writer for query-protocol replies: elements, escaped text,
//! and the `<member>` lists AWS uses.

use chrono::{DateTime, SecondsFormat, Utc};

/// Escapes `&`, `<`, `>`, `"` and `'` (and drops characters XML 1.0 cannot
/// carry).
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\r' => out.push_str("&#13;"),
            '\t' | '\n' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => {}
            c => out.push(c),
        }
    }
    out
}

/// ISO 8601 with seconds, as IAM shows dates (`2026-12-03T08:35:12Z`).
pub(crate) fn date(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

#[derive(Debug, Default)]
pub(crate) struct Xml {
    buf: String,
}

impl Xml {
    pub fn new() -> Xml {
        Xml::default()
    }

    pub fn open(&mut self, tag: &str) -> &mut Self {
        self.buf.push('<');
        self.buf.push_str(tag);
        self.buf.push('>');
        self
    }

    pub fn close(&mut self, tag: &str) -> &mut Self {
        self.buf.push_str("</");
        self.buf.push_str(tag);
        self.buf.push('>');
        self
    }

    /// `<tag>text</tag>` with `text` escaped.
    pub fn text(&mut self, tag: &str, text: &str) -> &mut Self {
        self.open(tag);
        self.buf.push_str(&escape(text));
        self.close(tag)
    }

    pub fn opt(&mut self, tag: &str, text: Option<&str>) -> &mut Self {
        if let Some(t) = text {
            self.text(tag, t);
        }
        self
    }

    pub fn date(&mut self, tag: &str, t: &DateTime<Utc>) -> &mut Self {
        self.text(tag, &date(t))
    }

    pub fn bool(&mut self, tag: &str, b: bool) -> &mut Self {
        self.text(tag, if b { "true" } else { "false" })
    }

    pub fn num(&mut self, tag: &str, n: impl std::fmt::Display) -> &mut Self {
        self.text(tag, &n.to_string())
    }

    /// Already rendered XML.
    pub fn raw(&mut self, xml: &str) -> &mut Self {
        self.buf.push_str(xml);
        self
    }

    pub fn finish(self) -> String {
        self.buf
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped() {
        let mut x = Xml::new();
        x.open("A").text("B", "<a & 'b'>\"").close("A");
        assert_eq!(
            x.finish(),
            "<A><B>&lt;a &amp; &apos;b&apos;&gt;&quot;</B></A>"
        );
        assert_eq!(escape("a\u{1}b\nc"), "ab\nc");
    }
}
