//! CodeBuild-style log lines: `[Container] YYYY/MM/DD HH:MM:SS.micro <message>` and the messages the engine
//! writes (phase entry and completion, context, running command).
//!
//! Command output itself is kept raw (CodeBuild does not prefix it either); only the executor's own lines carry
//! a timestamp (`kiln_core::time::container_timestamp`).

use std::time::SystemTime;

use kiln_core::time::container_timestamp;

/// One executor line, `[Container] <timestamp> <message>`, without the trailing newline.
pub fn container_line(time: SystemTime, message: &str) -> String {
    format!("[Container] {} {message}", container_timestamp(time))
}

/// `Entering phase <PHASE>`.
pub fn entering_phase(phase: &str) -> String {
    format!("Entering phase {phase}")
}

/// `Running command <cmd>`.
pub fn running_command(command: &str) -> String {
    format!("Running command {command}")
}

/// `Phase complete: <PHASE> State: <STATUS>`.
pub fn phase_complete(phase: &str, status: &str) -> String {
    format!("Phase complete: {phase} State: {status}")
}

/// `Phase context status code: <CODE> Message: <text>`.
pub fn phase_context(code: &str, message: &str) -> String {
    format!("Phase context status code: {code} Message: {message}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn container_lines_use_codebuild_timestamp_format() {
        // 2026-11-24T12:00:00.123456Z
        let t = UNIX_EPOCH + Duration::from_micros(1_795_521_600_123_456);
        assert_eq!(
            container_line(t, &running_command("npm test")),
            "[Container] 2026/11/24 12:00:00.123456 Running command npm test"
        );
    }

    #[test]
    fn leap_days_and_epoch_are_dated_correctly() {
        assert_eq!(container_timestamp(UNIX_EPOCH), "1970/01/01 00:00:00.000000");
        let t = UNIX_EPOCH + Duration::from_secs(951_782_400); // 2000-02-29
        assert_eq!(&container_timestamp(t)[..10], "2000/02/29");
    }
}
