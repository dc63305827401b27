//! The source fetch: git versions, the borrowing local checkout beside the fetch path, credentials through
//! git's environment, S3 locations.

use std::path::{Path, PathBuf};

use super::credentials::{GitAuth, codecommit_git_config, credential_env, git_config_env, token_username};
use super::git::Checkout;
use super::s3::s3_location;
use super::*;

async fn prepare(spec: &SourceSpec, dest: &Path) -> Result<PreparedSource, SourceError> {
    SourceFetcher::default().fetch(spec, dest).await
}

fn sh(dir: &Path, script: &str) -> String {
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(script)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{script}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn repo() -> (tempfile::TempDir, String, String) {
    let dir = tempfile::tempdir().unwrap();
    sh(
        dir.path(),
        "git init -q -b main . && echo one >file.txt && git add file.txt \
         && git -c user.name=t -c user.email=t@t commit -q -m one \
         && git tag v1 && git -c user.name=t -c user.email=t@t tag -a annotated -m 'tag object' \
         && echo two >file.txt && git -c user.name=t -c user.email=t@t commit -q -am two \
         && git update-ref refs/pull/7/head HEAD~1",
    );
    let first = sh(dir.path(), "git rev-parse HEAD~1");
    let second = sh(dir.path(), "git rev-parse HEAD");
    (dir, first, second)
}

#[tokio::test]
async fn a_git_source_is_cloned_at_branch_tag_sha_and_pull_request_versions() {
    let (repo, first, second) = repo();
    let url = repo.path().display().to_string();
    let cases = [
        (None, &second),
        (Some("main"), &second),
        (Some("v1"), &first),
        (Some("refs/heads/main"), &second),
        (Some("pr/7"), &first),
        (Some(first.as_str()), &first),
    ];
    for (version, expected) in cases {
        let dest = tempfile::tempdir().unwrap();
        let spec = SourceSpec::classify(&url, version, 1);
        let prepared = prepare(&spec, &dest.path().join("src")).await.unwrap();
        assert_eq!(prepared.resolved_version.as_ref(), Some(expected), "{version:?}");
    }
}

#[tokio::test]
async fn a_codecommit_fetch_uses_kiln_as_the_only_credential_helper_with_the_http_path() {
    let config = codecommit_git_config(Path::new("/opt/kiln tools/it's/kiln"));
    let env = GitAuth::CodeCommit(PathBuf::from("/opt/kiln tools/it's/kiln")).env();
    assert_eq!(
        env,
        git_config_env(&config),
        "the settings reach git through its environment"
    );
    let get = |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    assert_eq!(get("GIT_CONFIG_COUNT"), Some("3"));
    assert_eq!(get("GIT_CONFIG_KEY_0"), Some("credential.helper"));
    assert_eq!(get("GIT_CONFIG_VALUE_0"), Some(""));
    assert_eq!(get("GIT_CONFIG_KEY_1"), Some("credential.helper"));
    assert_eq!(
        get("GIT_CONFIG_VALUE_1"),
        Some(r"!'/opt/kiln tools/it'\''s/kiln' git-credential-codecommit")
    );
    assert_eq!(get("GIT_CONFIG_KEY_2"), Some("credential.UseHttpPath"));
    assert_eq!(get("GIT_CONFIG_VALUE_2"), Some("true"));
    // A failing fetch names git's subcommand (here the checkout of the missing revision), not a setting.
    let (repo, _, _) = repo();
    let dest = tempfile::tempdir().unwrap();
    let url = format!("file://{}", repo.path().display());
    let checkout = Checkout {
        url: &url,
        version: Some("no-such-branch"),
        depth: 1,
        dest: &dest.path().join("src"),
    };
    let auth = GitAuth::CodeCommit(PathBuf::from("/nonexistent/kiln"));
    let err = super::git::fetch(&checkout, &auth).await.unwrap_err().to_string();
    assert!(err.starts_with("git checkout failed"), "{err}");
}

#[tokio::test]
async fn the_credential_helper_settings_leave_a_local_clone_working() {
    let (repo, _, second) = repo();
    let dest = tempfile::tempdir().unwrap();
    let url = repo.path().display().to_string();
    let spec = SourceSpec::Git {
        url: url.clone(),
        version: Some("main".into()),
        depth: 1,
        credentials: GitCredentials {
            token: None,
            codecommit: true,
        },
    };
    let fetcher = SourceFetcher::default().with_codecommit_helper(PathBuf::from("/nonexistent/kiln"));
    let prepared = fetcher.fetch(&spec, &dest.path().join("src")).await.unwrap();
    assert_eq!(prepared.resolved_version, Some(second.clone()));
    // The fetch path too, with the helper in git's environment.
    let fetched = tempfile::tempdir().unwrap();
    let checkout = Checkout {
        url: &url,
        version: Some("main"),
        depth: 1,
        dest: &fetched.path().join("src"),
    };
    let auth = GitAuth::CodeCommit(PathBuf::from("/nonexistent/kiln"));
    let fetched = super::git::fetch(&checkout, &auth).await.unwrap();
    assert_eq!(fetched.resolved_version, Some(second));
}

#[tokio::test]
async fn a_local_checkout_borrows_the_objects_and_the_fetch_path_gives_the_same_commits() {
    let (repo, first, second) = repo();
    let url = format!("file://{}", repo.path().display());
    let annotated = sh(repo.path(), "git rev-parse annotated");
    let cases = [
        (None, &second),
        (Some("v1"), &first),
        (Some("pr/7"), &first),
        // Full ids take the path that checks out while the id is looked up.
        (Some(first.as_str()), &first),
        (Some(second.as_str()), &second),
        (Some(annotated.as_str()), &first),
    ];
    for (version, expected) in cases {
        let borrowed = tempfile::tempdir().unwrap();
        let dest = borrowed.path().join("src");
        let spec = SourceSpec::classify(&url, version, 1);
        let prepared = prepare(&spec, &dest).await.unwrap();
        assert_eq!(prepared.resolved_version.as_ref(), Some(expected), "{version:?}");
        let alternates = std::fs::read_to_string(dest.join(".git/objects/info/alternates")).unwrap();
        assert!(alternates.trim_end().ends_with("/.git/objects"), "{alternates}");
        assert_eq!(sh(&dest, "git log --format=%H -1"), *expected);
        assert_eq!(
            sh(&dest, "git rev-parse HEAD"),
            *expected,
            "HEAD is the commit, even for a tag's id"
        );
        let content = if expected == &first { "one" } else { "two" };
        assert_eq!(
            std::fs::read_to_string(dest.join("file.txt")).unwrap().trim(),
            content
        );
        // The hand-written repository is one git takes as its own: a clean work tree, a valid HEAD.
        assert_eq!(sh(&dest, "git status --porcelain"), "");
        assert_eq!(
            sh(&dest, "git rev-parse --is-inside-work-tree --is-bare-repository"),
            "true\nfalse"
        );
        // The same revision fetched the slow way (what a remote URL takes).
        let fetched = tempfile::tempdir().unwrap();
        let checkout = Checkout {
            url: &url,
            version,
            depth: 1,
            dest: &fetched.path().join("src"),
        };
        let fetched = super::git::fetch(&checkout, &GitAuth::None).await.unwrap();
        assert_eq!(fetched.resolved_version.as_ref(), Some(expected), "{version:?}");
    }
}

#[tokio::test]
async fn a_directory_is_used_in_place_and_a_missing_revision_is_a_clear_error() {
    let (repo, _, second) = repo();
    let spec = SourceSpec::classify(&repo.path().display().to_string(), None, 1);
    let prepared = prepare(&spec, Path::new("/nonexistent")).await.unwrap();
    assert_eq!(prepared.dir, std::fs::canonicalize(repo.path()).unwrap());
    assert_eq!(prepared.resolved_version, Some(second));
    let dest = tempfile::tempdir().unwrap();
    let spec = SourceSpec::classify(&repo.path().display().to_string(), Some("no-such-branch"), 1);
    let err = prepare(&spec, &dest.path().join("src"))
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("git"), "{err}");
    // Full ids that name no commit here: missing, or a tree.
    let tree = sh(repo.path(), "git rev-parse HEAD^{tree}");
    for id in ["0123456789abcdef0123456789abcdef01234567", tree.as_str()] {
        let dest = tempfile::tempdir().unwrap();
        let spec = SourceSpec::classify(&format!("file://{}", repo.path().display()), Some(id), 1);
        let err = prepare(&spec, &dest.path().join("src"))
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("git"), "{id}: {err}");
    }
}

