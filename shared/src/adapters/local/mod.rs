//! Local adapters: the ports implemented with files and directories on this machine.
//!
//! [`sqlite`] (build store, dispatch queue in [`sqlite_queue`], notice outbox in [`notifier`]) and
//! [`launcher`] (runners as child processes in their own process groups) serve `kiln serve`.

pub mod launcher;
pub mod notifier;
pub mod sqlite;
pub mod sqlite_projects;
pub mod sqlite_queue;

#[cfg(test)]
mod sqlite_tests;

pub mod log_dir;
pub mod log_file;
pub mod object_store;
pub mod secrets;

pub use log_dir::LogDir;
pub use log_file::FileLogSink;
pub use secrets::{LocalSecrets, LocalSecretsError};
