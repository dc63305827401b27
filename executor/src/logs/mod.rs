//! The build log: CodeBuild-style line formatting ([`format`]), secret masking ([`mask`]) and the streaming
//! pipeline that merges command output with the executor's lines ([`pipeline`]).

pub mod format;
pub mod mask;
pub mod pipeline;

pub use mask::Masker;
pub use pipeline::{LogError, LogPipeline, Terminal};
