//! The build executor: runs one build's buildspec, phase by phase in one shell session, the same inside a
//! Fargate task, under `kiln serve` and in `kiln run`. (The *runner*, `kiln-runner`, is the process around it
//! that loads a stored build and records what the executor reports.)
//!
//! Entry point: [`engine::run`] takes a [`BuildRequest`], the [`Ports`] (source fetcher, log sink, secret
//! resolver, optional terminal, artifact and cache stores), an optional channel of [`BuildEvent`]s and a stop
//! token, and returns the [`BuildResult`]. Inside: the shell session ([`shell`], [`session`]), process groups
//! ([`process`]), the log pipeline ([`logs`]), the environment ([`env`]), the source fetch ([`source`]: the
//! one git path, S3 zips), the sandbox ([`sandbox`]) and runtimes ([`runtime`]);
//! [`artifacts`], [`cache`] and [`reports`] are called at their points in the phase flow.

pub mod artifacts;
pub mod build_record;
pub mod buildspec_file;
pub mod cache;
pub mod engine;
pub mod env;
pub mod logs;
pub mod outputs;
pub mod process;
pub mod record;
pub mod reports;
pub mod request;
pub mod runtime;
pub mod sandbox;
pub mod session;
pub mod shell;
pub mod source;

pub use engine::run;
pub use record::{BuildEvent, BuildResult, PhaseContext, PhaseRecord};
pub use request::{BuildRequest, BuildspecSource, Ports};
pub use tokio_util::sync::CancellationToken;
