//! The build record (CodeBuild's `Build` object) and its phase state machine.
