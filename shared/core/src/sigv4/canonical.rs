//! SigV4's building blocks, shared by the signer and the verifier: URI encoding, the canonical request, the
//! string to sign and the HMAC-SHA256 signing-key chain.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use super::AmzDate;

pub(crate) type HmacSha256 = Hmac<Sha256>;

/// The only algorithm Kiln signs with or accepts.
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";
/// Hex SHA-256 of the empty string: the payload hash of a request without a body.
pub const EMPTY_PAYLOAD_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
/// Headers botocore never signs (hop-by-hop, tracing, `user-agent`), so neither do we.
const UNSIGNED_HEADERS: [&str; 14] = [
    "baggage",
    "connection",
    "expect",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "traceparent",
    "tracestate",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "user-agent",
    "x-amzn-trace-id",
];

/// An HTTP request as it appears on the wire: what is signed and what is verified.
#[derive(Debug, Clone, Copy)]
pub struct HttpRequest<'a> {
    /// The method, e.g. `POST`.
    pub method: &'a str,
    /// The path as sent, percent-encoded once, without the query (`/` for the CodeBuild API).
    pub path: &'a str,
    /// The raw query string as sent, without the `?` (empty for none).
    pub query: &'a str,
    /// Header names (any case) and values; repeated names are allowed and keep their order.
    pub headers: &'a [(&'a str, &'a str)],
    /// The body bytes exactly as sent.
    pub body: &'a [u8],
}

impl<'a> HttpRequest<'a> {
    /// The values of every header called `name` (case-insensitive), in order.
    pub(crate) fn header_values(&self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| *v)
    }

    /// The single value of header `name`, if present exactly once.
    pub(crate) fn single_header(&self, name: &'a str) -> Option<&'a str> {
        let mut values = self.header_values(name);
        let first = values.next()?;
        values.next().is_none().then_some(first)
    }
}

/// Whether a lower-case header name is one botocore leaves out of the signature.
pub(crate) fn is_unsigned_header(lower_name: &str) -> bool {
    UNSIGNED_HEADERS.contains(&lower_name)
}

/// Percent-encodes every byte except the unreserved set `A-Za-z0-9-_.~` (and `/` when `keep_slash`).
pub(crate) fn uri_encode(input: &[u8], keep_slash: bool) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(input.len());
    for &byte in input {
        if byte.is_ascii_alphanumeric()
            || matches!(byte, b'-' | b'_' | b'.' | b'~')
            || (keep_slash && byte == b'/')
        {
            out.push(char::from(byte));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(byte >> 4)]));
            out.push(char::from(HEX[usize::from(byte & 0xF)]));
        }
    }
    out
}

/// Decodes `%XX` escapes; a `%` not followed by two hex digits stays literal (as `+` does).
fn percent_decode(input: &str) -> Vec<u8> {
    let bytes = input.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%')
            .then(|| bytes.get(i + 1..i + 3))
            .flatten()
            .and_then(|hex| u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok());
        match escaped {
            Some(byte) => {
                out.push(byte);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    out
}

/// RFC 3986 dot-segment removal, also dropping empty segments (`//`), as AWS services expect.
fn remove_dot_segments(path: &str) -> String {
    let mut segments: Vec<&str> = Vec::new();
    for segment in path.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            other => segments.push(other),
        }
    }
    let lead = if path.starts_with('/') { "/" } else { "" };
    let trail = if path.ends_with('/') && !segments.is_empty() {
        "/"
    } else {
        ""
    };
    format!("{lead}{}{trail}", segments.join("/"))
}

/// The canonical URI: for S3 the wire path unchanged; for every other service the normalised wire path
/// encoded once more (so a space, `%20` on the wire, signs as `%2520`).
pub(crate) fn canonical_uri(wire_path: &str, service: &str) -> String {
    if wire_path.is_empty() {
        return "/".to_owned();
    }
    if service == "s3" {
        return wire_path.to_owned();
    }
    let normalised = remove_dot_segments(wire_path);
    if normalised.is_empty() {
        "/".to_owned()
    } else {
        uri_encode(normalised.as_bytes(), true)
    }
}

/// The canonical query string: each name and value decoded then strictly re-encoded, sorted by name then value.
pub(crate) fn canonical_query(raw_query: &str) -> String {
    let mut pairs: Vec<(String, String)> = raw_query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (
                uri_encode(&percent_decode(name), false),
                uri_encode(&percent_decode(value), false),
            )
        })
        .collect();
    pairs.sort();
    let encoded: Vec<String> = pairs
        .into_iter()
        .map(|(name, value)| format!("{name}={value}"))
        .collect();
    encoded.join("&")
}

