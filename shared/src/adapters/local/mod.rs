//! Local adapters: the ports implemented with files and directories on this machine.

pub mod object_store;
