//! The build executor: the process that runs one build's buildspec, the same inside a Fargate task and on one
//! machine. It owns the shell session ([`shell`]), process groups ([`process`]), the log pipeline ([`logs`]),
//! the sandbox ([`sandbox`]), and the phase engine.

pub mod logs;
pub mod process;
pub mod sandbox;
pub mod shell;
