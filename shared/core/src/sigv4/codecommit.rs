//! CodeCommit's git credentials, computed as `aws codecommit credential-helper` and git-remote-codecommit do,
//! and git's credential-helper protocol (`key=value` lines in, `username=`/`password=` lines out), so the CLI
//! can offer `kiln git-credential-codecommit get`.
//!
//! The password is `<YYYYMMDDTHHMMSS>Z<hex signature>`, signed for service `codecommit` over the canonical
//! request `GIT\n<path>\n\nhost:<host>\n\nhost\n` — no query, only `host`, and an *empty* payload hash — and
//! a string to sign whose timestamp line lacks the trailing `Z`. The username is the access key id, with
//! `%<session token>` appended for temporary credentials.

use std::fmt;

use super::canonical::{credential_scope, signature_hex, signing_key, string_to_sign};
use super::{AmzDate, Credentials};

/// The username and password git should send.
#[derive(Clone, PartialEq, Eq)]
pub struct GitCredentials {
    /// `AKID` or `AKID%SESSION_TOKEN`.
    pub username: String,
    /// `YYYYMMDDTHHMMSSZ<hex signature>`.
    pub password: String,
}

impl GitCredentials {
    /// The credential-helper answer git reads on the helper's stdout.
    pub fn to_helper_output(&self) -> String {
        format!("username={}\npassword={}\n", self.username, self.password)
    }
}

impl fmt::Debug for GitCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GitCredentials")
            .field("username", &"<redacted>")
            .field("password", &"<redacted>")
            .finish()
    }
}

/// The git credentials for repository path `repo_path` (`/v1/repos/NAME`) on `host`, at `time`.
pub fn codecommit_git_password(
    host: &str,
    repo_path: &str,
    region: &str,
    credentials: &Credentials,
    time: AmzDate,
) -> GitCredentials {
    // The AWS CLI signs the host without its port.
    let host = host.split(':').next().unwrap_or(host);
    let canonical_request = format!("GIT\n{repo_path}\n\nhost:{host}\n\nhost\n");
    let timestamp = time.basic_format();
    let scope = credential_scope(&time.date_stamp(), region, "codecommit");
    let to_sign = string_to_sign(&timestamp, &scope, &canonical_request);
    let key = signing_key(credentials.secret_access_key(), time, region, "codecommit");
    let username = match credentials.session_token() {
        Some(token) => format!("{}%{token}", credentials.access_key_id()),
        None => credentials.access_key_id().to_owned(),
    };
    GitCredentials {
        username,
        password: format!("{timestamp}Z{}", signature_hex(&key, &to_sign)),
    }
}

/// The action git asks a credential helper for (`git credential-<helper> <action>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GitCredentialAction {
    /// Produce credentials.
    Get,
    /// Remember credentials git used successfully (a no-op: ours are computed each time).
    Store,
    /// Forget credentials git was refused with (a no-op: nothing is stored).
    Erase,
}

impl GitCredentialAction {
    /// Parses `get`, `store` or `erase`.
    pub fn parse(action: &str) -> Result<Self, GitCredentialError> {
        match action {
            "get" => Ok(Self::Get),
            "store" => Ok(Self::Store),
            "erase" => Ok(Self::Erase),
            other => Err(GitCredentialError::UnknownAction {
                action: other.to_owned(),
            }),
        }
    }
}

/// The request git writes to a credential helper's stdin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitCredentialQuery {
    /// `https` for CodeCommit.
    pub protocol: String,
    /// The host, possibly with `:port`.
    pub host: String,
    /// The repository path without its leading slash (`v1/repos/NAME`); only sent with `credential.useHttpPath`.
    pub path: Option<String>,
}

