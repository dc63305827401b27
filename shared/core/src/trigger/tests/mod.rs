//! Tests over the real third-party fixtures: every payload signed and parsed, the README's signature vectors,
//! and the CodeBuild documentation's filter-group examples run against fixture events.

mod filters;
mod fixtures;
mod outcomes;
mod parse;
mod signatures;
mod variables;
