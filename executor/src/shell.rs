//! The build's shell session: one long-lived `sh` (or `bash`) per build, fed one command at a time.
//!
//! Each command is written to a file in the shell's control directory and run with `. <file>` in the shell
//! itself, so `cd`, `export` and plain assignments persist; a multi-line block scalar is one command. The
//! command's exit status comes back on a separate channel (a FIFO opened on fd 9, hidden from the command
//! with `9>&-`), never mixed with its output. Output (stdout and stderr merged into one pipe) belongs to the
//! log pipeline.
//!
//! A command that calls `exit` (or `set -e` and fails) ends the shell. An `EXIT` trap installed at start-up
//! saves the exported environment (`export -p`) and the working directory and reports `x<status>`; the command
//! fails with that status, and the engine starts a fresh shell that re-applies the saved state
//! ([`Shell::restore`]). Non-exported shell variables do not survive such an exit, nor does anything if a
//! command replaces the `EXIT` trap or kills the shell by a signal (the new shell then starts from the build's
//! initial environment in the source directory).

use std::ffi::OsString;
use std::io::PipeWriter;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::unix::pipe;
use tokio::process::{Child, ChildStdin, Command};

use crate::process;
use crate::sandbox::{self, SandboxConfig};

/// A Unix user the shell runs as (`run-as`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunAs {
    /// The user name, as written in the buildspec.
    pub name: String,
    /// Its uid.
    pub uid: u32,
    /// Its primary gid.
    pub gid: u32,
}

/// How to start one shell.
#[derive(Debug, Clone)]
pub struct ShellSpec {
    /// The shell program (`sh`, `bash`, `/bin/sh`).
    pub program: String,
    /// The complete environment the shell starts with.
    pub env: Vec<(String, String)>,
    /// The starting directory.
    pub cwd: PathBuf,
    /// Run as this user instead of the executor's.
    pub user: Option<RunAs>,
    /// Run inside bubblewrap with these settings; `writable` lists the read-write directories.
    pub sandbox: Option<(SandboxConfig, Vec<PathBuf>)>,
}

/// How a command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The command finished with this status; the shell is still there.
    Exited(i32),
    /// The shell itself ended (the command called `exit`) with this status.
    ShellGone(i32),
}

impl Outcome {
    /// The command's exit status.
    pub fn status(self) -> i32 {
        match self {
            Outcome::Exited(s) | Outcome::ShellGone(s) => s,
        }
    }
}