#[test]
fn codecommit_sources_get_kiln_as_their_credential_helper_through_the_environment() {
    let env = git_config_env(&codecommit_git_config(Path::new("/usr/bin/kiln")));
    let get = |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    assert_eq!(get("GIT_CONFIG_COUNT"), Some("3"));
    assert_eq!(get("GIT_CONFIG_KEY_0"), Some("credential.helper"));
    assert_eq!(get("GIT_CONFIG_VALUE_0"), Some(""));
    assert_eq!(
        get("GIT_CONFIG_VALUE_1"),
        Some("!'/usr/bin/kiln' git-credential-codecommit")
    );
    assert_eq!(get("GIT_CONFIG_KEY_2"), Some("credential.UseHttpPath"));
}

#[test]
fn s3_locations_split_into_bucket_and_key_and_bad_ones_are_named() {
    let table: &[(&str, Option<(&str, &str)>)] = &[
        (
            "src-bucket/app/source.zip",
            Some(("src-bucket", "app/source.zip")),
        ),
        (
            "arn:aws:s3:::src-bucket/source.zip",
            Some(("src-bucket", "source.zip")),
        ),
        ("arn:aws-cn:s3:::b/k.zip", Some(("b", "k.zip"))),
        ("just-a-bucket", None),
        ("bucket/", None),
        ("/key.zip", None),
    ];
    for (location, expected) in table {
        match (s3_location(location), expected) {
            (Ok(got), Some(want)) => assert_eq!(got, *want, "{location}"),
            (Err(err), None) => assert!(err.to_string().contains(location), "{err}"),
            (got, want) => panic!("{location}: got {got:?}, want {want:?}"),
        }
    }
}

