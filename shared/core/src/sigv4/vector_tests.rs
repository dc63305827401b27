//! Checks the signer, the verifier and the CodeCommit password against vectors botocore generated
//! (`tests/vectors/sigv4.json`, from `tests/vectors/sigv4_vectors.py`) and AWS's published examples.

use serde::Deserialize;

use super::canonical::is_unsigned_header;
use super::codecommit::{codecommit_credentials, codecommit_git_password, parse_git_credential_input};
use super::*;

const VECTORS: &str = include_str!("../../../../tests/vectors/sigv4.json");

#[derive(Deserialize)]
struct Vectors {
    signing: Vec<SigningCase>,
    codecommit: Vec<CodeCommitCase>,
}

#[derive(Deserialize, Clone)]
struct SigningCase {
    name: String,
    service: String,
    region: String,
    access_key_id: String,
    secret_access_key: String,
    session_token: Option<String>,
    amz_date: String,
    method: String,
    path: String,
    query: String,
    headers: Vec<(String, String)>,
    body: String,
    expected: SigningExpected,
}

#[derive(Deserialize, Clone)]
struct SigningExpected {
    canonical_request: String,
    string_to_sign: String,
    signed_headers: String,
    authorization: String,
}

#[derive(Deserialize)]
struct CodeCommitCase {
    name: String,
    host: String,
    repo_path: String,
    region: String,
    access_key_id: String,
    secret_access_key: String,
    session_token: Option<String>,
    amz_date: String,
    expected: CodeCommitExpected,
}

#[derive(Deserialize)]
struct CodeCommitExpected {
    username: String,
    password: String,
}

fn vectors() -> Vectors {
    serde_json::from_str(VECTORS).expect("tests/vectors/sigv4.json parses")
}

fn credentials(akid: &str, secret: &str, token: Option<&String>) -> Credentials {
    let creds = Credentials::new(akid, secret);
    match token {
        Some(token) => creds.with_session_token(token.as_str()),
        None => creds,
    }
}

impl SigningCase {
    fn credentials(&self) -> Credentials {
        credentials(
            &self.access_key_id,
            &self.secret_access_key,
            self.session_token.as_ref(),
        )
    }

    fn time(&self) -> AmzDate {
        AmzDate::parse(&self.amz_date).expect("vector date")
    }

    fn header_refs(&self) -> Vec<(&str, &str)> {
        self.headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect()
    }

    fn request<'a>(&'a self, headers: &'a [(&'a str, &'a str)]) -> HttpRequest<'a> {
        HttpRequest {
            method: &self.method,
            path: &self.path,
            query: &self.query,
            headers,
            body: self.body.as_bytes(),
        }
    }

    fn verify_with(
        &self,
        store: &Credentials,
        policy: &VerifyPolicy,
        now: AmzDate,
    ) -> Result<VerifiedRequest, VerifyError> {
        let headers = self.header_refs();
        verify(&self.request(&headers), store, policy, now)
    }

    fn policy(&self) -> VerifyPolicy {
        VerifyPolicy {
            service: self.service.clone(),
            region: None,
            max_skew_seconds: MAX_CLOCK_SKEW_SECONDS,
        }
    }

    fn set_header(&mut self, name: &str, value: &str) {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self.headers.push((name.to_owned(), value.to_owned()));
    }
}

fn at(case: &SigningCase, offset_seconds: i64) -> AmzDate {
    let secs = case
        .time()
        .unix_seconds()
        .checked_add_signed(offset_seconds)
        .expect("in range");
    AmzDate::from_unix_seconds(secs).expect("in range")
}

#[test]
fn the_signer_reproduces_botocores_authorization_header_for_every_vector() {
    for case in vectors().signing {
        let signed: Vec<&str> = case.expected.signed_headers.split(';').collect();
        // Give the signer what botocore saw before signing: the headers it signed and the ones it skips.
        let headers: Vec<(&str, &str)> = case
            .header_refs()
            .into_iter()
            .filter(|(n, _)| {
                let lower = n.to_ascii_lowercase();
                (signed.contains(&lower.as_str()) || is_unsigned_header(&lower)) && lower != "authorization"
            })
            .collect();
        let creds = case.credentials();
        let params = SigningParams {
            credentials: &creds,
            region: &case.region,
            service: &case.service,
            time: case.time(),
        };
        let out = sign(&case.request(&headers), &params).expect("host is present");
        assert_eq!(
            out.canonical_request, case.expected.canonical_request,
            "{}",
            case.name
        );
        assert_eq!(out.string_to_sign, case.expected.string_to_sign, "{}", case.name);
        assert_eq!(out.authorization, case.expected.authorization, "{}", case.name);
        assert_eq!(out.x_amz_date, case.amz_date, "{}", case.name);
        assert_eq!(out.x_amz_security_token, case.session_token, "{}", case.name);
    }
}

