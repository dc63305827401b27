//! Shared helpers for Kiln's benchmark binaries (`src/bin/*.rs`): timing and the table they print.
//!
//! Every benchmark measures Kiln and a baseline (bash, `zip`, `tar`, a plain pipe) in the same run on the same
//! data, and prints both side by side with the ratio, so the figure means something on any machine.

use std::time::{Duration, Instant};

/// Runs `f` and returns how long it took along with its result.
pub fn timed<T>(f: impl FnOnce() -> T) -> (Duration, T) {
    let start = Instant::now();
    let out = f();
    (start.elapsed(), out)
}

/// The median of a non-empty set of durations (the upper median for an even count).
pub fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples.get(samples.len() / 2).copied().unwrap_or_default()
}

/// One line of a result table: what was measured, Kiln's figure, the baseline's, and Kiln / baseline.
pub fn print_row(what: &str, kiln: f64, baseline: f64, unit: &str) {
    let ratio = if baseline > 0.0 { kiln / baseline } else { f64::NAN };
    println!("{what:<48} kiln {kiln:>12.3} {unit:<6} baseline {baseline:>12.3} {unit:<6} ratio {ratio:>6.2}");
}
