//! YAML text to a position-annotated node tree, built from `saphyr-parser` events without recursion.
//!
//! The builder bounds what hostile input can cost: nesting deeper than [`MAX_DEPTH`] stops the parse before
//! the parser's own stacks grow further, aliases may copy at most [`MAX_ALIAS_NODES`] nodes in total
//! (billion laughs), and the tree holds at most [`MAX_NODES`] nodes (about 200 bytes each, so a 4 MiB file of
//! one-character list items cannot take hundreds of megabytes). Only one document is accepted.

use std::collections::HashMap;

use saphyr_parser::{Event, Parser, ScalarStyle, Span};

use super::error::{BuildspecError, ErrorKind};

/// Deepest nesting of lists and mappings accepted (a real buildspec needs about 8).
pub(crate) const MAX_DEPTH: usize = 64;
/// Most nodes that aliases may copy into the tree.
pub(crate) const MAX_ALIAS_NODES: usize = 100_000;
/// Most nodes in one document, anchors' and aliases' copies included (the largest fixture has about 3,000).
pub(crate) const MAX_NODES: usize = 250_000;

/// A 1-based line and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Pos {
    pub line: usize,
    pub column: usize,
}

impl Pos {
    fn of(span: &Span) -> Self {
        Self {
            line: span.start.line(),
            column: span.start.col() + 1,
        }
    }
}

/// A YAML node with where it starts.
#[derive(Debug, Clone)]
pub(crate) struct Node {
    pub pos: Pos,
    pub value: Value,
}

/// The content of a node.
#[derive(Debug, Clone)]
pub(crate) enum Value {
    /// A scalar's text; `plain` is false for quoted and block scalars (so `"null"` is a string).
    Scalar {
        text: String,
        plain: bool,
    },
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

impl Node {
    /// True for `~`, `null`, or an empty plain scalar.
    pub fn is_null(&self) -> bool {
        match &self.value {
            Value::Scalar { text, plain: true } => {
                matches!(text.as_str(), "" | "~" | "null" | "Null" | "NULL")
            }
            Value::Scalar { .. } | Value::Seq(_) | Value::Map(_) => false,
        }
    }