#[test]
fn the_verifier_accepts_every_botocore_request_as_sent() {
    for case in vectors().signing {
        let store = case.credentials();
        for skew in [
            -(MAX_CLOCK_SKEW_SECONDS as i64),
            0,
            300,
            MAX_CLOCK_SKEW_SECONDS as i64,
        ] {
            let verified = case.verify_with(&store, &case.policy(), at(&case, skew));
            let verified = verified.unwrap_or_else(|e| panic!("{} (skew {skew}s): {e}", case.name));
            assert_eq!(verified.access_key_id, case.access_key_id);
            assert_eq!(verified.region, case.region);
            assert_eq!(verified.signed_at, case.time());
        }
    }
}

fn start_build() -> SigningCase {
    vectors()
        .signing
        .into_iter()
        .find(|c| c.name.starts_with("boto3 StartBuild ("))
        .expect("StartBuild vector")
}

fn with_token() -> SigningCase {
    vectors()
        .signing
        .into_iter()
        .find(|c| c.name == "boto3 StartBuild with a session token")
        .expect("token vector")
}

type Tamper = fn(&mut SigningCase);

#[test]
fn the_verifier_rejects_tampered_requests() {
    let cases: [(&str, Tamper, &str); 14] = [
        (
            "a changed body",
            |c| c.body.push(' '),
            "InvalidSignatureException",
        ),
        (
            "a changed signed header",
            |c| c.set_header("X-Amz-Target", "CodeBuild_20161006.DeleteProject"),
            "InvalidSignatureException",
        ),
        (
            "a changed x-amz-date",
            |c| c.set_header("X-Amz-Date", "20261124T123457Z"),
            "InvalidSignatureException",
        ),
        (
            "a changed method",
            |c| c.method = "PUT".into(),
            "InvalidSignatureException",
        ),
        (
            "a changed path",
            |c| c.path = "/other".into(),
            "InvalidSignatureException",
        ),
        (
            "an added query",
            |c| c.query = "a=1".into(),
            "InvalidSignatureException",
        ),
        (
            "a changed host",
            |c| c.set_header("Host", "evil.example.com"),
            "InvalidSignatureException",
        ),
        (
            "no authorization header",
            |c| c.headers.retain(|(n, _)| n != "Authorization"),
            "MissingAuthenticationTokenException",
        ),
        (
            "a removed signed header",
            |c| c.headers.retain(|(n, _)| n != "X-Amz-Target"),
            "InvalidSignatureException",
        ),
        (
            "host not signed",
            |c| replace_in_authorization(c, "host;", ""),
            "IncompleteSignatureException",
        ),
        (
            "x-amz-date not signed",
            |c| replace_in_authorization(c, "x-amz-date;", ""),
            "IncompleteSignatureException",
        ),
        (
            "one signature digit flipped",
            |c| flip_last_signature_digit(c),
            "InvalidSignatureException",
        ),
        (
            "an unsigned payload",
            |c| c.set_header("X-Amz-Content-SHA256", "UNSIGNED-PAYLOAD"),
            "InvalidSignatureException",
        ),
        (
            "a wrong payload hash",
            |c| c.set_header("X-Amz-Content-SHA256", EMPTY_PAYLOAD_SHA256),
            "InvalidSignatureException",
        ),
    ];
    for (what, tamper, error_type) in cases {
        let mut case = start_build();
        tamper(&mut case);
        let err = case
            .verify_with(&case.credentials(), &case.policy(), case.time())
            .expect_err(what);
        assert_eq!(err.aws_error_type(), error_type, "{what}: {err}");
        assert_eq!(err.http_status(), 403);
    }
}

fn replace_in_authorization(case: &mut SigningCase, from: &str, to: &str) {
    for (name, value) in &mut case.headers {
        if name == "Authorization" {
            *value = value.replacen(from, to, 1);
        }
    }
}

fn flip_last_signature_digit(case: &mut SigningCase) {
    for (name, value) in &mut case.headers {
        if name == "Authorization" {
            let last = if value.ends_with('0') { '1' } else { '0' };
            value.pop();
            value.push(last);
        }
    }
}

#[test]
fn the_verifier_allows_what_the_signature_does_not_cover() {
    let mut case = start_build();
    case.set_header("User-Agent", "something else");
    case.set_header("Content-Length", "9999");
    let body_hash = super::canonical::sha256_hex(case.body.as_bytes());
    case.set_header("X-Amz-Content-SHA256", &body_hash);
    assert!(
        case.verify_with(&case.credentials(), &case.policy(), case.time())
            .is_ok()
    );
}

