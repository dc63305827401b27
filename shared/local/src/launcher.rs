//! The local task launcher: each build's runner is a child process (`kiln runner --build-id ID ...`) in its
//! own process group, so stopping a build kills everything its commands started.
//!
//! A task handle is `<pid>/<build id>`. Liveness checks `/proc/<pid>/cmdline` for the build id, so a runner
//! started by an earlier server process (adopted after a restart) is recognised and a reused pid is not.

use std::collections::HashMap;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

use kiln_core::build::BuildId;
use kiln_core::ports::BoxFuture;
use kiln_core::ports::launcher::{LaunchError, TaskLauncher};

/// Starts runners as child processes: `program args.. --build-id ID`, output appended to `<out_dir>/<id>.out`.
pub struct ProcessLauncher {
    program: PathBuf,
    args: Vec<String>,
    out_dir: PathBuf,
    /// Our runners by pid, with their build id, until they are reaped (a stopped one stays here until its
    /// group is gone).
    children: Arc<Mutex<HashMap<u32, (BuildId, Child)>>>,
    grace: std::time::Duration,
}

impl ProcessLauncher {
    /// A launcher for `program` with leading `args` (e.g. `runner --data-dir DIR`), writing the runners'
    /// own stdout and stderr under `out_dir`.
    pub fn new(program: PathBuf, args: Vec<String>, out_dir: PathBuf) -> ProcessLauncher {
        ProcessLauncher {
            program,
            args,
            out_dir,
            children: Arc::new(Mutex::new(HashMap::new())),
            grace: std::time::Duration::from_secs(10),
        }
    }

    /// How long a stopped runner gets to clean up after SIGTERM before its group is killed (default 10 s).
    pub fn with_grace(mut self, grace: std::time::Duration) -> ProcessLauncher {
        self.grace = grace;
        self
    }

    fn launch_sync(&self, build_id: &BuildId) -> Result<String, LaunchError> {
        let fail = |message: String| LaunchError::Launch {
            build_id: build_id.to_string(),
            message,
        };
        std::fs::create_dir_all(&self.out_dir)
            .map_err(|e| fail(format!("creating {:?}: {e}", self.out_dir)))?;
        let out_path = self
            .out_dir
            .join(format!("{}.out", build_id.as_str().replace(':', "_")));
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&out_path)
            .map_err(|e| fail(format!("opening {out_path:?}: {e}")))?;
        let err = out
            .try_clone()
            .map_err(|e| fail(format!("opening {out_path:?}: {e}")))?;
        let child = Command::new(&self.program)
            .args(&self.args)
            .arg("--build-id")
            .arg(build_id.as_str())
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .process_group(0)
            .spawn()
            .map_err(|e| fail(format!("spawning {:?}: {e}", self.program)))?;
        let pid = child.id();
        if let Ok(mut children) = self.children.lock() {
            children.insert(pid, (build_id.clone(), child));
        }
        Ok(format!("{pid}/{build_id}"))
    }

    fn stop_sync(&self, task: &str) -> Result<(), LaunchError> {
        let (pid, _) = parse_task(task)?;
        if !self.is_alive_sync(task)? {
            self.reap(pid);
            return Ok(());
        }
        let pgid = Pid::from_raw(i32::try_from(pid).unwrap_or(i32::MAX));
        // SIGTERM first: the runner cancels the build, and the executor kills the build's own process group
        // (and anything that left it) before exiting. Whatever is left after the grace period is killed.
        // ESRCH means the group is already gone, which is what we want.
        let _ = killpg(pgid, Signal::SIGTERM);
        // The child stays in `children` (so it still holds its slot) until it has been reaped here.
        let children = self.children.clone();
        let task = task.to_owned();
        let grace = self.grace;
        std::thread::spawn(move || {
            let deadline = std::time::Instant::now() + grace;
            let exited = |children: &Mutex<HashMap<u32, (BuildId, Child)>>| match children.lock() {
                Ok(mut c) => match c.get_mut(&pid) {
                    Some((_, child)) => !matches!(child.try_wait(), Ok(None)),
                    None => !std::path::Path::new(&format!("/proc/{pid}")).exists(),
                },
                Err(_) => true,
            };
            while std::time::Instant::now() < deadline && !exited(&children) {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            let _ = killpg(pgid, Signal::SIGKILL);
            let child = children.lock().ok().and_then(|mut c| c.remove(&pid));
            if let Some((_, mut c)) = child {
                let _ = c.wait();
            }
            tracing::debug!(task = %task, "runner stopped");
        });
        Ok(())
    }

    /// Waits for our own child if it has exited, so it does not linger as a zombie.
    fn reap(&self, pid: u32) -> Option<bool> {
        let mut children = self.children.lock().ok()?;
        let (_, child) = children.get_mut(&pid)?;
        match child.try_wait() {
            Ok(Some(_)) | Err(_) => {
                children.remove(&pid);
                Some(false)
            }
            Ok(None) => Some(true),
        }
    }

    /// Reaps the runners that exited and returns the build ids of those still running.
    fn live_builds_sync(&self) -> Vec<BuildId> {
        let Ok(mut children) = self.children.lock() else {
            return Vec::new();
        };
        children.retain(|_, (_, child)| matches!(child.try_wait(), Ok(None)));
        children.values().map(|(id, _)| id.clone()).collect()
    }

    fn is_alive_sync(&self, task: &str) -> Result<bool, LaunchError> {
        let (pid, build_id) = parse_task(task)?;
        if let Some(alive) = self.reap(pid) {
            return Ok(alive);
        }
        // Not our child (started before a restart): look it up in /proc.
        let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
            return Ok(false);
        };
        let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
        let ours = args
            .windows(2)
            .any(|w| w[0] == b"--build-id" && w[1] == build_id.as_bytes());
        let zombie = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map(|stat| {
                stat.rsplit(')')
                    .next()
                    .is_some_and(|rest| rest.trim_start().starts_with('Z'))
            })
            .unwrap_or(true);
        Ok(ours && !zombie)
    }
}

