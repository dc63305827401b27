//! The subcommands of `kiln`, one module each.

use std::process::ExitCode;

/// Every subcommand `kiln` knows.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Print the version of this kiln binary.
    Version,
}

/// Runs one subcommand and returns the process exit code.
pub fn dispatch(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Version => {
            println!("kiln {}", env!("CARGO_PKG_VERSION"));
            Ok(ExitCode::SUCCESS)
        }
    }
}