#[test]
fn the_verifier_enforces_time_scope_service_region_and_key() {
    let case = start_build();
    let store = case.credentials();
    let policy = case.policy();
    let expired = case
        .verify_with(&store, &policy, at(&case, 15 * 60 + 1))
        .expect_err("expired");
    assert_eq!(
        expired.to_string(),
        "signature expired: 20261124T123456Z is now earlier than 20261124T123457Z (20261124T124957Z - 15 min.)"
    );
    let early = case
        .verify_with(&store, &policy, at(&case, -(15 * 60 + 1)))
        .expect_err("not yet current");
    assert!(matches!(early, VerifyError::NotYetCurrent { .. }), "{early}");

    let wrong_secret = Credentials::new(&case.access_key_id, "not-the-secret");
    let err = case
        .verify_with(&wrong_secret, &policy, case.time())
        .expect_err("wrong secret");
    assert_eq!(err, VerifyError::SignatureMismatch);

    let other_key = Credentials::new("AKIDOTHER", &case.secret_access_key);
    let err = case
        .verify_with(&other_key, &policy, case.time())
        .expect_err("unknown key");
    assert_eq!(err.aws_error_type(), "UnrecognizedClientException");

    let codecommit = VerifyPolicy {
        service: "codecommit".into(),
        ..policy.clone()
    };
    let err = case
        .verify_with(&store, &codecommit, case.time())
        .expect_err("wrong service");
    assert_eq!(
        err.to_string(),
        "credential should be scoped to correct service: 'codecommit', not 'codebuild'"
    );

    let us_east_1 = VerifyPolicy {
        region: Some("us-east-1".into()),
        ..policy.clone()
    };
    let err = case
        .verify_with(&store, &us_east_1, case.time())
        .expect_err("wrong region");
    assert!(matches!(err, VerifyError::WrongRegion { .. }), "{err}");
    let eu_west_1 = VerifyPolicy {
        region: Some("eu-west-1".into()),
        ..policy
    };
    assert!(case.verify_with(&store, &eu_west_1, case.time()).is_ok());
}

#[test]
fn a_credential_scope_from_another_day_is_refused() {
    let mut case = start_build();
    let creds = case.credentials();
    case.set_header("X-Amz-Date", "20261125T000001Z");
    let err = case
        .verify_with(&creds, &case.policy(), at(&case, 41_465))
        .expect_err("scope date");
    assert_eq!(
        err,
        VerifyError::ScopeDateMismatch {
            scope_date: "20261124".into(),
            header_date: "20261125".into()
        }
    );
    case.set_header("X-Amz-Date", "yesterday");
    let err = case
        .verify_with(&creds, &case.policy(), case.time())
        .expect_err("bad date");
    assert_eq!(err.aws_error_type(), "IncompleteSignatureException");
}

#[test]
fn session_tokens_must_be_present_and_equal() {
    let case = with_token();
    let policy = case.policy();
    assert!(
        case.verify_with(&case.credentials(), &policy, case.time())
            .is_ok()
    );

    let long_term = Credentials::new(&case.access_key_id, &case.secret_access_key);
    let err = case
        .verify_with(&long_term, &policy, case.time())
        .expect_err("token not expected");
    assert_eq!(err, VerifyError::InvalidSecurityToken);

    let other_token = long_term.clone().with_session_token("other");
    let err = case
        .verify_with(&other_token, &policy, case.time())
        .expect_err("wrong token");
    assert_eq!(err, VerifyError::InvalidSecurityToken);

    let mut stripped = case.clone();
    stripped.headers.retain(|(n, _)| n != "X-Amz-Security-Token");
    let err = stripped
        .verify_with(&case.credentials(), &policy, case.time())
        .expect_err("token missing");
    assert_eq!(err, VerifyError::InvalidSecurityToken);
}

#[test]
fn a_closure_can_serve_as_the_credential_store() {
    let case = start_build();
    let known = case.credentials();
    let store = move |akid: &str| (akid == known.access_key_id()).then(|| known.clone());
    let headers = case.header_refs();
    let verified = verify(&case.request(&headers), &store, &case.policy(), case.time()).expect("accepted");
    assert_eq!(verified.access_key_id, "AKIDEXAMPLE");
}

