//! The build's shell session: one long-lived `sh` (or `bash`) per build, fed one command at a time.
//!
//! Each command is written to a file in the shell's control directory and run with `. <file>` in the shell
//! itself, so `cd`, `export` and plain assignments persist; a multi-line block scalar is one command. The
//! command's exit status comes back on a separate channel (a FIFO opened on fd 9, hidden from the command
//! with `9>&-`), never mixed with its output. Output (stdout and stderr merged into one pipe) belongs to the
//! log pipeline.
//!
//! A command that calls `exit` (or `set -e` and fails) ends the shell. An `EXIT` trap installed at start-up
//! reports `x<status>` with the exported environment (`export -p`) and the working directory on the status
//! channel ([`channel`]); the command fails with that status, and the session starts a fresh shell that
//! re-applies the saved state ([`Shell::restore`]). Non-exported shell variables do not survive such an exit,
//! nor does anything if a command replaces the `EXIT` trap or kills the shell by a signal (the new shell then
//! starts from the build's initial environment in the source directory).
//!
//! The control directory holds only the status FIFO, the start-up script and the current command's text, never
//! a value of the environment: it is created afresh (a leftover is removed, never followed), readable by the
//! executor and the shell's user alone, and removed when the shell is dropped, however the build ended.

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

mod channel;
mod control;

use channel::Reply;
pub use channel::SavedState;

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
    ended: bool,
    saved: Option<SavedState>,
}

impl Shell {
    /// Starts a shell with its own process group, control files in `ctl` (created here), output to `output`.
    pub async fn spawn(spec: &ShellSpec, ctl: &Path, output: &PipeWriter) -> Result<Self, ShellError> {
        let control = |source| ShellError::Control {
            path: ctl.display().to_string(),
            source,
        };
        control::prepare(ctl, spec.user.as_ref()).map_err(control)?;
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
            ended: false,
            saved: None,
        };
        shell
            .send(format!(". {}\n", quote(&ctl.join("init.sh"))).as_bytes())
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

    /// Whether the shell has ended (a command called `exit`, or it stopped following the protocol).
    pub fn ended(&self) -> bool {
        self.ended
    }

    /// The state the shell reported as it ended, if it did (taken: it is handed over once).
    pub fn take_saved(&mut self) -> Option<SavedState> {
        self.saved.take()
    }

    /// Runs one command in the shell and waits for its status.
    pub async fn run(&mut self, command: &str) -> Result<Outcome, ShellError> {
        let file = self.ctl.join("cmd");
        std::fs::write(&file, format!("{command}\n"))?;
        let line = format!(". {} </dev/null 9>&-; echo \"$?\" >&9\n", quote(&file));
        Ok(match self.ask(line.as_bytes()).await? {
            Reply::Status(code) => Outcome::Exited(code),
            Reply::Exit(code, _) => Outcome::ShellGone(code),
            _ => Outcome::ShellGone(self.exit_status().await),
        })
    }

    /// Re-applies `state` (another shell's) in this shell: its exported variables, then its directory.
    pub async fn restore(&mut self, state: &SavedState) -> Result<Outcome, ShellError> {
        Ok(match self.ask(&state.restore_script()).await? {
            Reply::Status(code) => Outcome::Exited(code),
            Reply::Exit(code, _) => Outcome::ShellGone(code),
            _ => Outcome::ShellGone(self.exit_status().await),
        })
    }

    /// The shell's state (exported variables, directory), to hand over to another shell; `None` if it ended.
    pub async fn capture(&mut self) -> Result<Option<SavedState>, ShellError> {
        Ok(match self.ask(channel::state_request().as_bytes()).await? {
            Reply::State(state) => Some(state),
            _ => None,
        })
    }

    /// The current values of `names` (shell identifiers) that are set; `None` if the shell ended.
    pub async fn read_vars(
        &mut self,
        names: &[&String],
    ) -> Result<Option<Vec<(String, String)>>, ShellError> {
        Ok(match self.ask(channel::vars_request(names).as_bytes()).await? {
            Reply::Vars(vars) => Some(vars),
            _ => None,
        })
    }

