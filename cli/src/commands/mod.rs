//! The subcommands of `kiln`, one module each.

pub mod client;
pub mod client_commands;
pub mod git_credential;
pub mod keys;
pub mod projects;
pub mod run;
pub mod runner;
pub mod serve;

use std::process::ExitCode;

mod validate;

/// Every subcommand `kiln` knows.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Print the version of this kiln binary.
    Version,
    /// Run the orchestrator: webhooks, the CodeBuild API, schedules and builds on this machine.
    Serve(serve::ServeArgs),
    /// Start a build of a project on a Kiln server.
    Start(client_commands::StartArgs),
    /// List builds, newest first.
    Builds(client_commands::BuildsArgs),
    /// Show one build with its phases.
    Show(client_commands::IdArgs),
    /// Print a build's log (`-f` follows it until the build ends).
    Logs(client_commands::IdArgs),
    /// Stop a build.
    Stop(client_commands::IdArgs),
    /// Start a new build with the settings of an earlier one.
    Retry(client_commands::IdArgs),
    /// Print build notices (`-f` keeps waiting for new ones).
    Events(client_commands::EventsArgs),
    /// Run one queued build (started by `kiln serve`; not for direct use).
    #[command(hide = true)]
    Runner(runner::RunnerArgs),
    /// Run one build on this machine (no AWS, no Docker), like CodeBuild's local agent.
    Run(Box<run::RunArgs>),
    /// Check a buildspec: print `ok` or every error with its line and column.
    Validate(validate::Args),
    /// git's credential helper for CodeCommit: signs with the environment's or task role's AWS credentials.
    GitCredentialCodecommit(git_credential::Args),
    /// Make, list and revoke the access keys that sign calls to Kiln's API (local or a deployed stack).
    Keys(keys::KeysArgs),
    /// Manage a deployed stack's projects (`kiln projects apply kiln.yaml --stack NAME`).
    Projects(projects::ProjectsArgs),
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
        Command::Start(args) => client_commands::start(args),
        Command::Builds(args) => client_commands::builds(args),
        Command::Show(args) => client_commands::show(args),
        Command::Logs(args) => client_commands::logs(args),
        Command::Stop(args) => client_commands::stop_or_retry(args, "StopBuild"),
        Command::Retry(args) => client_commands::stop_or_retry(args, "RetryBuild"),
        Command::Events(args) => client_commands::events(args),
        Command::Run(args) => run::run(*args),
        Command::Validate(args) => validate::run(&args),
        Command::GitCredentialCodecommit(args) => git_credential::run(&args),
        Command::Projects(args) => projects::run(args),
        Command::Keys(args) => keys::run(args),
    }
}
