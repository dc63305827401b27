//! [`TestKiln`]: the local orchestrator (`kiln serve`) as a real child process on a random loopback port with
//! its own temp dir, plus helpers to act on it the way users do: signed webhook deliveries, the CodeBuild
//! API, waiting for a build to reach a status, `kill -9` and restart. [`GitRepo`] makes a source repository.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Once;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::paths::workspace_root;

/// The `kiln` binary the tests run (`KILN_BIN`, or `target/debug/kiln`, built on first use).
pub fn kiln_bin() -> PathBuf {
    if let Some(bin) = std::env::var_os("KILN_BIN") {
        return PathBuf::from(bin);
    }
    static BUILD: Once = Once::new();
    BUILD.call_once(|| {
        let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .args(["build", "-q", "-p", "kiln"])
            .current_dir(workspace_root())
            .status()
            .expect("cargo runs");
        assert!(status.success(), "cargo build -p kiln failed");
    });
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"));
    target.join("debug").join("kiln")
}

/// A git repository in a temp dir with one commit holding `buildspec.yml`.
pub struct GitRepo {
    _dir: tempfile::TempDir,
    path: PathBuf,
    /// The commit `main` points at.
    pub head: String,
}

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args([
            "-c",
            "user.email=kiln@example.com",
            "-c",
            "user.name=Kiln Tests",
            "-c",
            "init.defaultBranch=main",
        ])
        .args(args)
        .current_dir(dir)
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

impl GitRepo {
    /// A repository whose only commit adds `buildspec.yml` with `buildspec`.
    pub fn with_buildspec(buildspec: &str) -> GitRepo {
        GitRepo::create(None, buildspec)
    }

    /// The same in a directory called `name` (a local stand-in for the CodeCommit repository `name`).
    pub fn named(name: &str, buildspec: &str) -> GitRepo {
        GitRepo::create(Some(name), buildspec)
    }

    fn create(name: Option<&str>, buildspec: &str) -> GitRepo {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = match name {
            Some(name) => dir.path().join(name),
            None => dir.path().to_path_buf(),
        };
        std::fs::create_dir_all(&path).expect("repository dir");
        git(&path, &["init", "-q"]);
        std::fs::write(path.join("buildspec.yml"), buildspec).expect("write buildspec");
        git(&path, &["add", "."]);
        git(&path, &["commit", "-q", "-m", "first commit"]);
        let head = git(&path, &["rev-parse", "HEAD"]);
        GitRepo {
            _dir: dir,
            path,
            head,
        }
    }

    /// Runs `git args` in the repository and returns its output.
    pub fn git(&self, args: &[&str]) -> String {
        git(&self.path, args)
    }

    /// `file://` URL of the repository.
    pub fn url(&self) -> String {
        format!("file://{}", self.path.display())
    }
}

/// A running `kiln serve` with its data dir.
pub struct TestKiln {
    dir: tempfile::TempDir,
    child: Option<Child>,
    /// `http://127.0.0.1:<port>`.
    pub endpoint: String,
    client: reqwest::blocking::Client,
    extra_args: Vec<String>,
}

impl TestKiln {
    /// Starts `kiln serve` with `config` (a `kiln.yaml` text).
    pub fn spawn(config: &str) -> TestKiln {
        TestKiln::spawn_with(config, &[])
    }