/// Why the shell could not be started or driven.
#[derive(Debug, thiserror::Error)]
pub enum ShellError {
    #[error("could not prepare the shell's control directory {path}: {source}")]
    Control { path: String, source: std::io::Error },
    #[error("could not start shell {program:?}: {source}")]
    Spawn { program: String, source: std::io::Error },
    #[error(transparent)]
    Sandbox(#[from] sandbox::SandboxError),
    #[error("lost contact with the build shell: {0}")]
    Io(#[from] std::io::Error),
}

/// One running shell; see the module docs.
#[derive(Debug)]
pub struct Shell {
    child: Child,
    stdin: Option<ChildStdin>,
    status: BufReader<pipe::Receiver>,
    ctl: PathBuf,
    pgid: u32,
}

impl Shell {
    /// Starts a shell with its own process group, control files in `ctl` (created here), output to `output`.
    pub async fn spawn(spec: &ShellSpec, ctl: &Path, output: &PipeWriter) -> Result<Self, ShellError> {
        let control = |source| ShellError::Control {
            path: ctl.display().to_string(),
            source,
        };
        prepare_control(ctl, spec.user.as_ref()).map_err(control)?;
        let fifo = ctl.join("status");
        let receiver = pipe::OpenOptions::new()
            .read_write(true)
            .open_receiver(&fifo)
            .map_err(control)?;
        let mut command = build_command(spec)?;
        command
            .env_clear()
            .envs(spec.env.iter().map(|(k, v)| (k, v)))
            .current_dir(&spec.cwd)
            .stdin(Stdio::piped())
            .stdout(Stdio::from(output.try_clone()?))
            .stderr(Stdio::from(output.try_clone()?))
            .process_group(0)
            .kill_on_drop(true);
        if let Some(user) = &spec.user {
            command.uid(user.uid).gid(user.gid);
        }
        let mut child = command.spawn().map_err(|source| ShellError::Spawn {
            program: spec.program.clone(),
            source,
        })?;
        let pgid = child.id().unwrap_or(0);
        let stdin = child.stdin.take();
        let mut shell = Self {
            child,
            stdin,
            status: BufReader::new(receiver),
            ctl: ctl.to_path_buf(),
            pgid,
        };
        shell
            .send(&format!(". {}\n", quote(&ctl.join("init.sh"))))
            .await?;
        Ok(shell)
    }

    /// The shell's process group id (the group every command of this shell runs in).
    pub fn pgid(&self) -> u32 {
        self.pgid
    }

    /// The shell's control directory.
    pub fn ctl(&self) -> &Path {
        &self.ctl
    }

    /// Runs one command in the shell and waits for its status.
    pub async fn run(&mut self, command: &str) -> Result<Outcome, ShellError> {
        let file = self.ctl.join("cmd");
        std::fs::write(&file, format!("{command}\n"))?;
        let line = format!(". {} </dev/null 9>&-; echo \"$?\" >&9\n", quote(&file));
        if self.send(&line).await.is_err() {
            return Ok(Outcome::ShellGone(self.exit_status().await));
        }
        self.await_status().await
    }

    /// Closes the shell's input and waits for it to exit (at most `grace`, then its group is killed).
    pub async fn close(mut self, grace: Duration) {
        self.stdin.take();
        if tokio::time::timeout(grace, self.child.wait()).await.is_err() {
            process::terminate_group(self.pgid, Duration::ZERO).await;
            let _ = self.child.wait().await;
        }
    }

    /// Kills the shell's whole process group (SIGTERM, then SIGKILL after `grace`) and reaps the shell.
    pub async fn kill(mut self, grace: Duration) {
        use nix::sys::signal::Signal;
        self.stdin.take();
        process::signal_group(self.pgid, Signal::SIGTERM);
        process::signal_group(self.pgid, Signal::SIGCONT);
        let deadline = tokio::time::Instant::now() + grace;
        // Reap the shell as we wait: an unreaped shell would keep the group "alive" for the whole grace.
        while tokio::time::Instant::now() < deadline {
            let shell_done = matches!(self.child.try_wait(), Ok(Some(_)) | Err(_));
            if shell_done && !process::group_alive(self.pgid) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        process::signal_group(self.pgid, Signal::SIGKILL);
        let _ = self.child.wait().await;
    }

    async fn send(&mut self, text: &str) -> std::io::Result<()> {
        let stdin = self.stdin.as_mut().ok_or(std::io::ErrorKind::BrokenPipe)?;
        stdin.write_all(text.as_bytes()).await?;
        stdin.flush().await
    }

    async fn await_status(&mut self) -> Result<Outcome, ShellError> {
        let mut line = String::new();
        let read = tokio::select! {
            read = self.status.read_line(&mut line) => Some(read),
            _ = self.child.wait() => None,
        };
        if read.is_none() {
            // The shell ended; its EXIT trap may have reported just before.
            let _ = tokio::time::timeout(Duration::from_millis(200), self.status.read_line(&mut line)).await;
        }
        let text = line.trim();
        if let Some(code) = text.strip_prefix('x') {
            self.stdin.take();
            let _ = self.child.wait().await;
            return Ok(Outcome::ShellGone(code.parse().unwrap_or(1)));
        }
        match text.parse::<i32>() {
            Ok(code) if read.is_some() => Ok(Outcome::Exited(code)),
            _ => Ok(Outcome::ShellGone(self.exit_status().await)),
        }
    }

    async fn exit_status(&mut self) -> i32 {
        self.stdin.take();
        match self.child.wait().await {
            Ok(status) => {
                use std::os::unix::process::ExitStatusExt;
                status.code().or(status.signal().map(|s| 128 + s)).unwrap_or(1)
            }
            Err(_) => 1,
        }
    }
}

fn build_command(spec: &ShellSpec) -> Result<Command, ShellError> {
    let Some((config, writable)) = &spec.sandbox else {
        return Ok(Command::new(&spec.program));
    };
    let bwrap = sandbox::find_bwrap()?;
    let dirs: Vec<&Path> = writable.iter().map(PathBuf::as_path).collect();
    let mut args = sandbox::bwrap_args(config, &dirs, &spec.cwd);
    args.push(OsString::from(&spec.program));
    let mut command = Command::new(bwrap);
    command.args(args);
    Ok(command)
}

/// Creates the control directory, its status FIFO and the start-up script.
fn prepare_control(ctl: &Path, user: Option<&RunAs>) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(ctl)?;
    let fifo = ctl.join("status");
    if !fifo.exists() {
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600))
            .map_err(std::io::Error::from)?;
    }
    let status = quote(&fifo);
    let init = format!(
        "exec 9>{status}\n\
         __kiln_exit() {{ __kiln_s=$?; export -p >{env} 2>/dev/null; pwd >{cwd} 2>/dev/null; echo \"x$__kiln_s\" >{status}; }}\n\
         trap __kiln_exit EXIT\n",
        env = quote(&ctl.join("env.exit")),
        cwd = quote(&ctl.join("cwd.exit")),
    );
    std::fs::write(ctl.join("init.sh"), init)?;
    std::fs::write(ctl.join("cmd"), "")?;
    if let Some(user) = user {
        let owner = Some(nix::unistd::Uid::from_raw(user.uid));
        let group = Some(nix::unistd::Gid::from_raw(user.gid));
        for path in [ctl.to_path_buf(), fifo, ctl.join("init.sh"), ctl.join("cmd")] {
            nix::unistd::chown(&path, owner, group).map_err(std::io::Error::from)?;
        }
        // The user must reach its control directory through the executor's work directory.
        if let Some(parent) = ctl.parent() {
            std::fs::set_permissions(parent, std::fs::Permissions::from_mode(0o711))?;
        }
    }
    Ok(())
}

