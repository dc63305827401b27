//! Kiln's core library: the domain of a CodeBuild-compatible build service with no I/O of its own.
//!
//! Modules own one concept each: [`buildspec`] (the buildspec 0.2 model and its validation), [`build`] (the
//! build record and its phase state machine), [`project`] (project definitions), [`trigger`] (webhook
//! verification, normalised trigger events and filter groups), [`schedule`] (EventBridge schedule
//! expressions), [`time`] (every calendar conversion, on chrono), [`notice`] (the build notice event as it
//! leaves Kiln), [`access_keys`] (the SigV4 keys Kiln issues for its API) and [`ports`] (the traits through which use cases reach storage, processes and secrets). AWS
//! types never appear here: the adapters that implement the ports live in `kiln-local` (SQLite, child
//! processes, files) and `kiln-aws` (the AWS SDK).

pub mod access_keys;
pub mod build;
pub mod buildspec;
pub mod notice;
pub mod ports;
pub mod project;
pub mod schedule;
pub mod sigv4;
pub mod time;
pub mod trigger;

#[cfg(test)]
mod test_support;
pub mod usecases;