/// Why a credential-helper request could not be answered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GitCredentialError {
    /// The helper was called with an action other than get/store/erase.
    #[error("unknown credential-helper action '{action}': expected get, store or erase")]
    UnknownAction { action: String },
    /// A line of git's input is not `key=value`.
    #[error("line {line}: '{text}' is not a key=value pair in git's credential-helper input")]
    MalformedLine { line: usize, text: String },
    /// git sent no `protocol=` or `host=` line.
    #[error("git's credential-helper input has no '{key}=' line")]
    MissingKey { key: &'static str },
    /// git sent no `path=`, so the repository (part of the signature) is unknown.
    #[error(
        "git did not send the repository path: run `git config --global credential.https://git-codecommit.*.amazonaws.com.useHttpPath true`"
    )]
    MissingPath,
    /// Neither the host nor the configuration names a region.
    #[error("cannot tell the aws region from host '{host}': configure a region (AWS_REGION) for this helper")]
    NoRegion { host: String },
}

/// Parses git's credential-helper input: `key=value` lines up to a blank line or the end.
pub fn parse_git_credential_input(input: &str) -> Result<GitCredentialQuery, GitCredentialError> {
    let (mut protocol, mut host, mut path) = (None, None, None);
    for (index, raw) in input.lines().enumerate() {
        let line = raw.trim_end_matches('\r');
        if line.is_empty() {
            break;
        }
        let Some((key, value)) = line.split_once('=') else {
            let text: String = line.chars().take(64).collect();
            return Err(GitCredentialError::MalformedLine {
                line: index + 1,
                text,
            });
        };
        match key {
            "protocol" => protocol = Some(value.to_owned()),
            "host" => host = Some(value.to_owned()),
            "path" => path = Some(value.to_owned()),
            _ => {} // username, capability[], wwwauth[] … are not needed to sign
        }
    }
    Ok(GitCredentialQuery {
        protocol: protocol.ok_or(GitCredentialError::MissingKey { key: "protocol" })?,
        host: host.ok_or(GitCredentialError::MissingKey { key: "host" })?,
        path,
    })
}

/// The region in a CodeCommit git host: `git-codecommit[-fips].REGION.amazonaws.com`, also behind a VPC
/// endpoint (`vpce-….git-codecommit.REGION.vpce.amazonaws.com`).
pub fn codecommit_region_from_host(host: &str) -> Option<&str> {
    const SERVICE: &str = "git-codecommit";
    let starts = host.match_indices(SERVICE).map(|(at, _)| at).filter(|&at| {
        // Either the whole host starts with the service, or a `vpce-<id>.` prefix precedes it.
        at == 0 || (host.starts_with("vpce-") && at > "vpce-".len() + 1 && host[..at].ends_with('.'))
    });
    let candidates: Vec<usize> = starts.collect();
    candidates.into_iter().rev().find_map(|at| {
        let rest = &host[at + SERVICE.len()..];
        let rest = rest.strip_prefix("-fips").unwrap_or(rest).strip_prefix('.')?;
        let (region, tail) = rest.split_once('.')?;
        let is_aws = tail.starts_with("amazonaws.com") || tail.starts_with("vpce.amazonaws.com");
        (!region.is_empty() && is_aws).then_some(region)
    })
}

