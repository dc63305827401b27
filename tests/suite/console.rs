//! The web console in a real browser: starts `kiln serve` with two projects over a temp git repo, delivers a
//! signed push whose branch name is hostile markup, then runs `tests/browser/console.test.mjs` (playwright-core
//! driving Debian's `/usr/bin/chromium`) against it. Missing chromium or node modules fail the test (run
//! `scripts/setup`); screenshots land in `tests/output/console/`.

use std::path::PathBuf;
use std::process::Command;

use kiln_tests::kiln::{GitRepo, TestKiln};
use kiln_tests::paths::workspace_root;
use serde_json::json;

const SECRET: &str = "console-secret";

const BUILDSPEC: &str = r#"version: 0.2
env:
  exported-variables:
    - GREETING
phases:
  build:
    commands:
      - 'if [ "$MODE" = sleep ]; then echo sleeping; sleep 120; fi'
      - 'if [ "$MODE" = big ]; then seq -f "big line %g" 1 120000; fi'
      - 'if [ "$FAIL" = yes ]; then echo failing on purpose; (exit 3); fi'
      - 'for i in 1 2 3 4 5 6 7 8; do echo "tick $i at $(date +%s%3N)"; sleep 0.5; done'
      - "echo '<script>alert(1)</script>'"
      - 'printf "\033[31mred text\033[0m and plain\n"'
      - 'echo "evil is $EVIL"'
      - 'export GREETING=hello'
      - mkdir -p out && echo built > out/result.txt
artifacts:
  files:
    - out/result.txt
"#;

fn project(name: &str, repo: &GitRepo, extra_env: &str) -> String {
    format!(
        "  - name: {name}
    source:
      type: GIT
      location: {url}
    environment:
      type: LINUX_CONTAINER
      image: local
      computeType: BUILD_GENERAL1_SMALL
{extra_env}    artifacts:
      type: S3
      location: local
      packaging: ZIP
    webhook:
      secret:
        value: {SECRET}
      filterGroups: [[{{type: EVENT, pattern: PUSH}}]]
",
        url = repo.url()
    )
}

/// A GitHub push for `git_ref` at `head`, shaped like the real payload's members the router reads.
fn push(git_ref: &str, head: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "ref": git_ref,
        "before": "0000000000000000000000000000000000000000",
        "after": head,
        "created": false,
        "deleted": false,
        "forced": false,
        "repository": {"full_name": "octo-org/demo", "name": "demo", "clone_url": "https://example.com/octo-org/demo.git",
            "html_url": "https://example.com/octo-org/demo", "private": false, "fork": false, "owner": {"login": "octo-org"}},
        "sender": {"login": "mallory", "id": 1},
        "pusher": {"name": "mallory"},
        "head_commit": {"id": head, "message": "<b>bold</b> commit", "author": {"name": "m", "email": "m@example.com"},
            "added": [], "removed": [], "modified": ["buildspec.yml"]},
        "commits": [{"id": head, "message": "<b>bold</b> commit", "added": [], "removed": [], "modified": ["buildspec.yml"]}]
    }))
    .expect("JSON")
}

fn node_modules() -> PathBuf {
    workspace_root().join("tests/browser/node_modules/playwright-core")
}

#[test]
fn the_console_shows_live_builds_and_acts_on_them_in_headless_chromium() {
    assert!(
        std::path::Path::new("/usr/bin/chromium").is_file(),
        "Debian's chromium is missing at /usr/bin/chromium: run scripts/setup (apt-get install -y chromium)"
    );
    assert!(
        node_modules().is_dir(),
        "{} is missing: run scripts/setup (npm ci in tests/browser)",
        node_modules().display()
    );
    let repo = GitRepo::with_buildspec(BUILDSPEC);
    let sleeper_env = "      environmentVariables:\n        - {name: MODE, value: sleep, type: PLAINTEXT}\n";
    let nightly = "    schedules:\n      - {name: nightly, expression: \"cron(0 3 * * ? *)\", timezone: Europe/Paris}\n";
    let config = format!(
        "allowInlineSecrets: true\nprojects:\n{}{}{}",
        project("demo", &repo, ""),
        project("sleeper", &repo, &format!("{sleeper_env}{nightly}")),
        project("big", &repo, &sleeper_env.replace("sleep", "big"))
    );
    let kiln = TestKiln::spawn(&config);

    let hostile = "refs/heads/\"><img src=x onerror=alert(1)>";
    let (status, accepted) =
        kiln.post_webhook("demo", "push", "console-1", &push(hostile, &repo.head), SECRET);
    assert_eq!(status, 202, "{accepted}");
    let webhook_build = accepted["buildIds"][0].as_str().expect("a build id").to_owned();
    kiln.wait_for(&webhook_build, "TERMINAL");
    // A log of about 2 MB, more than one page: the browser loads the rest as the reader scrolls.
    let big = kiln.start_build("big");
    kiln.wait_for(&big, "SUCCEEDED");

    let out = workspace_root().join("tests/output/console");
    let result = Command::new("node")
        .arg(workspace_root().join("tests/browser/console.test.mjs"))
        .arg(&kiln.endpoint)
        .arg(&out)
        .env("KILN_BIG_BUILD", &big)
        .current_dir(workspace_root())
        .status()
        .expect("node runs (install Node.js 20+)");
    assert!(result.success(), "the browser test failed: {result}");
    for shot in ["projects.png", "builds.png", "build.png", "events.png"] {
        let meta = std::fs::metadata(out.join(shot)).expect("screenshot written");
        assert!(meta.len() > 10_000, "{shot} looks empty ({} bytes)", meta.len());
    }
}
