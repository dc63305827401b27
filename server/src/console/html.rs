//! HTML building blocks for the console, written with maud's `html!` (compile-time templates that escape every
//! spliced value, so no page escapes by hand; the one place raw HTML is written is the log renderer,
//! [`super::ansi::log_lines_html`]): the page layout, status badges, times (UTC ISO text that the browser
//! rewrites into the viewer's zone), durations, costs, sizes and percent-encoded path segments.

use std::fmt::Write as _;

use kiln_core::build::Timestamp;
use maud::{DOCTYPE, Markup, html};

/// Percent-encodes a path segment or query value (everything but unreserved characters).
pub fn pct(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// A full page: navigation, `title` and `body`.
pub fn page(title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · Kiln" }
                link rel="icon" href="data:,";
                link rel="stylesheet" href="/console/assets/console.css";
                script src="/console/assets/console.js" defer {}
            }
            body {
                a class="skip" href="#main" { "Skip to content" }
                header class="top" {
                    nav aria-label="Main" {
                        a class="brand" href="/" { "Kiln" }
                        a href="/" { "Projects" }
                        a href="/console/events" { "Events" }
                    }
                }
                main id="main" { (body) }
            }
        }
    }
}

/// A status as text and colour: `<span class="status status-failed">FAILED</span>`.
pub fn status(status: &str) -> Markup {
    let status = if status.is_empty() { "UNKNOWN" } else { status };
    html! { span class={ "status status-" (status.to_ascii_lowercase()) } { (status) } }
}

/// An ISO-8601 time (a notice's `time`) as an instant.
pub fn parse_iso(text: &str) -> Option<Timestamp> {
    chrono::DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| Timestamp::from_epoch_millis(t.timestamp_millis()))
}

/// `<time>` with UTC ISO text (no-JS fallback) and the UTC time in `title`; the script localises it. "—"
/// without a time.
pub fn time(at: Option<Timestamp>) -> Markup {
    let Some(t) = at.and_then(|at| chrono::DateTime::from_timestamp_millis(at.epoch_millis())) else {
        return html! { "—" };
    };
    let iso = t.format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let human = t.format("%Y-%m-%d %H:%M:%S UTC").to_string();
    html! { time datetime=(iso) title=(human) { (human) } }
}

/// Seconds between two record timestamps (`end` absent: until `now`, epoch seconds).
pub fn seconds_between(start: Timestamp, end: Option<Timestamp>, now: f64) -> f64 {
    let end = end.map_or(now, Timestamp::epoch_seconds);
    (end - start.epoch_seconds()).max(0.0)
}

/// `1h 02m 03s`, `2m 05s`, `4s`.
pub fn duration(secs: Option<f64>) -> String {
    let Some(secs) = secs else {
        return "—".into();
    };
    let total = secs.round() as u64;
    let (h, m, s) = (total / 3600, total / 60 % 60, total % 60);
    if h > 0 {
        format!("{h}h {m:02}m {s:02}s")
    } else if m > 0 {
        format!("{m}m {s:02}s")
    } else {
        format!("{s}s")
    }
}

/// The estimated cost of `secs` on CodeBuild's on-demand Linux price for `compute_type` (per started minute).
pub fn cost(compute_type: &str, secs: Option<f64>) -> String {
    let Some(secs) = secs else {
        return "—".into();
    };
    let per_minute = match compute_type {
        "BUILD_GENERAL1_MEDIUM" => 0.01,
        "BUILD_GENERAL1_LARGE" => 0.02,
        "BUILD_GENERAL1_XLARGE" => 0.04,
        "BUILD_GENERAL1_2XLARGE" => 0.08,
        _ => 0.005,
    };
    let minutes = (secs / 60.0).ceil().max(1.0);
    format!("${:.3}", minutes * per_minute)
}

/// Bytes as `1.2 MiB`.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// A hidden CSRF field for a POST form.
pub fn csrf_field(token: &str) -> Markup {
    html! { input type="hidden" name="csrf" value=(token); }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_spliced_into_text_and_attributes_are_escaped() {
        let text = |value: &str| html! { (value) }.into_string();
        assert_eq!(
            text("\"><img src=x onerror=alert(1)>"),
            "&quot;&gt;&lt;img src=x onerror=alert(1)&gt;"
        );
        // maud leaves `'` as is: every attribute it writes is double-quoted, so a quote cannot end one.
        assert_eq!(
            text("<script>a&'b'</script>"),
            "&lt;script&gt;a&amp;'b'&lt;/script&gt;"
        );
        assert_eq!(
            csrf_field("\"><script>").into_string(),
            "<input type=\"hidden\" name=\"csrf\" value=\"&quot;&gt;&lt;script&gt;\">"
        );
        assert_eq!(
            status("<b>").into_string(),
            "<span class=\"status status-&lt;b&gt;\">&lt;b&gt;</span>"
        );
    }

    #[test]
    fn percent_encoding_keeps_only_unreserved_characters() {
        assert_eq!(pct("web:1a-b"), "web%3A1a-b");
        assert_eq!(pct("a b/\"<"), "a%20b%2F%22%3C");
    }

    #[test]
    fn times_render_as_utc_iso_with_the_absolute_time_in_the_title() {
        assert_eq!(
            time(Some(Timestamp::from_epoch_millis(1_700_000_000_500))).into_string(),
            "<time datetime=\"2023-11-14T22:13:20Z\" title=\"2023-11-14 22:13:20 UTC\">2023-11-14 22:13:20 UTC</time>"
        );
        assert_eq!(time(None).into_string(), "—");
    }

    #[test]
    fn durations_costs_and_sizes_read_as_people_write_them() {
        assert_eq!(duration(Some(3723.0)), "1h 02m 03s");
        assert_eq!(duration(Some(125.0)), "2m 05s");
        assert_eq!(duration(None), "—");
        assert_eq!(cost("BUILD_GENERAL1_SMALL", Some(61.0)), "$0.010");
        assert_eq!(bytes(1536), "1.5 KiB");
        assert_eq!(bytes(12), "12 B");
    }
}
