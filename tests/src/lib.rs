//! The harness of Kiln's integration tests: helpers that start real components (moto server, later the local
//! orchestrator) on loopback ports in temporary directories, and stop them when the test ends.

pub mod kiln;
pub mod moto;
pub mod paths;
