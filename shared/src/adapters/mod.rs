//! Adapters: the implementations of the [`crate::ports`] traits. `local` (files, SQLite, child processes) serves
//! `kiln run` and `kiln serve`; the AWS adapters arrive with the AWS issue. Only adapter modules do I/O.

#[cfg(feature = "aws")]
pub mod aws;
pub mod local;