    /// Starts `kiln serve` with `config` and extra command-line arguments.
    pub fn spawn_with(config: &str, args: &[&str]) -> TestKiln {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("kiln.yaml"), config).expect("write config");
        let mut kiln = TestKiln {
            dir,
            child: None,
            endpoint: String::new(),
            client: reqwest::blocking::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .expect("client"),
            extra_args: args.iter().map(|a| (*a).to_owned()).collect(),
        };
        kiln.start("127.0.0.1:0");
        kiln
    }

    fn start(&mut self, listen: &str) {
        let mut child = Command::new(kiln_bin())
            .arg("serve")
            .arg("--config")
            .arg(self.dir.path().join("kiln.yaml"))
            .arg("--data-dir")
            .arg(self.data_dir())
            .arg("--listen")
            .arg(listen)
            .args(&self.extra_args)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("kiln serve starts");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("kiln serve prints its address");
        let url = line
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .unwrap_or_else(|| panic!("no address in {line:?}"));
        self.endpoint = url.to_owned();
        self.child = Some(child);
    }

    /// The server's data directory.
    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// `kill -9` the server (runners keep running, as after a crash).
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().ok();
            child.wait().ok();
        }
    }

    /// The server's process id while it runs.
    pub fn server_pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Sends SIGKILL to the server from a shared reference (e.g. while other threads post to it); reap it
    /// with [`TestKiln::restart`] or [`TestKiln::kill9`].
    pub fn crash(&self) {
        if let Some(child) = &self.child {
            let pid = child.id().to_string();
            Command::new("kill")
                .args(["-9", &pid])
                .status()
                .expect("kill runs");
        }
    }

    /// Starts the server again on the same port and data dir.
    pub fn restart(&mut self) {
        self.kill9();
        let listen = self.endpoint.trim_start_matches("http://").to_owned();
        self.start(&listen);
    }

    /// Posts a GitHub delivery of `body` to `project`'s webhook, signed with `secret`.
    pub fn post_webhook(
        &self,
        project: &str,
        event: &str,
        delivery: &str,
        body: &[u8],
        secret: &str,
    ) -> (u16, Value) {
        let signature = kiln_core::trigger::sign_hex(&kiln_core::trigger::WebhookSecret::new(secret), body);
        let response = self
            .client
            .post(format!("{}/webhooks/{project}", self.endpoint))
            .header("X-GitHub-Event", event)
            .header("X-GitHub-Delivery", delivery)
            .header("X-Hub-Signature-256", format!("sha256={signature}"))
            .header("User-Agent", "GitHub-Hookshot/044aadd")
            .header("Content-Type", "application/json")
            .body(body.to_vec())
            .send()
            .expect("webhook answers");
        let status = response.status().as_u16();
        (status, response.json().unwrap_or(Value::Null))
    }

    /// Posts an EventBridge event (e.g. a CodeCommit "Repository State Change") to `/codecommit/events`.
    pub fn post_codecommit_event(&self, event: &Value) -> (u16, Value) {
        let response = self
            .client
            .post(format!("{}/codecommit/events", self.endpoint))
            .header("Content-Type", "application/json")
            .body(event.to_string())
            .send()
            .expect("the codecommit endpoint answers");
        let status = response.status().as_u16();
        (status, response.json().unwrap_or(Value::Null))
    }

    /// Calls a CodeBuild API operation (unsigned).
    pub fn api(&self, operation: &str, input: Value) -> (u16, Value) {
        let response = self
            .client
            .post(format!("{}/", self.endpoint))
            .header("X-Amz-Target", format!("CodeBuild_20161006.{operation}"))
            .header("Content-Type", "application/x-amz-json-1.1")
            .body(input.to_string())
            .send()
            .expect("API answers");
        let status = response.status().as_u16();
        (status, response.json().unwrap_or(Value::Null))
    }

    /// StartBuild for `project`; returns the build id.
    pub fn start_build(&self, project: &str) -> String {
        let (status, body) = self.api("StartBuild", json!({"projectName": project}));
        assert_eq!(status, 200, "{body}");
        body["build"]["id"].as_str().expect("build id").to_owned()
    }

    /// The build record, if it exists.
    pub fn build(&self, id: &str) -> Option<Value> {
        let (_, body) = self.api("BatchGetBuilds", json!({"ids": [id]}));
        body["builds"].as_array().and_then(|b| b.first().cloned())
    }

    /// Waits (up to 60 s) until the build has `status` (or, for `"TERMINAL"`, any final status).
    pub fn wait_for(&self, id: &str, status: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let build = self.build(id);
            if let Some(build) = &build {
                let done = build["buildComplete"].as_bool() == Some(true);
                if build["buildStatus"] == status || (status == "TERMINAL" && done) {
                    return build.clone();
                }
                assert!(
                    !done || status == "IN_PROGRESS",
                    "build {id} ended {} while waiting for {status}: {build}",
                    build["buildStatus"]
                );
            }
            assert!(
                Instant::now() < deadline,
                "build {id} did not reach {status}: {build:?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Pids of `kiln runner` processes working in this server's data dir.
    pub fn runner_pids(&self) -> Vec<u32> {
        let data = self.data_dir().canonicalize().unwrap_or_else(|_| self.data_dir());
        let needle = data.display().to_string();
        let Ok(entries) = std::fs::read_dir("/proc") else {
            return Vec::new();
        };
        entries
            .flatten()
            .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
            .filter(|pid| {
                let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
                let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
                let zombie = stat
                    .rsplit(')')
                    .next()
                    .is_some_and(|s| s.trim_start().starts_with('Z'));
                let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
                !zombie && args.contains(&b"runner".as_slice()) && args.contains(&needle.as_bytes())
            })
            .collect()
    }
}

impl Drop for TestKiln {
    fn drop(&mut self) {
        self.kill9();
        for pid in self.runner_pids() {
            // Runners run in their own process group, led by themselves.
            Command::new("kill")
                .args(["-KILL", "--", &format!("-{pid}")])
                .status()
                .ok();
        }
    }
}
