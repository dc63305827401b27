//! `kiln validate [FILE]`: checks a buildspec the way a build would, without running anything.
//!
//! Prints `FILE: ok` (after any warnings) and exits 0, or prints every error as
//! `FILE:LINE:COLUMN: path: message` and exits 1. A file that cannot be read exits 2.

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use kiln_core::buildspec::{self, BuildspecErrors, MAX_BYTES};

/// Arguments of `kiln validate`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The buildspec to check.
    #[arg(default_value = "buildspec.yml")]
    pub file: PathBuf,
}

/// Validates the buildspec and reports the outcome as text and exit code.
pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let name = args.file.display().to_string();
    let file = std::fs::File::open(&args.file).with_context(|| format!("cannot read {name}"))?;
    let size = file
        .metadata()
        .with_context(|| format!("cannot read {name}"))?
        .len();
    // Check the size before reading, so a huge file is never loaded.
    let bytes = match buildspec::check_size(size) {
        Ok(()) => read_capped(file).with_context(|| format!("cannot read {name}"))?,
        Err(errors) => return Ok(report_errors(&name, &errors)),
    };
    match buildspec::parse(&bytes) {
        Ok(parsed) => {
            for warning in &parsed.warnings {
                let (line, column, path) = (warning.line, warning.column, &warning.path);
                println!("{name}:{line}:{column}: warning: {path}: {}", warning.message);
            }
            println!("{name}: ok");
            Ok(ExitCode::SUCCESS)
        }
        Err(errors) => Ok(report_errors(&name, &errors)),
    }
}

/// Reads at most one byte more than the cap (the file may grow after its length was checked).
fn read_capped(file: std::fs::File) -> std::io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    file.take(MAX_BYTES as u64 + 1).read_to_end(&mut bytes)?;
    Ok(bytes)
}

fn report_errors(name: &str, errors: &BuildspecErrors) -> ExitCode {
    for error in errors.errors() {
        let (line, column, path) = (error.line, error.column, error.display_path());
        println!("{name}:{line}:{column}: {path}: {}", error.kind);
    }
    let count = errors.errors().len();
    println!("{name}: {count} error{}", if count == 1 { "" } else { "s" });
    ExitCode::from(1)
}