    /// `text` evaluated as the inside of a double-quoted word (`$VAR`, `$(cmd)`); `None` if the shell ended.
    pub async fn eval(&mut self, text: &str) -> Result<Option<String>, ShellError> {
        Ok(match self.ask(channel::eval_request(text).as_bytes()).await? {
            Reply::Text(value) => Some(value),
            _ => None,
        })
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

    async fn send(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        let stdin = self.stdin.as_mut().ok_or(std::io::ErrorKind::BrokenPipe)?;
        stdin.write_all(bytes).await?;
        stdin.flush().await
    }

    /// Sends `script` to the shell and reads its reply; a shell that is gone or ends replies [`Reply::Exit`] or
    /// [`Reply::Unknown`], and is marked ended.
    async fn ask(&mut self, script: &[u8]) -> Result<Reply, ShellError> {
        if self.send(script).await.is_err() {
            let code = self.exit_status().await;
            return Ok(Reply::Exit(code, None));
        }
        let mut line = String::new();
        let read = tokio::select! {
            read = self.status.read_line(&mut line) => Some(read),
            _ = self.child.wait() => None,
        };
        if read.is_none() {
            // The shell ended; its EXIT trap may have reported just before.
            let _ = tokio::time::timeout(Duration::from_millis(200), self.status.read_line(&mut line)).await;
        }
        let reply = channel::rest(line.trim_end_matches('\n'), &mut self.status).await;
        match reply {
            Reply::Exit(code, saved) => {
                self.saved = saved;
                self.stdin.take();
                let _ = self.child.wait().await;
                self.ended = true;
                Ok(Reply::Exit(code, None))
            }
            reply if read.is_some() && reply != Reply::Unknown => Ok(reply),
            _ => {
                self.ended = true;
                Ok(Reply::Unknown)
            }
        }
    }

    async fn exit_status(&mut self) -> i32 {
        self.ended = true;
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

impl Drop for Shell {
    /// The control directory goes with its shell, whichever way the shell ended.
    fn drop(&mut self) {
        control::remove(&self.ctl);
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
                assert!(shell.ended());
                let saved = shell.take_saved().unwrap();
                shell.close(Duration::from_secs(1)).await;
                let (r2, w2) = std::io::pipe().unwrap();
                drop(r2);
                shell = Shell::spawn(&spec(dir.path(), program), &dir.path().join("ctl2"), &w2)
                    .await
                    .unwrap();
                assert_eq!(shell.restore(&saved).await.unwrap(), Outcome::Exited(0));
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
    #[tokio::test]
    async fn variables_and_words_are_answered_on_the_channel_and_set_e_does_not_end_the_shell() {
        let dir = tempfile::tempdir().unwrap();
        let (_reader, writer) = std::io::pipe().unwrap();
        let mut shell = Shell::spawn(&spec(dir.path(), "sh"), &dir.path().join("ctl"), &writer)
            .await
            .unwrap();
        shell.run("set -e; export A='x\ny' B=").await.unwrap();
        let (a, b, c) = (String::from("A"), String::from("B"), String::from("C"));
        let vars = shell.read_vars(&[&a, &b, &c]).await.unwrap();
        assert_eq!(
            vars,
            Some(vec![("A".into(), "x\ny".into()), ("B".into(), String::new())])
        );
        let word = shell.eval("$A-$(false)-\"q\"\\\\").await.unwrap();
        assert_eq!(word.as_deref(), Some("x\ny--\"q\"\\\\"));
        assert!(!shell.ended());
        let saved = shell.capture().await.unwrap().unwrap();
        assert!(format!("{saved:?}").contains("bytes"));
        assert_eq!(shell.run("true").await.unwrap(), Outcome::Exited(0));
        let names: Vec<_> = std::fs::read_dir(shell.ctl())
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(names.len(), 3, "only cmd, init.sh and the FIFO: {names:?}");
    }

    #[tokio::test]
    async fn the_control_directory_is_private_made_afresh_and_removed_with_its_shell() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let elsewhere = dir.path().join("elsewhere");
        std::fs::create_dir(&elsewhere).unwrap();
        let ctl = dir.path().join("ctl");
        std::os::unix::fs::symlink(&elsewhere, &ctl).unwrap();
        let (_reader, writer) = std::io::pipe().unwrap();
        let mut shell = Shell::spawn(&spec(dir.path(), "sh"), &ctl, &writer)
            .await
            .unwrap();
        assert_eq!(shell.run("true").await.unwrap(), Outcome::Exited(0));
        assert_eq!(
            std::fs::read_dir(&elsewhere).unwrap().count(),
            0,
            "the link was not followed"
        );
        let mode = |path: &Path| std::fs::symlink_metadata(path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&ctl), 0o700);
        for name in ["cmd", "init.sh", "status"] {
            assert_eq!(mode(&ctl.join(name)), 0o600, "{name}");
        }
        shell.close(Duration::from_secs(1)).await;
        assert!(!ctl.exists());
    }
}
