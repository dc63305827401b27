//! The build's shell session across phases: starts the shell on first use, replaces it when a command ended it
//! (`exit`) or when a phase runs as another user (`run-as`), carrying the exported environment and working
//! directory over in memory ([`SavedState`], never a file), and applies the build timeout and stop requests to
//! every command.
//!
//! A timeout or stop kills the current shell's whole process group (SIGTERM, then SIGKILL); at the end of the
//! build the group is killed as well (background jobs do not outlive their build), and a sweep kills any process
//! that left the group but still carries the build's `CODEBUILD_BUILD_ID`.

use std::io::PipeWriter;
use std::path::PathBuf;
use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::process;
use crate::shell::{Outcome, RunAs, SavedState, Shell, ShellError, ShellSpec};

/// Why a command did not finish on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interrupt {
    /// The build timeout passed.
    TimedOut,
    /// A stop was requested.
    Stopped,
}

/// Why a command could not be run to its end.
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    #[error("build interrupted: {0:?}")]
    Interrupted(Interrupt),
    #[error(transparent)]
    Shell(#[from] ShellError),
}

/// The session; see the module docs.
pub struct Session {
    spec: ShellSpec,
    work: PathBuf,
    output: PipeWriter,
    shell: Option<(Shell, Option<RunAs>)>,
    saved_state: Option<SavedState>,
    shells_started: u32,
    succeeding: bool,
    deadline: Instant,
    stop: CancellationToken,
    grace: Duration,
}

impl Session {
    /// A session whose shells start from `spec`, keep control files under `work`, and write to `output`.
    pub fn new(
        spec: ShellSpec,
        work: PathBuf,
        output: PipeWriter,
        deadline: Instant,
        stop: CancellationToken,
    ) -> Self {
        Self {
            spec,
            work,
            output,
            shell: None,
            saved_state: None,
            shells_started: 0,
            succeeding: true,
            deadline,
            stop,
            grace: process::TERM_GRACE,
        }
    }

    /// Runs one command as `user` (the executor's own user when `None`).
    pub async fn exec(&mut self, command: &str, user: Option<&RunAs>) -> Result<Outcome, ExecError> {
        self.check_deadline()?;
        self.ensure(user).await?;
        self.asked(async |shell| shell.run(command).await).await
    }

    /// Sets `CODEBUILD_BUILD_SUCCEEDING` (`1` or `0`) in the live shell and in every later one.
    pub async fn set_succeeding(&mut self, succeeding: bool) -> Result<(), ExecError> {
        self.succeeding = succeeding;
        let value = if succeeding { "1" } else { "0" };
        for (name, current) in &mut self.spec.env {
            if name == "CODEBUILD_BUILD_SUCCEEDING" {
                *current = value.into();
            }
        }
        if self.shell.is_some() {
            self.internal(&format!("export CODEBUILD_BUILD_SUCCEEDING={value}"))
                .await?;
        }
        Ok(())
    }

    /// The current values of `names` (unset names are left out), read from the live shell.
    pub async fn read_vars(&mut self, names: &[String]) -> Result<Vec<(String, String)>, ExecError> {
        let valid: Vec<&String> = names.iter().filter(|n| is_identifier(n)).collect();
        if valid.is_empty() {
            return Ok(Vec::new());
        }
        self.ensure_current().await?;
        if self.shell.is_none() {
            return Ok(Vec::new());
        }
        let vars = self.asked(async |shell| shell.read_vars(&valid).await).await?;
        Ok(vars.unwrap_or_default())
    }

    /// Evaluates `text` as the inside of a double-quoted shell word (`$VAR`, `$(cmd)`) in the live shell.
    pub async fn eval_text(&mut self, text: &str) -> Result<String, ExecError> {
        self.ensure_current().await?;
        if self.shell.is_none() {
            return Ok(text.to_owned());
        }
        let value = self.asked(async |shell| shell.eval(text).await).await?;
        Ok(value.unwrap_or_else(|| text.to_owned()))
    }

    /// Kills the current shell's process group at once (timeout or stop).
    pub async fn kill(&mut self) {
        if let Some((shell, _)) = self.shell.take() {
            shell.kill(self.grace).await;
        }
    }

    /// Ends the session: closes the shell, kills what is left of its group, sweeps processes carrying `marker`.
    pub async fn shutdown(mut self, marker: &str) {
        if let Some((shell, _)) = self.shell.take() {
            let pgid = shell.pgid();
            shell.close(Duration::from_secs(1)).await;
            process::terminate_group(pgid, Duration::from_millis(500)).await;
        }
        process::sweep(marker);
    }

