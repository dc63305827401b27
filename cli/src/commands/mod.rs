//! The subcommands of `kiln`, one module each.

pub mod run;

use std::process::ExitCode;

mod validate;

/// Every subcommand `kiln` knows.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Print the version of this kiln binary.
    Version,
    /// Run one build on this machine (no AWS, no Docker), like CodeBuild's local agent.
    Run(Box<run::RunArgs>),
    /// Check a buildspec: print `ok` or every error with its line and column.
    Validate(validate::Args),
}

/// Runs one subcommand and returns the process exit code.
pub fn dispatch(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Version => {
            println!("kiln {}", env!("CARGO_PKG_VERSION"));
            Ok(ExitCode::SUCCESS)
        }
        Command::Run(args) => run::run(*args),
        Command::Validate(args) => validate::run(&args),
    }
}
