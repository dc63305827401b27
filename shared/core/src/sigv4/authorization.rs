//! Parsing the `Authorization: AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…` header of an
//! incoming request into its parts.

use super::canonical::ALGORITHM;
use super::error::VerifyError;

/// The parts of a SigV4 `Authorization` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ParsedAuthorization {
    pub access_key_id: String,
    pub date_stamp: String,
    pub region: String,
    pub service: String,
    /// Lower-case names as listed (botocore lists them sorted).
    pub signed_headers: Vec<String>,
    /// The claimed signature; `None` when it is not 64 hex digits (it then cannot match).
    pub signature: Option<[u8; 32]>,
}

fn malformed(reason: impl Into<String>) -> VerifyError {
    VerifyError::MalformedAuthorization {
        reason: reason.into(),
    }
}

/// Parses an `Authorization` header value.
pub(crate) fn parse(value: &str) -> Result<ParsedAuthorization, VerifyError> {
    let value = value.trim();
    let (algorithm, rest) = value.split_once(char::is_whitespace).unwrap_or((value, ""));
    if algorithm != ALGORITHM {
        return Err(VerifyError::UnsupportedAlgorithm {
            algorithm: truncate(algorithm),
        });
    }
    let (mut credential, mut signed_headers, mut signature) = (None, None, None);
    for component in rest.split(',').map(str::trim).filter(|c| !c.is_empty()) {
        let Some((key, val)) = component.split_once('=') else {
            return Err(malformed(format!(
                "'{}' is not a key=value pair",
                truncate(component)
            )));
        };
        let slot = match key.trim() {
            "Credential" => &mut credential,
            "SignedHeaders" => &mut signed_headers,
            "Signature" => &mut signature,
            other => return Err(malformed(format!("unknown parameter '{}'", truncate(other)))),
        };
        if slot.replace(val.trim()).is_some() {
            return Err(malformed(format!("parameter '{key}' appears twice")));
        }
    }
    let credential = credential.ok_or_else(|| malformed("the 'Credential' parameter is missing"))?;
    let signed_headers =
        signed_headers.ok_or_else(|| malformed("the 'SignedHeaders' parameter is missing"))?;
    let signature = signature.ok_or_else(|| malformed("the 'Signature' parameter is missing"))?;

    let scope: Vec<&str> = credential.split('/').collect();
    let [access_key_id, date_stamp, region, service, terminator] = scope.as_slice() else {
        return Err(malformed(
            "'Credential' must be ACCESS_KEY_ID/YYYYMMDD/REGION/SERVICE/aws4_request",
        ));
    };
    if *terminator != "aws4_request"
        || [access_key_id, date_stamp, region, service]
            .iter()
            .any(|p| p.is_empty())
    {
        return Err(malformed(
            "'Credential' must be ACCESS_KEY_ID/YYYYMMDD/REGION/SERVICE/aws4_request",
        ));
    }
    let names: Vec<String> = signed_headers.split(';').map(str::to_owned).collect();
    if names.iter().any(|n| {
        n.is_empty()
            || n.bytes()
                .any(|b| b.is_ascii_uppercase() || b.is_ascii_whitespace())
    }) {
        return Err(malformed(
            "'SignedHeaders' must be lower-case header names separated by ';'",
        ));
    }
    Ok(ParsedAuthorization {
        access_key_id: (*access_key_id).to_owned(),
        date_stamp: (*date_stamp).to_owned(),
        region: (*region).to_owned(),
        service: (*service).to_owned(),
        signed_headers: names,
        signature: decode_signature(signature),
    })
}

fn decode_signature(hex_text: &str) -> Option<[u8; 32]> {
    let mut bytes = [0u8; 32];
    hex::decode_to_slice(hex_text, &mut bytes).ok()?;
    Some(bytes)
}

/// Quotes client input in messages without letting an oversized value through.
pub(crate) fn truncate(text: &str) -> String {
    const MAX: usize = 64;
    match text.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, \
        SignedHeaders=content-type;host;x-amz-date, \
        Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7";

    #[test]
    fn parses_a_botocore_style_header() {
        let parsed = parse(GOOD).expect("valid header");
        assert_eq!(parsed.access_key_id, "AKIDEXAMPLE");
        assert_eq!(parsed.date_stamp, "20150830");
        assert_eq!(parsed.region, "us-east-1");
        assert_eq!(parsed.service, "iam");
        assert_eq!(parsed.signed_headers, ["content-type", "host", "x-amz-date"]);
        assert!(parsed.signature.is_some());
    }

    #[test]
    fn accepts_components_in_any_order_without_spaces() {
        let header = "AWS4-HMAC-SHA256 Signature=00,SignedHeaders=host;x-amz-date,Credential=K/20150830/r/s/aws4_request";
        let parsed = parse(header).expect("valid header");
        assert_eq!(
            parsed.signature, None,
            "a short signature parses but can never match"
        );
        assert_eq!(parsed.signed_headers, ["host", "x-amz-date"]);
    }

    #[test]
    fn rejects_malformed_headers_with_the_reason() {
        let cases = [
            ("AWS4-HMAC-SHA256", "the 'Credential' parameter is missing"),
            (
                "AWS4-HMAC-SHA256 Credential=K/20150830/r/s/aws4_request, Signature=00",
                "'SignedHeaders'",
            ),
            (
                "AWS4-HMAC-SHA256 Credential=K/20150830/r/s/aws4, SignedHeaders=host, Signature=00",
                "ACCESS_KEY_ID",
            ),
            (
                "AWS4-HMAC-SHA256 Credential=K/20150830/r/aws4_request, SignedHeaders=host, Signature=00",
                "ACCESS_KEY_ID",
            ),
            (
                "AWS4-HMAC-SHA256 Credential=K/20150830/r/s/aws4_request, SignedHeaders=Host, Signature=00",
                "lower-case",
            ),
            (
                "AWS4-HMAC-SHA256 Credential=K/d/r/s/aws4_request, Credential=K/d/r/s/aws4_request",
                "twice",
            ),
            ("AWS4-HMAC-SHA256 Credential", "key=value"),
            ("AWS4-HMAC-SHA256 Foo=bar", "unknown parameter 'Foo'"),
        ];
        for (header, needle) in cases {
            let err = parse(header).expect_err(header).to_string();
            assert!(err.contains(needle), "{header:?}: {err}");
        }
    }

    #[test]
    fn rejects_other_algorithms() {
        for header in [
            "AWS4-ECDSA-P256-SHA256 Credential=x",
            "Bearer abc",
            "AWS AKID:sig",
            "",
        ] {
            assert!(
                matches!(parse(header), Err(VerifyError::UnsupportedAlgorithm { .. })),
                "{header:?}"
            );
        }
    }
}
