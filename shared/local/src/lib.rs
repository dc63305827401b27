//! Local adapters: the core's ports implemented with SQLite, child processes, files and directories on this
//! machine, for `kiln run` and `kiln serve`.
//!
//! [`sqlite`] (the store, its one writer thread in [`sqlite_writer`]; builds in [`sqlite_builds`], dispatch queue
//! in [`sqlite_queue`], projects in [`sqlite_projects`], notice outbox in [`notifier`], console sessions in [`sqlite_sessions`]),
//! [`launcher`] (runners as child processes in their own process groups), [`dispatch_signal`] (a queued build
//! wakes the dispatch loop) and [`forwarder`] (notices to HTTP targets) serve `kiln serve`. The use cases are tested here, over these adapters ([`usecase_tests`]).

pub mod dispatch_signal;
pub mod forwarder;
pub mod launcher;
pub mod notifier;
pub mod sqlite;
pub mod sqlite_builds;
pub mod sqlite_keys;
pub mod sqlite_projects;
pub mod sqlite_queue;
pub mod sqlite_sessions;
pub mod sqlite_writer;

#[cfg(test)]
mod sqlite_tests;
#[cfg(test)]
mod sqlite_writer_tests;
#[cfg(test)]
mod usecase_tests;

pub mod log_dir;
pub mod log_file;
pub mod object_store;
pub mod secrets;

pub use dispatch_signal::WakeDispatcher;
pub use log_dir::LogDir;
pub use log_file::FileLogSink;
pub use secrets::{LocalSecrets, LocalSecretsError};
