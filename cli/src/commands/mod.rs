//! The subcommands of `kiln`, one module each.

pub mod runner;
pub mod serve;

use std::process::ExitCode;

/// Every subcommand `kiln` knows.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Print the version of this kiln binary.
    Version,
    /// Run the orchestrator: webhooks, the CodeBuild API, schedules and builds on this machine.
    Serve(serve::ServeArgs),
    /// Run one queued build (started by `kiln serve`; not for direct use).
    #[command(hide = true)]
    Runner(runner::RunnerArgs),
}

/// Runs one subcommand and returns the process exit code.
pub fn dispatch(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Version => {
            println!("kiln {}", env!("CARGO_PKG_VERSION"));
            Ok(ExitCode::SUCCESS)
        }
        Command::Serve(args) => serve::run(args),
        Command::Runner(args) => runner::run(args),
    }
}
