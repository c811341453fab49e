//! XML in and out: a small writer for S3's response documents and a parser
//! that turns request documents into an [`Element`] tree (namespaces
//! dropped), answering `MalformedXML` for anything it cannot read.

use quick_xml::events::Event;
use quick_xml::Reader;

use crate::error::ApiError;

pub(crate) const S3_NS: &str = "http://s3.amazonaws.com/doc/2006-03-01/";

/// Builds one XML document.
pub(crate) struct XmlWriter {
    out: String,
}

impl XmlWriter {
    /// Starts a document whose root element is `root` in S3's namespace.
    pub fn new(root: &str) -> Self {
        let mut out = String::with_capacity(512);
        out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<");
        out.push_str(root);
        out.push_str(" xmlns=\"");
        out.push_str(S3_NS);
        out.push_str("\">");
        XmlWriter { out }
    }

    /// Starts a document whose root has no namespace (`<Error>`).
    pub fn bare(root: &str) -> Self {
        let mut out = String::with_capacity(256);
        out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<");
        out.push_str(root);
        out.push('>');
        XmlWriter { out }
    }

    pub fn open(&mut self, tag: &str) -> &mut Self {
        self.out.push('<');
        self.out.push_str(tag);
        self.out.push('>');
        self
    }

    pub fn close(&mut self, tag: &str) -> &mut Self {
        self.out.push_str("</");
        self.out.push_str(tag);
        self.out.push('>');
        self
    }

    pub fn elem(&mut self, tag: &str, text: impl AsRef<str>) -> &mut Self {
        self.open(tag);
        escape_into(&mut self.out, text.as_ref());
        self.close(tag)
    }

    pub fn opt(&mut self, tag: &str, text: Option<impl AsRef<str>>) -> &mut Self {
        if let Some(text) = text {
            self.elem(tag, text);
        }
        self
    }

    /// Appends raw markup (already well-formed).
    pub fn raw(&mut self, markup: &str) -> &mut Self {
        self.out.push_str(markup);
        self
    }

    pub fn finish(mut self, root: &str) -> String {
        self.close(root);
        self.out
    }
}

/// `text` with XML's special characters escaped.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    escape_into(&mut out, text);
    out
}

fn escape_into(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\r' => out.push_str("&#13;"),
            c => out.push(c),
        }
    }
}

/// A parsed element: local name, text, children.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Element {
    pub name: String,
    pub text: String,
    pub children: Vec<Element>,
}

impl Element {
    pub fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }

    pub fn children<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }

    /// The trimmed text of the child `name`, if present.
    pub fn text_of(&self, name: &str) -> Option<&str> {
        self.child(name).map(|c| c.text.trim())
    }
}

/// Parses a request document; its root element is returned.
pub(crate) fn parse(body: &[u8]) -> Result<Element, ApiError> {
    let text = std::str::from_utf8(body).map_err(|_| ApiError::malformed_xml())?;
    let mut reader = Reader::from_str(text);
    let mut stack: Vec<Element> = Vec::new();
    let mut root = None;
    loop {
        match reader.read_event().map_err(|_| ApiError::malformed_xml())? {
            Event::Start(start) => {
                stack.push(Element {
                    name: String::from_utf8_lossy(start.local_name().as_ref()).into_owned(),
                    ..Element::default()
                });
            }
            Event::Empty(start) => {
                let el = Element {
                    name: String::from_utf8_lossy(start.local_name().as_ref()).into_owned(),
                    ..Element::default()
                };
                match stack.last_mut() {
                    Some(parent) => parent.children.push(el),
                    None if root.is_none() => root = Some(el),
                    None => return Err(ApiError::malformed_xml()),
                }
            }
            Event::End(_) => {
                let el = stack.pop().ok_or_else(ApiError::malformed_xml)?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(el),
                    None if root.is_none() => root = Some(el),
                    None => return Err(ApiError::malformed_xml()),
                }
            }
            Event::Text(t) => {
                if let Some(el) = stack.last_mut() {
                    let s = t.decode().map_err(|_| ApiError::malformed_xml())?;
                    el.text.push_str(&s);
                }
            }
            Event::GeneralRef(r) => {
                if let Some(el) = stack.last_mut() {
                    let name = r.decode().map_err(|_| ApiError::malformed_xml())?;
                    let s = match name.as_ref() {
                        "amp" => "&".to_string(),
                        "lt" => "<".to_string(),
                        "gt" => ">".to_string(),
                        "quot" => "\"".to_string(),
                        "apos" => "'".to_string(),
                        other => {
                            let code = other
                                .strip_prefix("#x")
                                .and_then(|h| u32::from_str_radix(h, 16).ok())
                                .or_else(|| other.strip_prefix('#').and_then(|d| d.parse().ok()))
                                .and_then(char::from_u32)
                                .ok_or_else(ApiError::malformed_xml)?;
                            code.to_string()
                        }
                    };
                    el.text.push_str(&s);
                }
            }
            Event::CData(c) => {
                if let Some(el) = stack.last_mut() {
                    el.text.push_str(&String::from_utf8_lossy(&c));
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if !stack.is_empty() {
        return Err(ApiError::malformed_xml());
    }
    root.ok_or_else(ApiError::malformed_xml)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_nested_documents_with_entities() {
        let doc = br#"<?xml version="1.0"?><Delete xmlns="x"><Object><Key>a&amp;b&#x41;</Key></Object><Quiet>true</Quiet></Delete>"#;
        let root = parse(doc).expect("parses");
        assert_eq!(root.name, "Delete");
        assert_eq!(
            root.child("Object").and_then(|o| o.text_of("Key")),
            Some("a&bA")
        );
        assert_eq!(root.text_of("Quiet"), Some("true"));
    }

    #[test]
    fn rejects_broken_documents() {
        assert!(parse(b"<a><b></a>").is_err());
        assert!(parse(b"").is_err());
        assert!(parse(b"<a></a><b></b>").is_err());
    }

    #[test]
    fn writer_escapes_text() {
        let mut w = XmlWriter::new("R");
        w.elem("K", "a<b&\"c\"");
        let s = w.finish("R");
        assert!(s.ends_with("<K>a&lt;b&amp;&quot;c&quot;</K></R>"), "{s}");
    }
}
