//! The build executor: the process that runs one build's buildspec, the same inside a Fargate task and on one
//! machine. It owns the shell session, the phase engine, the log pipeline, artifacts, the cache and reports.

pub mod artifacts;
pub mod cache;
pub mod reports;
