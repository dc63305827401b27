//! `kiln git-credential-codecommit <get|store|erase>`: git's credential helper for CodeCommit, so a build
//! clones with the task role's credentials and no stored password, as `aws codecommit credential-helper`
//! does. git writes `protocol=`, `host=` and `path=` lines on stdin (`credential.UseHttpPath=true` sends the
//! path); `get` prints `username=`/`password=` (the access key id and a SigV4 signature for service
//! `codecommit`, region from the host). `store` and `erase` do nothing: nothing is stored.
//!
//! Configure git by hand with:
//! `git config --global credential.helper '!kiln git-credential-codecommit'` and
//! `git config --global credential.UseHttpPath true`.
//!
//! For tests only: `KILN_TEST_SIGNING_TIME=YYYYMMDDTHHMMSSZ` signs at that instant instead of now, so the
//! answer can be compared with a fixed vector.

use std::io::Read;
use std::process::ExitCode;
use std::time::SystemTime;

use anyhow::{Context, bail};
use kiln_aws::credentials::load_default_credentials;
use kiln_core::sigv4::AmzDate;
use kiln_core::sigv4::codecommit::{GitCredentialAction, codecommit_credentials, parse_git_credential_input};

/// The environment variable that fixes the signing time (tests only).
pub const SIGNING_TIME_VAR: &str = "KILN_TEST_SIGNING_TIME";

/// Arguments of `kiln git-credential-codecommit`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// What git asks: `get` (print credentials), `store` or `erase` (no-ops).
    pub action: String,
}

/// Answers one credential-helper call.
pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let action = GitCredentialAction::parse(&args.action)?;
    let mut input = String::new();
    std::io::stdin()
        .read_to_string(&mut input)
        .context("reading git's request on stdin")?;
    match action {
        GitCredentialAction::Get => {}
        GitCredentialAction::Store | GitCredentialAction::Erase => return Ok(ExitCode::SUCCESS),
    }
    let query = parse_git_credential_input(&input)?;
    let time = signing_time()?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let loaded = runtime.block_on(load_default_credentials())?;
    if let Some(answer) =
        codecommit_credentials(&query, loaded.region.as_deref(), &loaded.credentials, time, false)?
    {
        print!("{}", answer.to_helper_output());
    }
    Ok(ExitCode::SUCCESS)
}

fn signing_time() -> anyhow::Result<AmzDate> {
    if let Ok(fixed) = std::env::var(SIGNING_TIME_VAR) {
        return AmzDate::parse(&fixed)
            .with_context(|| format!("{SIGNING_TIME_VAR}={fixed:?} is not YYYYMMDDTHHMMSSZ"));
    }
    match AmzDate::from_system_time(SystemTime::now()) {
        Some(now) => Ok(now),
        None => bail!("the system clock is outside 1970..9999"),
    }
}
