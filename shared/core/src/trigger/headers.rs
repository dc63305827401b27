//! Request headers looked up case-insensitively (Lambda lower-cases them), and the provider they identify.

use serde::Serialize;

/// The source-control provider that sent a webhook.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Provider {
    /// GitHub.com or GitHub Enterprise Server.
    GitHub,
    /// GitLab.com or self-managed GitLab.
    GitLab,
    /// Bitbucket Cloud.
    Bitbucket,
    /// Gitea, Forgejo (and Gogs-compatible headers).
    Gitea,
    /// AWS CodeCommit: not a webhook but an EventBridge "CodeCommit Repository State Change" event.
    CodeCommit,
}

impl Provider {
    /// A lower-case name for logs and initiator strings.
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::GitHub => "github",
            Provider::GitLab => "gitlab",
            Provider::Bitbucket => "bitbucket",
            Provider::Gitea => "gitea",
            Provider::CodeCommit => "codecommit",
        }
    }
}

/// HTTP request headers with names compared case-insensitively; the first of repeated names wins.
#[derive(Debug, Clone, Default)]
pub struct Headers(Vec<(String, String)>);

impl Headers {
    /// Builds the set from `(name, value)` pairs in any case.
    pub fn from_pairs<N: AsRef<str>, V: AsRef<str>>(pairs: impl IntoIterator<Item = (N, V)>) -> Self {
        Self(
            pairs
                .into_iter()
                .map(|(name, value)| (name.as_ref().to_ascii_lowercase(), value.as_ref().to_owned()))
                .collect(),
        )
    }

    /// The value of `name` (any case), trimmed of surrounding whitespace.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.trim())
    }

    /// The first of `names` that is present and not empty.
    pub(crate) fn first_of(&self, names: &[&str]) -> Option<&str> {
        names
            .iter()
            .find_map(|name| self.get(name).filter(|value| !value.is_empty()))
    }
}

/// The provider and its event name, read from the headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ProviderEvent<'h> {
    pub provider: Provider,
    pub event: &'h str,
}

/// Tells the provider apart by its event header. Gitea and Forgejo also send `X-GitHub-Event`, so their own
/// headers are checked first.
pub(crate) fn detect(headers: &Headers) -> Option<ProviderEvent<'_>> {
    let candidates: [(&[&str], Provider); 4] = [
        (
            &["x-forgejo-event", "x-gitea-event", "x-gogs-event"],
            Provider::Gitea,
        ),
        (&["x-gitlab-event"], Provider::GitLab),
        (&["x-event-key"], Provider::Bitbucket),
        (&["x-github-event"], Provider::GitHub),
    ];
    candidates.into_iter().find_map(|(names, provider)| {
        headers
            .first_of(names)
            .map(|event| ProviderEvent { provider, event })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_lookup_ignores_case() {
        let headers = Headers::from_pairs([("X-GitHub-Event", "push")]);
        assert_eq!(headers.get("x-github-event"), Some("push"));
        assert_eq!(headers.get("X-GITHUB-EVENT"), Some("push"));
        assert_eq!(headers.get("x-gitlab-event"), None);
    }

    #[test]
    fn providers_are_told_apart_by_their_event_headers() {
        type Case<'a> = (&'a [(&'a str, &'a str)], Option<Provider>);
        let table: [Case<'_>; 6] = [
            (&[("X-GitHub-Event", "push")], Some(Provider::GitHub)),
            (
                &[("X-GitHub-Event", "push"), ("X-Gitea-Event", "push")],
                Some(Provider::Gitea),
            ),
            (
                &[("X-GitHub-Event", "push"), ("X-Forgejo-Event", "push")],
                Some(Provider::Gitea),
            ),
            (&[("x-gitlab-event", "Push Hook")], Some(Provider::GitLab)),
            (&[("x-event-key", "repo:push")], Some(Provider::Bitbucket)),
            (&[("content-type", "application/json")], None),
        ];
        for (pairs, expected) in table {
            let headers = Headers::from_pairs(pairs.iter().copied());
            assert_eq!(
                detect(&headers).map(|found| found.provider),
                expected,
                "{pairs:?}"
            );
        }
    }
}
