//! Process-group control: every build's shell runs in a process group of its own, so a timeout or a stop can
//! signal the whole tree (children, grandchildren, background jobs) at once, and a final sweep finds stragglers
//! that left the group (`setsid`) by the build's unique environment marker.

use std::time::Duration;

use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::Pid;

/// How long a group gets between SIGTERM and SIGKILL.
pub const TERM_GRACE: Duration = Duration::from_secs(2);

/// Sends `signal` to the process group `pgid`; a group that is already gone is not an error.
pub fn signal_group(pgid: u32, signal: Signal) {
    let Ok(raw) = i32::try_from(pgid) else { return };
    if raw > 1 {
        let _ = killpg(Pid::from_raw(raw), signal);
    }
}

/// True while any process of group `pgid` exists.
pub fn group_alive(pgid: u32) -> bool {
    let Ok(raw) = i32::try_from(pgid) else {
        return false;
    };
    raw > 1 && killpg(Pid::from_raw(raw), None).is_ok()
}

/// SIGTERM to the group, up to `grace` for it to go, then SIGKILL to whatever is left.
pub async fn terminate_group(pgid: u32, grace: Duration) {
    signal_group(pgid, Signal::SIGTERM);
    signal_group(pgid, Signal::SIGCONT);
    let deadline = tokio::time::Instant::now() + grace;
    while group_alive(pgid) && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    signal_group(pgid, Signal::SIGKILL);
}

/// Pids of processes (other than this one) whose environment contains the exact entry `marker` (`NAME=value`).
pub fn processes_with_env(marker: &str) -> Vec<u32> {
    let me = std::process::id();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| pid != me)
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/environ"))
                .map(|env| env.split(|&b| b == 0).any(|entry| entry == marker.as_bytes()))
                .unwrap_or(false)
        })
        .collect()
}

/// SIGKILLs every process carrying `marker` in its environment (processes that escaped the group).
pub fn sweep(marker: &str) -> usize {
    let pids = processes_with_env(marker);
    for pid in &pids {
        if let Ok(raw) = i32::try_from(*pid) {
            let _ = kill(Pid::from_raw(raw), Signal::SIGKILL);
        }
    }
    pids.len()
}