fn parse_task(task: &str) -> Result<(u32, &str), LaunchError> {
    let bad = |reason: &str| LaunchError::BadTask {
        task: task.to_owned(),
        reason: reason.to_owned(),
    };
    let (pid, build_id) = task
        .split_once('/')
        .ok_or_else(|| bad("expected <pid>/<build id>"))?;
    let pid = pid.parse::<u32>().map_err(|_| bad("the pid is not a number"))?;
    if pid <= 1 {
        return Err(bad("the pid must be above 1"));
    }
    Ok((pid, build_id))
}

impl TaskLauncher for ProcessLauncher {
    fn launch<'a>(&'a self, build_id: &'a BuildId) -> BoxFuture<'a, Result<String, LaunchError>> {
        Box::pin(async move { self.launch_sync(build_id) })
    }

    fn stop<'a>(&'a self, task: &'a str) -> BoxFuture<'a, Result<(), LaunchError>> {
        Box::pin(async move { self.stop_sync(task) })
    }

    fn is_alive<'a>(&'a self, task: &'a str) -> BoxFuture<'a, Result<bool, LaunchError>> {
        Box::pin(async move { self.is_alive_sync(task) })
    }

    fn live_builds(&self) -> BoxFuture<'_, Result<Vec<BuildId>, LaunchError>> {
        Box::pin(async move { Ok(self.live_builds_sync()) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block_on<T>(f: BoxFuture<'_, T>) -> T {
        // The local launcher's futures never wait, so one poll finishes them.
        let waker = std::task::Waker::noop();
        let mut cx = std::task::Context::from_waker(waker);
        let mut f = f;
        match f.as_mut().poll(&mut cx) {
            std::task::Poll::Ready(v) => v,
            std::task::Poll::Pending => panic!("local launcher futures complete at once"),
        }
    }

    #[test]
    fn a_stopped_runner_and_its_children_are_gone() {
        let dir = tempfile::tempdir().unwrap();
        // `sh -c 'sleep 300 & sleep 300' kiln --build-id ID`: $0 is "kiln", the build id follows.
        let launcher = ProcessLauncher::new(
            "sh".into(),
            vec!["-c".into(), "sleep 300 & sleep 300".into(), "kiln".into()],
            dir.path().to_path_buf(),
        );
        let id = BuildId::parse("web:00000000-0000-4000-8000-000000001234").unwrap();
        let task = block_on(launcher.launch(&id)).unwrap();
        assert!(block_on(launcher.is_alive(&task)).unwrap());
        let pid = task.split_once('/').unwrap().0.to_owned();
        block_on(launcher.stop(&task)).unwrap();
        // The process group is gone: no process has it as its group id any more.
        for _ in 0..100 {
            if !group_has_members(&pid) {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        assert!(!group_has_members(&pid), "process group {pid} still has members");
        assert!(!block_on(launcher.is_alive(&task)).unwrap());
    }

    #[test]
    fn a_runner_that_exited_is_not_alive_and_bad_handles_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let launcher = ProcessLauncher::new("true".into(), vec![], dir.path().to_path_buf());
        let id = BuildId::parse("web:00000000-0000-4000-8000-000000000001").unwrap();
        let task = block_on(launcher.launch(&id)).unwrap();
        let mut alive = true;
        for _ in 0..100 {
            alive = block_on(launcher.is_alive(&task)).unwrap();
            if !alive {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        assert!(!alive);
        assert!(block_on(launcher.is_alive("1/web:1")).is_err());
        assert!(block_on(launcher.is_alive("nope")).is_err());
        // A live process that is not this build's runner is not taken for it.
        let me = std::process::id();
        assert!(!block_on(launcher.is_alive(&format!("{me}/web:1"))).unwrap());
    }

    fn group_has_members(pgid: &str) -> bool {
        std::fs::read_dir("/proc").unwrap().flatten().any(|entry| {
            let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
            let fields: Vec<&str> = stat.rsplit(')').next().unwrap_or("").split_whitespace().collect();
            // fields: state ppid pgrp ...; zombies awaiting reaping do not count.
            fields.len() > 2 && fields[2] == pgid && fields[0] != "Z"
        })
    }
}
