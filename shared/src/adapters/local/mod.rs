//! Local adapters: the ports implemented with files and directories on this machine.

pub mod notifier;
pub mod sqlite;
pub mod sqlite_queue;

#[cfg(test)]
mod sqlite_tests;