#[test]
fn the_token_reaches_git_through_its_environment_only() {
    let env = credential_env("x-access-token", "s3cr3t");
    let helper = &env
        .iter()
        .find(|(k, _)| k == "GIT_CONFIG_VALUE_1")
        .expect("helper")
        .1;
    assert!(
        !helper.contains("s3cr3t"),
        "the helper command names no token: {helper}"
    );
    assert!(env.contains(&("KILN_GIT_TOKEN".to_owned(), "s3cr3t".to_owned())));
    assert_eq!(token_username(kiln_core::project::SourceType::Gitlab), "oauth2");

    // git itself asks the helper, as it would before an HTTPS fetch of a private repository.
    let mut fill = std::process::Command::new("git")
        .args(["credential", "fill"])
        .envs(env)
        .env("GIT_TERMINAL_PROMPT", "0")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("git runs");
    use std::io::Write as _;
    fill.stdin
        .take()
        .expect("stdin")
        .write_all(b"protocol=https\nhost=github.com\npath=org/private.git\n\n")
        .expect("write the request");
    let out = fill.wait_with_output().expect("git answers");
    let answer = String::from_utf8_lossy(&out.stdout);
    assert!(answer.contains("username=x-access-token\n"), "{answer}");
    assert!(answer.contains("password=s3cr3t\n"), "{answer}");
    assert_eq!(
        token_username(kiln_core::project::SourceType::Github),
        "x-access-token"
    );
}

/// A fetcher whose buckets are directories under `root` (`<root>/<bucket>/<key>`).
fn dir_buckets(root: &Path) -> SourceFetcher {
    let root = root.to_path_buf();
    let buckets: Buckets = Arc::new(move |bucket: &str| -> Arc<dyn ObjectStore> {
        Arc::new(kiln_local::object_store::DirObjectStore::new(root.join(bucket)))
    });
    SourceFetcher::default().with_buckets(buckets)
}