    /// Makes sure a shell runs, as the user of the last one.
    async fn ensure_current(&mut self) -> Result<(), ExecError> {
        let user = self.shell.as_ref().and_then(|(_, u)| u.clone());
        self.ensure(user.as_ref()).await
    }

    async fn ensure(&mut self, user: Option<&RunAs>) -> Result<(), ExecError> {
        if let Some((_, current)) = &self.shell {
            if current.as_ref() == user {
                return Ok(());
            }
            if let Some(state) = self.asked(async |shell| shell.capture().await).await? {
                self.saved_state = Some(state);
            }
            self.retire().await;
        }
        self.shells_started += 1;
        let ctl = self.work.join(format!("shell-{}", self.shells_started));
        let mut spec = self.spec.clone();
        spec.user = user.cloned();
        let shell = Shell::spawn(&spec, &ctl, &self.output).await?;
        self.shell = Some((shell, user.cloned()));
        if let Some(previous) = self.saved_state.take() {
            self.asked(async |shell| shell.restore(&previous).await).await?;
            let value = if self.succeeding { "1" } else { "0" };
            self.internal(&format!("export CODEBUILD_BUILD_SUCCEEDING={value}"))
                .await?;
        }
        Ok(())
    }

    /// Runs an executor command (not logged, not counted); its failure is ignored.
    async fn internal(&mut self, script: &str) -> Result<(), ExecError> {
        self.asked(async |shell| shell.run(script).await).await?;
        Ok(())
    }

    /// Asks the live shell (see [`Session::guarded`]) and retires it if it ended meanwhile.
    async fn asked<T>(
        &mut self,
        ask: impl AsyncFnOnce(&mut Shell) -> Result<T, ShellError>,
    ) -> Result<T, ExecError> {
        let answer = self.guarded(ask).await?;
        if self.shell.as_ref().is_some_and(|(shell, _)| shell.ended()) {
            self.retire().await;
        }
        Ok(answer)
    }

    /// Drops the current shell, keeping the state it saved as it ended so the next shell restores it.
    async fn retire(&mut self) {
        if let Some((mut shell, _)) = self.shell.take() {
            if let Some(state) = shell.take_saved() {
                self.saved_state = Some(state);
            }
            shell.close(Duration::from_secs(1)).await;
        }
    }

    fn check_deadline(&self) -> Result<(), ExecError> {
        if self.stop.is_cancelled() {
            return Err(ExecError::Interrupted(Interrupt::Stopped));
        }
        if Instant::now() >= self.deadline {
            return Err(ExecError::Interrupted(Interrupt::TimedOut));
        }
        Ok(())
    }

    /// Asks the live shell unless the deadline passes or a stop arrives first (then kills the group).
    async fn guarded<T>(
        &mut self,
        ask: impl AsyncFnOnce(&mut Shell) -> Result<T, ShellError>,
    ) -> Result<T, ExecError> {
        let Some((shell, _)) = self.shell.as_mut() else {
            return Err(ExecError::Shell(ShellError::Io(
                std::io::ErrorKind::NotConnected.into(),
            )));
        };
        let stop = self.stop.clone();
        let interrupt = tokio::select! {
            result = ask(shell) => return Ok(result?),
            _ = tokio::time::sleep_until(self.deadline) => Interrupt::TimedOut,
            _ = stop.cancelled() => Interrupt::Stopped,
        };
        self.kill().await;
        Err(ExecError::Interrupted(interrupt))
    }
}

fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Why a `run-as` user cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum RunAsError {
    /// Kiln itself is not root, so it cannot switch users.
    #[error(
        "run-as {name} needs kiln to run as root (it runs as uid {uid}); remove run-as or run the build as root"
    )]
    NotRoot { name: String, uid: u32 },
    /// No such user in this machine's user database.
    #[error("run-as user {name:?} does not exist on this machine")]
    NoSuchUser { name: String },
    /// The user database could not be read.
    #[error("could not look up run-as user {name:?}: {source}")]
    Lookup { name: String, source: nix::Error },
}

/// Looks up a `run-as` user; only root can switch users.
pub fn resolve_user(name: &str) -> Result<RunAs, RunAsError> {
    let me = nix::unistd::geteuid();
    if !me.is_root() {
        return Err(RunAsError::NotRoot {
            name: name.to_owned(),
            uid: me.as_raw(),
        });
    }
    match nix::unistd::User::from_name(name) {
        Ok(Some(user)) => Ok(RunAs {
            name: name.to_owned(),
            uid: user.uid.as_raw(),
            gid: user.gid.as_raw(),
        }),
        Ok(None) => Err(RunAsError::NoSuchUser {
            name: name.to_owned(),
        }),
        Err(source) => Err(RunAsError::Lookup {
            name: name.to_owned(),
            source,
        }),
    }
}
