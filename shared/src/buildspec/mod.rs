//! The buildspec 0.2 model: YAML parsed once into validated types, with every error's key path and position.
//!
//! [`parse`] turns the bytes of a `buildspec.yml` into a [`Buildspec`] or into [`BuildspecErrors`] listing every
//! problem found (key path, 1-based line and column, a message quoting the bad value with a hint).

mod error;
mod model;

pub use error::{BuildspecError, BuildspecErrors, ErrorKind};
pub use model::{
    ArtifactSet, Artifacts, Batch, BatchBuild, BatchEnv, BatchKind, BuildMatrix, Buildspec, Cache,
    CacheAction, Env, EnvVar, MatrixVariable, OnFailure, Phase, PhaseName, Proxy, ReportFormat, ReportGroup,
    RuntimeVersion, SecondaryArtifact, SecretVar, Shell, Step, StepAction, Warning,
};
