//! The subcommands of `kiln`, one module each.

use std::process::ExitCode;

mod validate;

/// Every subcommand `kiln` knows.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Print the version of this kiln binary.
    Version,
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
        Command::Validate(args) => validate::run(&args),
    }
}
