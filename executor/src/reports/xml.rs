//! A small pull-to-push adapter over `quick-xml` for the report parsers: each element becomes a `Start` (with
//! its local name and unescaped attributes) and an `End`, self-closing elements included, so a parser is a
//! handful of `match` arms. Namespace prefixes are dropped (TRX uses a default namespace).

use quick_xml::events::{BytesStart, Event};

use super::error::ReportError;

/// An element's opening: local name and attributes.
#[derive(Debug, Clone)]
pub(super) struct Element {
    pub name: String,
    attrs: Vec<(String, String)>,
}

impl Element {
    /// The value of the attribute with this local name.
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The attribute parsed as a number of seconds (or whatever unit the caller knows), 0 when absent or bad.
    pub fn number(&self, name: &str) -> f64 {
        self.attr(name)
            .and_then(|v| v.trim().replace(',', "").parse::<f64>().ok())
            .filter(|v| v.is_finite())
            .unwrap_or(0.0)
    }
}

/// One step through the document.
pub(super) enum Ev<'a> {
    Start(&'a Element),
    End(&'a str),
}

/// Walks `bytes`, calling `f` for every element start and end; the error names the byte position.
pub(super) fn walk(bytes: &[u8], mut f: impl FnMut(Ev<'_>)) -> Result<(), ReportError> {
    let mut reader = quick_xml::Reader::from_reader(bytes);
    reader.config_mut().trim_text(true);
    let mut buf = Vec::new();
    let mut seen_root = false;
    loop {
        let event = reader
            .read_event_into(&mut buf)
            .map_err(|source| ReportError::InvalidXml {
                position: reader.buffer_position(),
                source,
            })?;
        match event {
            Event::Start(start) => {
                seen_root = true;
                let element = element(&start)?;
                f(Ev::Start(&element));
            }
            Event::Empty(start) => {
                seen_root = true;
                let element = element(&start)?;
                f(Ev::Start(&element));
                f(Ev::End(&element.name));
            }
            Event::End(end) => {
                let name = String::from_utf8_lossy(end.local_name().as_ref()).into_owned();
                f(Ev::End(&name));
            }
            Event::Eof => break,
            Event::Text(_)
            | Event::CData(_)
            | Event::Comment(_)
            | Event::Decl(_)
            | Event::PI(_)
            | Event::DocType(_) => {}
        }
        buf.clear();
    }
    if seen_root {
        Ok(())
    } else {
        Err(ReportError::NoXmlElement)
    }
}

fn element(start: &BytesStart<'_>) -> Result<Element, ReportError> {
    let name = String::from_utf8_lossy(start.local_name().as_ref()).into_owned();
    let mut attrs = Vec::new();
    for attr in start.attributes() {
        let attr = attr.map_err(|source| ReportError::BadAttribute {
            element: name.clone(),
            source,
        })?;
        let key = String::from_utf8_lossy(attr.key.local_name().as_ref()).into_owned();
        let value = attr
            .unescape_value()
            .map_err(|source| ReportError::BadAttributeValue {
                element: name.clone(),
                source,
            })?
            .into_owned();
        attrs.push((key, value));
    }
    Ok(Element { name, attrs })
}
