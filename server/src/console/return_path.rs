//! Where the console login sends a browser afterwards (`next`): only ever a page of this console. The value is
//! resolved as a browser resolves a `Location` (WHATWG URL parsing through the `url` crate: tabs and newlines
//! dropped, backslashes read as slashes, dot segments removed, percent-encoding kept) against a stand-in origin;
//! anything that leaves that origin, or is not a console page, becomes `/`.

use url::Url;

/// The stand-in origin `next` is resolved against; any other origin after resolution is another site.
const BASE: &str = "http://console.kiln.invalid/";

/// A path (and query) of this console, safe to put in a `Location` header: ASCII only, starting with exactly
/// one `/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReturnPath(String);

impl ReturnPath {
    /// The console page `next` resolves to, or `/` for anything else (another site, another scheme, a path
    /// outside the console, the login itself).
    pub fn parse(next: &str) -> ReturnPath {
        Self::resolve(next).unwrap_or_else(Self::home)
    }

    /// The projects page, where the console starts.
    pub fn home() -> ReturnPath {
        ReturnPath("/".to_owned())
    }

    /// The `next` member of a raw query string (`a=b&next=...`), resolved as [`ReturnPath::parse`] does.
    pub fn from_query(query: Option<&str>) -> ReturnPath {
        let next = form_urlencoded::parse(query.unwrap_or_default().as_bytes())
            .filter(|(name, _)| name == "next")
            .last()
            .map(|(_, value)| value.into_owned())
            .unwrap_or_default();
        ReturnPath::parse(&next)
    }

    /// The path and query, ready for a `Location` header or a form field.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    fn resolve(next: &str) -> Option<ReturnPath> {
        let base = Url::parse(BASE).ok()?;
        let url = base.join(next).ok()?;
        if url.origin() != base.origin() || !url.username().is_empty() || url.password().is_some() {
            return None;
        }
        let path = url.path();
        // A serialised path never starts with `//` under a host, but a `Location` starting so would name
        // another host: refuse it outright rather than trust that.
        let console = path == "/"
            || (path.starts_with("/console/")
                && !path.starts_with("//")
                && path != "/console/login"
                && path != "/console/logout");
        if !console {
            return None;
        }
        let mut out = path.to_owned();
        if let Some(query) = url.query().filter(|q| !q.is_empty()) {
            out.push('?');
            out.push_str(query);
        }
        out.is_ascii().then_some(ReturnPath(out))
    }
}

impl std::fmt::Display for ReturnPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_pages_of_this_console_are_followed() {
        let cases: &[(&str, &str)] = &[
            // Pages of this console, as they are.
            ("/", "/"),
            ("/console/events", "/console/events"),
            ("/console/projects/web", "/console/projects/web"),
            (
                "/console/projects/web?status=FAILED&page=2",
                "/console/projects/web?status=FAILED&page=2",
            ),
            ("/console/builds/web%3A1", "/console/builds/web%3A1"),
            // Dot segments and fragments resolved as a browser does.
            ("/console/projects/../events", "/console/events"),
            ("/console/builds/x#L12", "/console/builds/x"),
            ("/console/%2e%2e/builds/x/logs", "/"),
            ("/console/./events", "/console/events"),
            // Tabs and newlines are dropped by browsers, so they cannot hide a second slash.
            ("/console/\tevents", "/console/events"),
            ("/\t/evil.example", "/"),
            ("/\n/evil.example", "/"),
            ("\r\n//evil.example", "/"),
            (" /console/events", "/console/events"),
            // Other sites, in every spelling a browser accepts.
            ("//evil.example", "/"),
            ("///evil.example", "/"),
            ("/\\evil.example", "/"),
            ("\\\\evil.example", "/"),
            ("\\/evil.example", "/"),
            ("/.//evil.example", "/"),
            ("https://evil.example/console/events", "/"),
            ("http://console.kiln.invalid/console/events", "/console/events"),
            ("http://user@console.kiln.invalid/console/events", "/"),
            ("https:evil.example", "/"),
            ("http:/evil.example", "/"),
            ("javascript:alert(1)", "/"),
            ("JaVaScRiPt:alert(1)", "/"),
            (" javascript:alert(1)", "/"),
            ("java\tscript:alert(1)", "/"),
            ("data:text/html,<script>alert(1)</script>", "/"),
            ("%2F%2Fevil.example", "/"),
            ("/%2F%2Fevil.example", "/"),
            ("/%5Cevil.example", "/"),
            // Paths of this server that are not console pages, and the login itself.
            ("/builds/web:1/logs", "/"),
            ("/events", "/"),
            ("/console", "/"),
            ("/consolex/events", "/"),
            ("/console/login", "/"),
            ("/console/login?next=//evil.example", "/"),
            ("/console/logout", "/"),
            // Odd bytes: percent-encoded, never raw in the header.
            ("/console/projects/caf\u{e9}", "/console/projects/caf%C3%A9"),
            ("/console/projects/\u{202e}x", "/console/projects/%E2%80%AEx"),
            ("/console/projects/a b", "/console/projects/a%20b"),
            ("/console/projects/\u{0}x", "/console/projects/%00x"),
            ("/console/projects/\u{7f}", "/console/projects/%7F"),
            ("/console/projects/\u{fffd}", "/console/projects/%EF%BF%BD"),
            ("/console/projects/%ff%fe", "/console/projects/%ff%fe"),
            (
                "/console/projects/x\"><script>",
                "/console/projects/x%22%3E%3Cscript%3E",
            ),
            // Nothing, or nonsense.
            ("", "/"),
            ("evil.example", "/"),
            ("console/events", "/console/events"),
            ("?next=/", "/?next=/"),
            ("#/console/events", "/"),
            ("http://[::1", "/"),
        ];
        for (next, expected) in cases {
            let path = ReturnPath::parse(next);
            assert_eq!(path.as_str(), *expected, "next = {next:?}");
            assert!(
                axum::http::HeaderValue::from_str(path.as_str()).is_ok(),
                "{next:?} gives a valid Location"
            );
        }
    }

    #[test]
    fn the_next_member_is_read_from_a_raw_query() {
        let cases: &[(Option<&str>, &str)] = &[
            (None, "/"),
            (Some(""), "/"),
            (Some("next=%2Fconsole%2Fevents"), "/console/events"),
            (Some("failed=true&next=%2Fconsole%2Fevents"), "/console/events"),
            (Some("failed=maybe&next=%2F%2Fevil.example"), "/"),
            (Some("next=%FF%FE&next=%2Fconsole%2Fevents"), "/console/events"),
            (Some("next=%2Fconsole%2F%FF"), "/console/%EF%BF%BD"),
            (Some("next=%0d%0aSet-Cookie:%20x"), "/"),
            (Some("%%%&&&==="), "/"),
        ];
        for (query, expected) in cases {
            assert_eq!(ReturnPath::from_query(*query).as_str(), *expected, "{query:?}");
        }
    }
}