/// Answers git's `get` like `aws codecommit credential-helper get`: `Ok(None)` (print nothing, so git tries
/// other helpers) for hosts outside amazon.com/amazonaws.com unless `any_host`; the region comes from the host,
/// else `fallback_region`.
pub fn codecommit_credentials(
    query: &GitCredentialQuery,
    fallback_region: Option<&str>,
    credentials: &Credentials,
    time: AmzDate,
    any_host: bool,
) -> Result<Option<GitCredentials>, GitCredentialError> {
    let is_aws_host = query.host.contains("amazon.com") || query.host.contains("amazonaws.com");
    if !is_aws_host && !any_host {
        return Ok(None);
    }
    let path = query.path.as_deref().ok_or(GitCredentialError::MissingPath)?;
    let region = codecommit_region_from_host(&query.host)
        .or(fallback_region)
        .ok_or_else(|| GitCredentialError::NoRegion {
            host: query.host.clone(),
        })?;
    Ok(Some(codecommit_git_password(
        &query.host,
        &format!("/{path}"),
        region,
        credentials,
        time,
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_are_read_from_every_codecommit_host_form() {
        let cases = [
            ("git-codecommit.eu-west-1.amazonaws.com", Some("eu-west-1")),
            (
                "git-codecommit-fips.us-gov-west-1.amazonaws.com",
                Some("us-gov-west-1"),
            ),
            (
                "vpce-0123-abcd.git-codecommit.us-east-2.vpce.amazonaws.com",
                Some("us-east-2"),
            ),
            ("git-codecommit.cn-north-1.amazonaws.com.cn", Some("cn-north-1")),
            ("git-codecommit.eu-west-1.example.com", None),
            ("github.com", None),
            ("x.git-codecommit.eu-west-1.amazonaws.com", None),
            ("git-codecommit..amazonaws.com", None),
        ];
        for (host, region) in cases {
            assert_eq!(codecommit_region_from_host(host), region, "{host}");
        }
    }

    #[test]
    fn git_input_is_parsed_up_to_the_blank_line() {
        let input = "protocol=https\nhost=git-codecommit.eu-west-1.amazonaws.com\npath=v1/repos/web\r\n\
                     capability[]=authtype\n\nhost=ignored\n";
        let query = parse_git_credential_input(input).expect("valid input");
        assert_eq!(query.protocol, "https");
        assert_eq!(query.host, "git-codecommit.eu-west-1.amazonaws.com");
        assert_eq!(query.path.as_deref(), Some("v1/repos/web"));
    }

    #[test]
    fn malformed_git_input_names_the_line() {
        let err = parse_git_credential_input("protocol=https\nnonsense\n").expect_err("no '='");
        assert_eq!(
            err.to_string(),
            "line 2: 'nonsense' is not a key=value pair in git's credential-helper input"
        );
        let err = parse_git_credential_input("protocol=https\n\n").expect_err("no host");
        assert_eq!(err, GitCredentialError::MissingKey { key: "host" });
    }

    #[test]
    fn helper_actions_parse_and_unknown_ones_are_refused() {
        assert_eq!(GitCredentialAction::parse("get"), Ok(GitCredentialAction::Get));
        assert_eq!(
            GitCredentialAction::parse("store"),
            Ok(GitCredentialAction::Store)
        );
        assert_eq!(
            GitCredentialAction::parse("erase"),
            Ok(GitCredentialAction::Erase)
        );
        assert!(GitCredentialAction::parse("fill").is_err());
    }

    #[test]
    fn non_aws_hosts_get_no_answer_unless_asked() {
        let creds = Credentials::new("AKID", "secret");
        let time = AmzDate::from_unix_seconds(0).expect("in range");
        let query = GitCredentialQuery {
            protocol: "https".into(),
            host: "github.com".into(),
            path: Some("a".into()),
        };
        assert_eq!(
            codecommit_credentials(&query, Some("eu-west-1"), &creds, time, false),
            Ok(None)
        );
        let answer = codecommit_credentials(&query, Some("eu-west-1"), &creds, time, true).expect("signed");
        assert!(answer.is_some());
        let no_region = codecommit_credentials(&query, None, &creds, time, true);
        assert_eq!(
            no_region,
            Err(GitCredentialError::NoRegion {
                host: "github.com".into()
            })
        );
    }

    #[test]
    fn a_missing_path_points_at_use_http_path() {
        let creds = Credentials::new("AKID", "secret");
        let time = AmzDate::from_unix_seconds(0).expect("in range");
        let host = "git-codecommit.eu-west-1.amazonaws.com".to_owned();
        let query = GitCredentialQuery {
            protocol: "https".into(),
            host,
            path: None,
        };
        let err = codecommit_credentials(&query, None, &creds, time, false).expect_err("no path");
        assert!(err.to_string().contains("useHttpPath true"), "{err}");
    }

    #[test]
    fn debug_output_hides_the_password() {
        let creds = codecommit_git_password(
            "h",
            "/v1/repos/r",
            "eu-west-1",
            &Credentials::new("AKID", "secret"),
            AmzDate::from_unix_seconds(0).expect("in range"),
        );
        assert!(!format!("{creds:?}").contains(&creds.password));
        assert!(
            creds
                .to_helper_output()
                .starts_with("username=AKID\npassword=19700101T000000Z")
        );
    }
}
