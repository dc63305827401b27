//! Kiln's integration tests: one binary, one module per area. Test names read as sentences.

mod buildspec;
mod console;
mod console_http;
mod executor;
mod harness;
mod serve;
mod template;