/// SigV4's `Trimall`: leading and trailing whitespace removed, inner runs collapsed to one space.
fn trim_all(value: &str) -> String {
    value.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The canonical headers block (each `name:value\n`) for the given lower-case names, or the first name that
/// the request does not carry.
pub(crate) fn canonical_headers<'n>(request: &HttpRequest<'_>, names: &[&'n str]) -> Result<String, &'n str> {
    let mut block = String::new();
    for &name in names {
        let values: Vec<String> = request.header_values(name).map(trim_all).collect();
        if values.is_empty() {
            return Err(name);
        }
        block.push_str(name);
        block.push(':');
        block.push_str(&values.join(","));
        block.push('\n');
    }
    Ok(block)
}

/// The pieces that make up a canonical request.
pub(crate) struct CanonicalParts<'a> {
    pub method: &'a str,
    pub uri: &'a str,
    pub query: &'a str,
    pub headers: &'a str,
    pub signed_headers: &'a str,
    pub payload_hash: &'a str,
}

/// Joins the parts into the canonical request text.
pub(crate) fn canonical_request(parts: &CanonicalParts<'_>) -> String {
    format!(
        "{}\n{}\n{}\n{}\n{}\n{}",
        parts.method.to_ascii_uppercase(),
        parts.uri,
        parts.query,
        parts.headers,
        parts.signed_headers,
        parts.payload_hash
    )
}

/// Lower-case hex SHA-256.
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// `date/region/service/aws4_request`.
pub(crate) fn credential_scope(date_stamp: &str, region: &str, service: &str) -> String {
    format!("{date_stamp}/{region}/{service}/aws4_request")
}

/// The string to sign; `timestamp` is normally `x-amz-date` (CodeCommit's git password omits the `Z`).
pub(crate) fn string_to_sign(timestamp: &str, scope: &str, canonical_request: &str) -> String {
    format!(
        "{ALGORITHM}\n{timestamp}\n{scope}\n{}",
        sha256_hex(canonical_request.as_bytes())
    )
}

fn hmac(key: &[u8], message: &[u8]) -> [u8; 32] {
    keyed(key, message).finalize().into_bytes().into()
}

/// An HMAC-SHA256 instance keyed with `key` that has absorbed `message`.
pub(crate) fn keyed(key: &[u8], message: &[u8]) -> HmacSha256 {
    // HMAC accepts keys of any length, so this constructor cannot fail; the fallback keeps clippy's
    // no-unwrap rule without a panic path.
    let mut mac = HmacSha256::new_from_slice(key).unwrap_or_else(|_| HmacSha256::new(&Default::default()));
    mac.update(message);
    mac
}

/// The signing key: HMAC chain over date, region, service and `aws4_request`, seeded with `AWS4<secret>`.
pub(crate) fn signing_key(secret: &str, date: AmzDate, region: &str, service: &str) -> [u8; 32] {
    let k_date = hmac(format!("AWS4{secret}").as_bytes(), date.date_stamp().as_bytes());
    let k_region = hmac(&k_date, region.as_bytes());
    let k_service = hmac(&k_region, service.as_bytes());
    hmac(&k_service, b"aws4_request")
}

/// Hex signature of a string to sign.
pub(crate) fn signature_hex(signing_key: &[u8; 32], string_to_sign: &str) -> String {
    hex::encode(hmac(signing_key, string_to_sign.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_s3_paths_are_normalised_and_encoded_twice() {
        let cases = [
            ("", "/"),
            ("/", "/"),
            ("/a%20b/", "/a%2520b/"),
            ("/a/./b/../c", "/a/c"),
            ("//a//b", "/a/b"),
            ("/../..", "/"),
            ("/~user/x:y@z", "/~user/x%3Ay%40z"),
            ("/%E2%82%AC", "/%25E2%2582%25AC"),
        ];
        for (wire, canonical) in cases {
            assert_eq!(canonical_uri(wire, "codebuild"), canonical, "{wire:?}");
        }
    }

    #[test]
    fn s3_paths_are_kept_as_sent() {
        assert_eq!(canonical_uri("/a%20b/./c//d", "s3"), "/a%20b/./c//d");
    }

    #[test]
    fn query_strings_are_decoded_re_encoded_and_sorted() {
        let cases = [
            ("", ""),
            ("b=2&a=1", "a=1&b=2"),
            ("a=z&a=b", "a=b&a=z"),
            ("flag", "flag="),
            ("x=a+b&y=%7e%2f", "x=a%2Bb&y=~%2F"),
            ("k=%zz&&", "k=%25zz"),
            ("sp%20ace=v%C3%A4", "sp%20ace=v%C3%A4"),
        ];
        for (raw, canonical) in cases {
            assert_eq!(canonical_query(raw), canonical, "{raw:?}");
        }
    }

    #[test]
    fn header_values_are_trimmed_collapsed_and_joined() {
        let headers = [("X-A", "  one   two\t three "), ("x-a", "four"), ("Host", "h")];
        let request = HttpRequest {
            method: "GET",
            path: "/",
            query: "",
            headers: &headers,
            body: b"",
        };
        assert_eq!(
            canonical_headers(&request, &["host", "x-a"]),
            Ok("host:h\nx-a:one two three,four\n".into())
        );
        assert_eq!(canonical_headers(&request, &["host", "x-b"]), Err("x-b"));
    }

    /// The signing-key example from AWS's SigV4 documentation ("Examples of how to derive a signing key").
    #[test]
    fn signing_key_matches_the_aws_documentation_example() {
        let date = AmzDate::parse("20120215T000000Z").expect("valid date");
        let key = signing_key(
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            date,
            "us-east-1",
            "iam",
        );
        assert_eq!(
            hex::encode(key),
            "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d"
        );
    }
}
