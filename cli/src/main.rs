//! `kiln`: the command-line entry point. Each subcommand lives in its own module under `commands/`.

mod commands;

use clap::Parser;

/// Kiln: a self-hosted, CodeBuild-compatible build service.
#[derive(Debug, Parser)]
#[command(name = "kiln", version, about)]
struct Cli {
    #[command(subcommand)]
    command: commands::Command,
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    match commands::dispatch(cli.command) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            std::process::ExitCode::from(2)
        }
    }
}
