//! Local adapters: the ports implemented with files and directories on this machine.

pub mod log_file;
pub mod object_store;
pub mod secrets;

pub use log_file::FileLogSink;
pub use secrets::{LocalSecrets, LocalSecretsError};
