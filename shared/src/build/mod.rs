//! The build record (CodeBuild's `Build` object) and its phase state machine.
//!
//! [`phase`] holds the enums and the pure transition function.

pub mod phase;

pub use phase::{FailureAction, NotAnEndStatus, PhaseType, StatusType, derive_build_status, next_phase};