#[tokio::test]
async fn an_s3_zip_is_downloaded_and_unpacked_and_a_missing_or_bad_one_is_named() {
    use std::io::Write as _;
    let stores = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(stores.path().join("sources/app")).unwrap();
    let mut zip =
        zip::ZipWriter::new(std::fs::File::create(stores.path().join("sources/app/src.zip")).unwrap());
    zip.start_file("src/message.txt", zip::write::SimpleFileOptions::default())
        .unwrap();
    zip.write_all(b"from-the-zip\n").unwrap();
    zip.finish().unwrap();
    std::fs::write(stores.path().join("sources/app/not.zip"), "plain text").unwrap();
    let fetcher = dir_buckets(stores.path());

    let dest = tempfile::tempdir().unwrap();
    let spec = SourceSpec::S3 {
        location: "arn:aws:s3:::sources/app/src.zip".into(),
    };
    let prepared = fetcher.fetch(&spec, &dest.path().join("src")).await.unwrap();
    assert_eq!(prepared.dir, dest.path().join("src"));
    assert_eq!(prepared.resolved_version, None, "an S3 source has no commit");
    assert_eq!(
        std::fs::read_to_string(prepared.dir.join("src/message.txt")).unwrap(),
        "from-the-zip\n"
    );
    assert!(
        !dest.path().join("src.source.zip").exists(),
        "the archive is removed"
    );

    let fetch = |location: &str| {
        let spec = SourceSpec::S3 {
            location: location.into(),
        };
        let dest = dest.path().join("other");
        let fetcher = fetcher.clone();
        async move { fetcher.fetch(&spec, &dest).await.unwrap_err() }
    };
    assert!(matches!(
        fetch("sources/app/none.zip").await,
        SourceError::S3Missing(_)
    ));
    assert!(matches!(
        fetch("sources/app/not.zip").await,
        SourceError::Unzip { .. }
    ));
    assert!(matches!(fetch("no-key").await, SourceError::BadS3Location(_)));
    let without_stores = SourceFetcher::default()
        .fetch(&spec, &dest.path().join("x"))
        .await;
    assert!(matches!(without_stores, Err(SourceError::NoObjectStore(_))));
}

#[tokio::test]
async fn no_source_is_an_empty_directory() {
    let dest = tempfile::tempdir().unwrap();
    let prepared = prepare(&SourceSpec::Empty, &dest.path().join("src"))
        .await
        .unwrap();
    assert!(prepared.dir.is_dir());
    assert_eq!(std::fs::read_dir(&prepared.dir).unwrap().count(), 0);
    assert_eq!((prepared.repo_url, prepared.resolved_version), (None, None));
}

#[tokio::test]
async fn a_token_is_used_when_there_is_a_resolver_and_codecommit_gets_kiln_otherwise() {
    let token = TokenRef {
        resource: "arn:aws:secretsmanager:eu-west-1:123456789012:secret:repo-token".into(),
        username: "oauth2",
    };
    let both = GitCredentials {
        token: Some(token.clone()),
        codecommit: true,
    };
    let mut secrets = kiln_local::LocalSecrets::new();
    secrets.insert(&token.resource, r#"{"token": "glpat-1"}"#);
    let with_tokens = SourceFetcher::default()
        .with_tokens(Arc::new(secrets))
        .with_codecommit_helper(PathBuf::from("/usr/bin/kiln"));
    let env = with_tokens.git_auth("u", &both).await.unwrap().env();
    assert!(env.contains(&("KILN_GIT_TOKEN".to_owned(), "glpat-1".to_owned())));
    assert!(env.contains(&("KILN_GIT_USERNAME".to_owned(), "oauth2".to_owned())));

    // Without a resolver (kiln serve), git keeps this machine's credentials, or kiln for CodeCommit.
    let local = SourceFetcher::default().with_codecommit_helper(PathBuf::from("/usr/bin/kiln"));
    let env = local.git_auth("u", &both).await.unwrap().env();
    assert!(
        env.iter().any(|(_, v)| v.contains("git-credential-codecommit")),
        "{env:?}"
    );
    let plain = GitCredentials {
        token: Some(token.clone()),
        codecommit: false,
    };
    assert!(local.git_auth("u", &plain).await.unwrap().env().is_empty());

    // A token that cannot be read names its resource, and CodeCommit without kiln says so.
    let empty = SourceFetcher::default().with_tokens(Arc::new(kiln_local::LocalSecrets::new()));
    let Err(err) = empty.git_auth("u", &plain).await else {
        panic!("a missing token is an error");
    };
    assert!(err.to_string().contains("repo-token"), "{err}");
    let codecommit = GitCredentials {
        token: None,
        codecommit: true,
    };
    let Err(err) = SourceFetcher::default()
        .git_auth("https://cc/v1/repos/web", &codecommit)
        .await
    else {
        panic!("CodeCommit needs kiln as the helper");
    };
    assert!(err.to_string().contains("https://cc/v1/repos/web"), "{err}");
}
