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