#[test]
fn error_messages_never_contain_the_secret_or_token() {
    let case = with_token();
    let secret = case.secret_access_key.clone();
    let token = case.session_token.clone().expect("token vector");
    let wrong = Credentials::new(&case.access_key_id, &secret).with_session_token("x");
    let err = case
        .verify_with(&wrong, &case.policy(), case.time())
        .expect_err("wrong token");
    let creds = case.credentials();
    let params = SigningParams {
        credentials: &creds,
        region: "eu-west-1",
        service: "codebuild",
        time: case.time(),
    };
    let headers = case.header_refs();
    let signed = sign(&case.request(&headers), &params).expect("host is present");
    let text = format!("{err} {err:?} {creds:?} {signed:?}");
    assert!(!text.contains(&secret) && !text.contains(&token), "{text}");
}

#[test]
fn codecommit_passwords_match_the_aws_cli_helper() {
    for case in vectors().codecommit {
        let creds = credentials(
            &case.access_key_id,
            &case.secret_access_key,
            case.session_token.as_ref(),
        );
        let time = AmzDate::parse(&case.amz_date).expect("vector date");
        let direct = codecommit_git_password(&case.host, &case.repo_path, &case.region, &creds, time);
        assert_eq!(direct.username, case.expected.username, "{}", case.name);
        assert_eq!(direct.password, case.expected.password, "{}", case.name);

        // The same through git's credential-helper protocol (git sends the path without its leading slash).
        let input = format!(
            "protocol=https\nhost={}:443\npath={}\n\n",
            case.host,
            &case.repo_path[1..]
        );
        let query = parse_git_credential_input(&input).expect("git input");
        let answer = codecommit_credentials(&query, None, &creds, time, false)
            .expect("signed")
            .expect("aws host");
        assert_eq!(answer, direct, "{}", case.name);
    }
}

/// AWS's published examples: the SigV4 test suite's `get-vanilla` and the IAM `ListUsers` walkthrough.
#[test]
fn the_signer_reproduces_aws_published_examples() {
    let creds = Credentials::new("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY");
    let time = AmzDate::parse("20150830T123600Z").expect("valid date");
    type Example<'a> = (&'a str, &'a str, &'a [(&'a str, &'a str)], &'a str);
    let examples: [Example<'_>; 2] = [
        (
            "service",
            "",
            &[("Host", "example.amazonaws.com")],
            "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
        ),
        (
            "iam",
            "Action=ListUsers&Version=2010-05-08",
            &[
                ("Host", "iam.amazonaws.com"),
                ("Content-Type", "application/x-www-form-urlencoded; charset=utf-8"),
            ],
            "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7",
        ),
    ];
    for (service, query, headers, signature) in examples {
        let request = HttpRequest {
            method: "GET",
            path: "/",
            query,
            headers,
            body: b"",
        };
        let params = SigningParams {
            credentials: &creds,
            region: "us-east-1",
            service,
            time,
        };
        let out = sign(&request, &params).expect("host is present");
        assert!(
            out.authorization.ends_with(&format!("Signature={signature}")),
            "{service}: {}",
            out.authorization
        );
    }
}

#[test]
fn signing_without_a_host_header_is_refused() {
    let creds = Credentials::new("AKID", "secret");
    let time = AmzDate::from_unix_seconds(0).expect("in range");
    let request = HttpRequest {
        method: "GET",
        path: "/",
        query: "",
        headers: &[],
        body: b"",
    };
    let params = SigningParams {
        credentials: &creds,
        region: "eu-west-1",
        service: "codebuild",
        time,
    };
    assert_eq!(sign(&request, &params), Err(SignError::MissingHost));
}

#[test]
fn a_request_signed_here_verifies_here_once_its_headers_are_added() {
    let creds = Credentials::new("AKIDLOCAL", "local-secret").with_session_token("tok");
    let time = AmzDate::parse("20261124T120000Z").expect("valid date");
    let mut headers = vec![
        ("Host", "localhost:8080"),
        ("Content-Type", "application/x-amz-json-1.1"),
        ("X-Amz-Target", "CodeBuild_20161006.ListProjects"),
    ];
    let body = br#"{"sortBy":"NAME"}"#;
    let request = HttpRequest {
        method: "POST",
        path: "/",
        query: "",
        headers: &headers,
        body,
    };
    let params = SigningParams {
        credentials: &creds,
        region: "local",
        service: "codebuild",
        time,
    };
    let signed = sign(&request, &params).expect("host is present");
    headers.extend(signed.pairs());
    let request = HttpRequest {
        method: "POST",
        path: "/",
        query: "",
        headers: &headers,
        body,
    };
    let verified = verify(&request, &creds, &VerifyPolicy::codebuild(), time).expect("accepted");
    assert_eq!(verified.region, "local");
    assert!(
        signed
            .authorization
            .contains("SignedHeaders=content-type;host;x-amz-date;x-amz-security-token;x-amz-target,")
    );
}
