//! Why a report group's files could not be found, read or parsed. Reports never fail a build: each error
//! becomes one line of the group summary's `problems`, after the file's name when there is one.

use crate::artifacts::select::SelectError;

/// Why a report file (or the group's file selection) yielded nothing.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ReportError {
    /// The selection patterns are invalid or a directory could not be read.
    #[error(transparent)]
    Select(#[from] SelectError),
    /// The patterns matched no file.
    #[error("no report files matched {patterns:?}")]
    NoFilesMatched { patterns: Vec<String> },
    /// The file could not be read.
    #[error("{0}")]
    Read(#[source] std::io::Error),
    /// The file is larger than the parsers accept.
    #[error("file is {size} bytes, over the {limit}-byte limit")]
    TooLarge { size: u64, limit: u64 },
    /// The XML is not well-formed at `position`.
    #[error("invalid XML at byte {position}: {source}")]
    InvalidXml { position: u64, source: quick_xml::Error },
    /// An element's attribute list is malformed.
    #[error("bad attribute in <{element}>: {source}")]
    BadAttribute {
        element: String,
        source: quick_xml::events::attributes::AttrError,
    },
    /// An attribute value holds an unknown or broken entity.
    #[error("bad attribute value in <{element}>: {source}")]
    BadAttributeValue {
        element: String,
        source: quick_xml::Error,
    },
    /// The document has no element at all (empty, or only a declaration and comments).
    #[error("the file holds no XML element")]
    NoXmlElement,
    /// A JSON report that is not JSON.
    #[error("invalid JSON: {0}")]
    InvalidJson(#[source] serde_json::Error),
    /// A Cucumber report whose top level is not an array.
    #[error("a Cucumber JSON report is an array of features")]
    NotFeatureArray,
    /// A coverage file without the summary its format puts there; `expected` names it.
    #[error("no {expected}")]
    NoCoverageSummary { expected: &'static str },
}
