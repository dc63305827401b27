//! Isolation without Docker: the build's shell inside bubblewrap (`bwrap`).
//!
//! The sandbox sees the whole system read-only, a private `/tmp` (tmpfs), fresh `/dev` and `/proc`, and writable
//! binds of exactly the build's own directories (source and the executor's control directory). It has its own
//! PID namespace (so killing it kills every process in it) and dies with the executor. Network is shared unless
//! disabled. Without `bwrap` on PATH a sandboxed build is refused, never run unsandboxed.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// Sandbox settings for one build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SandboxConfig {
    /// Give the build a network namespace of its own (no network at all).
    pub no_network: bool,
}

/// Why the sandbox cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error(
        "--sandbox needs bubblewrap (bwrap), which is not on PATH; install it (apt-get install bubblewrap) or run without --sandbox"
    )]
    Missing,
}

/// Finds `bwrap` on `PATH`.
pub fn find_bwrap() -> Result<PathBuf, SandboxError> {
    find_on_path("bwrap").ok_or(SandboxError::Missing)
}

/// Finds an executable named `name` on this process's `PATH`.
pub fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// The bwrap arguments (before the shell's own argv) for a sandbox with `writable` directories bound read-write.
pub fn bwrap_args(config: &SandboxConfig, writable: &[&Path], cwd: &Path) -> Vec<OsString> {
    let mut args: Vec<OsString> = [
        "--ro-bind",
        "/",
        "/",
        "--dev",
        "/dev",
        "--proc",
        "/proc",
        "--tmpfs",
        "/tmp",
        "--unshare-pid",
        "--unshare-ipc",
        "--unshare-uts",
        "--die-with-parent",
    ]
    .iter()
    .map(OsString::from)
    .collect();
    if config.no_network {
        args.push("--unshare-net".into());
    }
    for dir in writable {
        args.push("--bind".into());
        args.push(dir.as_os_str().to_owned());
        args.push(dir.as_os_str().to_owned());
    }
    args.push("--chdir".into());
    args.push(cwd.as_os_str().to_owned());
    args.push("--".into());
    args
}
