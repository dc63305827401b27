//! Timestamps as the CodeBuild JSON protocol writes them: epoch seconds with a fraction (reference §6.1).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A point in time with millisecond precision, serialised as a JSON number of epoch seconds (`1700000000.123`).
///
/// The core never reads the clock: callers pass `Timestamp::from(SystemTime::now())` from the edge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

impl Timestamp {
    /// The instant `millis` milliseconds after the Unix epoch.
    pub fn from_epoch_millis(millis: i64) -> Self {
        Self(millis)
    }

    /// Milliseconds since the Unix epoch (the form of `CODEBUILD_START_TIME`).
    pub fn epoch_millis(self) -> i64 {
        self.0
    }

    /// Seconds since the Unix epoch, with the milliseconds as a fraction.
    pub fn epoch_seconds(self) -> f64 {
        self.0 as f64 / 1000.0
    }

    /// Whole seconds from `self` to `later` (zero if `later` is earlier), as `durationInSeconds` counts them.
    pub fn whole_seconds_until(self, later: Timestamp) -> i64 {
        (later.0 - self.0).max(0) / 1000
    }

    /// ISO 8601 in UTC to the second (`2026-12-03T20:30:00Z`), for people and logs.
    pub fn iso8601(self) -> String {
        chrono::DateTime::from_timestamp_millis(self.0)
            .unwrap_or_default()
            .format("%Y-%m-%dT%H:%M:%SZ")
            .to_string()
    }

    /// This instant plus `duration` (saturating).
    pub fn plus(self, duration: Duration) -> Self {
        let millis = i64::try_from(duration.as_millis()).unwrap_or(i64::MAX);
        Self(self.0.saturating_add(millis))
    }
}

impl From<SystemTime> for Timestamp {
    fn from(t: SystemTime) -> Self {
        let millis = match t.duration_since(UNIX_EPOCH) {
            Ok(after) => i64::try_from(after.as_millis()).unwrap_or(i64::MAX),
            Err(before) => -i64::try_from(before.duration().as_millis()).unwrap_or(i64::MAX),
        };
        Self(millis)
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_f64(self.epoch_seconds())
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let seconds = f64::deserialize(deserializer)?;
        if !seconds.is_finite() {
            return Err(serde::de::Error::custom(format!(
                "timestamp {seconds} is not a number of epoch seconds"
            )));
        }
        Ok(Self((seconds * 1000.0).round() as i64))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_round_trip_as_fractional_epoch_seconds() {
        for text in ["1700000000.123", "1700000001.0", "0.001"] {
            let t: Timestamp = serde_json::from_str(text).unwrap();
            assert_eq!(serde_json::to_string(&t).unwrap(), text);
        }
        let whole: Timestamp = serde_json::from_str("1700000001").unwrap();
        assert_eq!(whole.epoch_millis(), 1_700_000_001_000);
    }

    #[test]
    fn durations_count_whole_seconds_and_never_go_negative() {
        let start = Timestamp::from_epoch_millis(1_700_000_001_000);
        assert_eq!(
            start.whole_seconds_until(Timestamp::from_epoch_millis(1_700_000_037_999)),
            36
        );
        assert_eq!(
            start.whole_seconds_until(Timestamp::from_epoch_millis(1_700_000_000_000)),
            0
        );
        assert_eq!(
            Timestamp::from(UNIX_EPOCH + Duration::from_millis(1500)).epoch_millis(),
            1500
        );
    }
}
