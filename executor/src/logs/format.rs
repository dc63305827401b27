//! CodeBuild-style log lines: `[Container] YYYY/MM/DD HH:MM:SS.micro <message>` and the messages the engine
//! writes (phase entry and completion, context, running command).
//!
//! Command output itself is kept raw (CodeBuild does not prefix it either); only the executor's own lines carry
//! a timestamp.

use std::time::{SystemTime, UNIX_EPOCH};

/// Formats `time` as CodeBuild does in its container lines: `2026/11/24 12:00:00.123456` (UTC).
pub fn timestamp(time: SystemTime) -> String {
    let since = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let (year, month, day) = civil_from_days((secs / 86_400) as i64);
    let rem = secs % 86_400;
    format!(
        "{year:04}/{month:02}/{day:02} {:02}:{:02}:{:02}.{:06}",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60,
        since.subsec_micros()
    )
}

/// One executor line, `[Container] <timestamp> <message>`, without the trailing newline.
pub fn container_line(time: SystemTime, message: &str) -> String {
    format!("[Container] {} {message}", timestamp(time))
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

/// Days since 1970-01-01 to a proleptic Gregorian (year, month, day) (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

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
        assert_eq!(timestamp(UNIX_EPOCH), "1970/01/01 00:00:00.000000");
        let t = UNIX_EPOCH + Duration::from_secs(951_782_400); // 2000-02-29
        assert_eq!(&timestamp(t)[..10], "2000/02/29");
    }
}