/// The command that re-applies the state a previous shell saved when it exited (exported variables, working
/// directory); `None` when it saved nothing.
pub fn restore_command(previous_ctl: &Path) -> Option<String> {
    let env = previous_ctl.join("env.exit");
    let cwd = std::fs::read_to_string(previous_ctl.join("cwd.exit")).ok()?;
    let cwd = cwd.trim_end_matches('\n');
    Some(format!(
        ". {} >/dev/null 2>&1; cd {} 2>/dev/null",
        quote(&env),
        quote(Path::new(cwd))
    ))
}

/// Single-quotes a path for the shell.
pub fn quote(path: &Path) -> String {
    quote_str(&path.to_string_lossy())
}

/// Single-quotes a string for the shell.
pub fn quote_str(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn spec(dir: &Path, program: &str) -> ShellSpec {
        ShellSpec {
            program: program.into(),
            env: vec![("PATH".into(), std::env::var("PATH").unwrap())],
            cwd: dir.to_path_buf(),
            user: None,
            sandbox: None,
        }
    }

    async fn with_shell(program: &str, commands: &[&str]) -> (Vec<Outcome>, String) {
        let dir = tempfile::tempdir().unwrap();
        let (mut reader, writer) = std::io::pipe().unwrap();
        let mut shell = Shell::spawn(&spec(dir.path(), program), &dir.path().join("ctl"), &writer)
            .await
            .unwrap();
        drop(writer);
        let mut outcomes = Vec::new();
        for command in commands {
            let outcome = shell.run(command).await.unwrap();
            outcomes.push(outcome);
            if matches!(outcome, Outcome::ShellGone(_)) {
                let previous = shell.ctl().to_path_buf();
                shell.close(Duration::from_secs(1)).await;
                let (r2, w2) = std::io::pipe().unwrap();
                drop(r2);
                shell = Shell::spawn(&spec(dir.path(), program), &dir.path().join("ctl2"), &w2)
                    .await
                    .unwrap();
                let restore = restore_command(&previous).unwrap();
                assert_eq!(shell.run(&restore).await.unwrap(), Outcome::Exited(0));
            }
        }
        shell.close(Duration::from_secs(1)).await;
        let mut out = String::new();
        reader.read_to_string(&mut out).unwrap();
        (outcomes, out)
    }

    #[tokio::test]
    async fn cd_export_and_assignments_persist_between_commands() {
        for program in ["sh", "bash"] {
            let (outcomes, out) = with_shell(
                program,
                &[
                    "mkdir sub && cd sub",
                    "export A=1; B=2",
                    "echo \"$(basename \"$PWD\") $A $B\"",
                ],
            )
            .await;
            assert_eq!(outcomes, vec![Outcome::Exited(0); 3]);
            assert_eq!(out, "sub 1 2\n", "{program}");
        }
    }

    #[tokio::test]
    async fn exit_status_is_reported_and_multiline_commands_are_one_command() {
        let (outcomes, out) = with_shell(
            "sh",
            &[
                "false",
                "for i in 1 2; do\n  echo $i\ndone\nexit_code=3\n(exit $exit_code)",
                "echo err >&2",
            ],
        )
        .await;
        assert_eq!(
            outcomes,
            vec![Outcome::Exited(1), Outcome::Exited(3), Outcome::Exited(0)]
        );
        assert_eq!(out, "1\n2\nerr\n");
    }

    #[tokio::test]
    async fn a_command_that_calls_exit_ends_the_shell_and_its_state_is_restored() {
        for program in ["sh", "bash"] {
            let dir_probe = "mkdir -p d && cd d && export KEEP=yes && exit 7";
            let (outcomes, _) = with_shell(
                program,
                &[
                    dir_probe,
                    "test \"$KEEP\" = yes && test \"$(basename \"$PWD\")\" = d",
                ],
            )
            .await;
            assert_eq!(
                outcomes,
                vec![Outcome::ShellGone(7), Outcome::Exited(0)],
                "{program}"
            );
        }
    }
}