    /// How many nodes this node holds, itself included (depth is bounded, so recursion is too).
    fn size(&self) -> usize {
        match &self.value {
            Value::Scalar { .. } => 1,
            Value::Seq(items) => 1 + items.iter().map(Node::size).sum::<usize>(),
            Value::Map(entries) => 1 + entries.iter().map(|(k, v)| k.size() + v.size()).sum::<usize>(),
        }
    }
}

/// A list or mapping whose events are still arriving.
struct Frame {
    pos: Pos,
    anchor: usize,
    kind: FrameKind,
}

enum FrameKind {
    Seq(Vec<Node>),
    Map {
        entries: Vec<(Node, Node)>,
        key: Option<Node>,
    },
}

/// Parses `text` into one node tree; `Ok(None)` means the document is empty.
pub(crate) fn build(text: &str) -> Result<Option<Node>, BuildspecError> {
    let mut builder = Builder {
        stack: Vec::new(),
        anchors: HashMap::new(),
        copied: 0,
        nodes: 0,
        root: None,
        documents: 0,
    };
    for item in Parser::new_from_str(text) {
        let (event, span) = item.map_err(|err| {
            let marker = err.marker();
            let pos = Pos {
                line: marker.line(),
                column: marker.col() + 1,
            };
            // The scanner caps flow nesting at 255 levels itself; report it like our own depth cap.
            match err.info() {
                "recursion limit exceeded" => error(pos, ErrorKind::TooDeep { limit: MAX_DEPTH }),
                info => error(
                    pos,
                    ErrorKind::Syntax {
                        message: with_hint(info),
                    },
                ),
            }
        })?;
        builder.event(event, Pos::of(&span))?;
    }
    Ok(builder.root.filter(|root| !root.is_null()))
}

/// The scanner's message plus a fix for the mistakes people make most in buildspecs.
fn with_hint(info: &str) -> String {
    let hint = if info.contains("tabs disallowed") {
        "; indent with spaces, not tabs"
    } else if info.contains("mapping values are not allowed") {
        "; a value containing `: ` must be quoted, e.g. - \"echo a: b\""
    } else if info.contains("did not find expected key") || info.contains("did not find expected '-'") {
        "; check the indentation of this line against the lines above"
    } else {
        ""
    };
    format!("{info}{hint}")
}

fn error(pos: Pos, kind: ErrorKind) -> BuildspecError {
    BuildspecError {
        path: String::new(),
        line: pos.line,
        column: pos.column,
        kind,
    }
}

struct Builder {
    stack: Vec<Frame>,
    anchors: HashMap<usize, Node>,
    copied: usize,
    nodes: usize,
    root: Option<Node>,
    documents: usize,
}

impl Builder {
    fn event(&mut self, event: Event<'_>, pos: Pos) -> Result<(), BuildspecError> {
        match event {
            Event::DocumentStart(_) => {
                self.documents += 1;
                if self.documents > 1 {
                    return Err(error(pos, ErrorKind::MultipleDocuments));
                }
            }
            Event::Nothing | Event::StreamStart | Event::StreamEnd | Event::DocumentEnd => {}
            Event::Scalar(text, style, anchor, _tag) => {
                self.count(1, pos)?;
                let plain = matches!(style, ScalarStyle::Plain);
                let node = Node {
                    pos,
                    value: Value::Scalar {
                        text: text.into_owned(),
                        plain,
                    },
                };
                self.complete(node, anchor)?;
            }
            Event::Alias(id) => {
                let Some(target) = self.anchors.get(&id) else {
                    return Err(error(pos, ErrorKind::UnknownAnchor));
                };
                let size = target.size();
                self.copied = self.copied.saturating_add(size);
                if self.copied > MAX_ALIAS_NODES {
                    return Err(error(
                        pos,
                        ErrorKind::AliasBudget {
                            limit: MAX_ALIAS_NODES,
                        },
                    ));
                }
                let node = Node {
                    pos,
                    value: target.value.clone(),
                };
                self.count(size, pos)?;
                self.complete(node, 0)?;
            }
            Event::SequenceStart(anchor, _) => self.open(pos, anchor, FrameKind::Seq(Vec::new()))?,
            Event::MappingStart(anchor, _) => {
                self.open(
                    pos,
                    anchor,
                    FrameKind::Map {
                        entries: Vec::new(),
                        key: None,
                    },
                )?;
            }
            Event::SequenceEnd | Event::MappingEnd => {
                if let Some(frame) = self.stack.pop() {
                    let value = match frame.kind {
                        FrameKind::Seq(items) => Value::Seq(items),
                        FrameKind::Map { entries, .. } => Value::Map(entries),
                    };
                    self.complete(
                        Node {
                            pos: frame.pos,
                            value,
                        },
                        frame.anchor,
                    )?;
                }
            }
        }
        Ok(())
    }

    fn open(&mut self, pos: Pos, anchor: usize, kind: FrameKind) -> Result<(), BuildspecError> {
        if self.stack.len() >= MAX_DEPTH {
            return Err(error(pos, ErrorKind::TooDeep { limit: MAX_DEPTH }));
        }
        self.count(1, pos)?;
        self.stack.push(Frame { pos, anchor, kind });
        Ok(())
    }

    fn count(&mut self, nodes: usize, pos: Pos) -> Result<(), BuildspecError> {
        self.nodes = self.nodes.saturating_add(nodes);
        if self.nodes > MAX_NODES {
            return Err(error(pos, ErrorKind::TooManyNodes { limit: MAX_NODES }));
        }
        Ok(())
    }

    fn complete(&mut self, node: Node, anchor: usize) -> Result<(), BuildspecError> {
        if anchor != 0 {
            self.count(node.size(), node.pos)?;
            self.anchors.insert(anchor, node.clone());
        }
        let Some(frame) = self.stack.last_mut() else {
            self.root = Some(node);
            return Ok(());
        };
        match &mut frame.kind {
            FrameKind::Seq(items) => items.push(node),
            FrameKind::Map { entries, key } => match key.take() {
                Some(k) => entries.push((k, node)),
                None => *key = Some(node),
            },
        }
        Ok(())
    }
}
