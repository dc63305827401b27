//! `kiln keys` against a local `kiln serve --require-keys`, and the client over HTTPS: a key made in the data
//! directory signs `kiln` calls (held to its projects, refused once revoked, each refusal naming the credentials
//! tried), and `kiln` reaches a server behind TLS whose certificate a private CA signed, trusting that CA through
//! `SSL_CERT_FILE` and refusing the connection without it.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use kiln_tests::kiln::{GitRepo, TestKiln, kiln_bin};
use serde_json::Value;

const BUILDSPEC: &str = "version: 0.2\nphases:\n  build:\n    commands:\n      - echo hi\n";

fn config(repo: &GitRepo) -> String {
    let project = |name: &str| {
        format!(
            "  - name: {name}\n    source:\n      type: GIT\n      location: {}\n    environment:\n      type: \
             LINUX_CONTAINER\n      image: local\n      computeType: BUILD_GENERAL1_SMALL\n    artifacts:\n      \
             type: NO_ARTIFACTS\n",
            repo.url()
        )
    };
    format!("projects:\n{}{}", project("web"), project("api"))
}

/// Runs `kiln` with `args` and `env`; returns success, stdout and stderr.
fn kiln(args: &[&str], env: &[(&str, &str)]) -> (bool, String, String) {
    let out = Command::new(kiln_bin())
        .args(args)
        .env_remove("KILN_ACCESS_KEY_ID")
        .env_remove("KILN_SECRET_ACCESS_KEY")
        .env_remove("SSL_CERT_FILE")
        .envs(env.iter().copied())
        .output()
        .expect("kiln runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_key_from_the_data_directory_signs_kiln_calls_within_its_scope_until_revoked() {
    let repo = GitRepo::with_buildspec(BUILDSPEC);
    let server = TestKiln::spawn_with(&config(&repo), &["--require-keys"]);
    let data = server.data_dir();
    let data = data.to_str().expect("a UTF-8 path");
    let (ok, out, err) = kiln(
        &["keys", "create", "--data-dir", data, "--project", "web", "--json"],
        &[],
    );
    assert!(ok, "kiln keys create: {err}");
    let key: Value = serde_json::from_str(&out).expect("JSON");
    let id = key["accessKeyId"].as_str().expect("an id");
    let secret = key["secretAccessKey"].as_str().expect("a secret");
    let mode = std::fs::metadata(Path::new(data).join("keys.secret")).expect("the sealing secret");
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&mode.permissions()) & 0o777,
        0o600
    );
    let endpoint = server.endpoint.as_str();

    let (ok, _, err) = kiln(&["builds", "--endpoint", endpoint], &[]);
    assert!(
        !ok && err.contains("sent unsigned"),
        "an unsigned call is refused and says so: {err}"
    );
    let signed = [("KILN_ACCESS_KEY_ID", id), ("KILN_SECRET_ACCESS_KEY", secret)];
    let (ok, out, err) = kiln(&["start", "web", "--endpoint", endpoint, "--json"], &signed);
    assert!(ok, "kiln start web with the key: {err}");
    let started: Value = serde_json::from_str(&out).expect("JSON");
    assert!(
        started["id"].as_str().unwrap_or_default().starts_with("web:"),
        "{started}"
    );
    let (ok, _, err) = kiln(&["start", "api", "--endpoint", endpoint], &signed);
    assert!(!ok, "a project outside the key's scope");
    assert!(
        err.contains("not allowed to call StartBuild on project \"api\"") && err.contains(id),
        "{err}"
    );

    let (ok, _, err) = kiln(&["keys", "revoke", id, "--data-dir", data], &[]);
    assert!(ok, "{err}");
    let (ok, _, err) = kiln(&["builds", "--endpoint", endpoint], &signed);
    assert!(!ok && err.contains("revoked"), "a revoked key: {err}");
    let (ok, out, _) = kiln(&["keys", "list", "--data-dir", data], &[]);
    assert!(ok && out.contains(id) && out.contains("revoked"), "{out}");
    assert!(!out.contains(secret), "never a secret in a listing");
    let (ok, _, err) = kiln(&["keys", "list", "--data-dir", "/nonexistent/kiln"], &[]);
    assert!(
        !ok && err.contains("--data-dir"),
        "a wrong directory says how to fix it: {err}"
    );
}

/// A private CA and a certificate for 127.0.0.1 it signed, made with openssl in `dir`.
fn certificates(dir: &Path) {
    let openssl = |command: &str| {
        let args: Vec<&str> = command.split_whitespace().collect();
        let out = Command::new("openssl")
            .args(&args)
            .current_dir(dir)
            .output()
            .expect("openssl runs");
        assert!(
            out.status.success(),
            "openssl {command}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .expect("write");
    openssl(
        "req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj /CN=kiln-test-ca \
         -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign",
    );
    openssl("req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj /CN=127.0.0.1");
    openssl(
        "x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 2 \
         -extfile server.ext",
    );
}

/// A TLS front for `backend`: Python's `ssl` and `http.server`, passing each request through.
const TLS_PROXY: &str = r#"
import http.server, ssl, sys, urllib.request
backend, cert, key = sys.argv[1], sys.argv[2], sys.argv[3]
class Pass(http.server.BaseHTTPRequestHandler):
    def forward(self):
        body = self.rfile.read(int(self.headers.get("content-length") or 0))
        request = urllib.request.Request(backend + self.path, data=body if self.command == "POST" else None,
                                         method=self.command)
        for name, value in self.headers.items():
            if name.lower() not in ("host", "content-length", "connection"):
                request.add_header(name, value)
        try:
            response = urllib.request.urlopen(request)
        except urllib.error.HTTPError as e:
            response = e
        data = response.read()
        self.send_response(response.status)
        for name, value in response.headers.items():
            if name.lower() not in ("content-length", "connection", "transfer-encoding"):
                self.send_header(name, value)
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
    do_GET = do_POST = forward
    def log_message(self, *args):
        pass
server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Pass)
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(cert, key)
server.socket = context.wrap_socket(server.socket, server_side=True)
print(f"https://127.0.0.1:{server.server_address[1]}", flush=True)
server.serve_forever()
"#;

struct Proxy(Child);

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn kiln_speaks_https_trusting_the_ca_in_ssl_cert_file_beside_the_systems() {
    let repo = GitRepo::with_buildspec(BUILDSPEC);
    let server = TestKiln::spawn(&config(&repo));
    let dir = tempfile::tempdir().expect("a temp dir");
    certificates(dir.path());
    let python = kiln_tests::paths::venv_dir().join("bin/python");
    let mut child = Command::new(&python)
        .arg("-c")
        .arg(TLS_PROXY)
        .arg(&server.endpoint)
        .arg(dir.path().join("server.pem"))
        .arg(dir.path().join("server.key"))
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{}: {e}; run scripts/setup", python.display()));
    let mut url = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut url)
        .expect("the proxy prints its URL");
    let _proxy = Proxy(child);
    let url = url.trim();
    assert!(url.starts_with("https://"), "{url}");

    let (ok, _, err) = kiln(&["builds", "--endpoint", url], &[]);
    assert!(!ok, "an unknown CA is refused");
    assert!(
        err.to_lowercase().contains("certificate"),
        "the error says why: {err}"
    );
    let ca = dir.path().join("ca.pem");
    let ca = ca.to_str().expect("UTF-8");
    let (ok, out, err) = kiln(
        &["start", "web", "--endpoint", url, "--json"],
        &[("SSL_CERT_FILE", ca)],
    );
    assert!(ok, "through TLS with SSL_CERT_FILE: {err}");
    let started: Value = serde_json::from_str(&out).expect("JSON");
    assert!(
        started["id"].as_str().unwrap_or_default().starts_with("web:"),
        "{started}"
    );
    let (ok, _, err) = kiln(
        &["builds", "--endpoint", url],
        &[("SSL_CERT_FILE", "/nonexistent/ca.pem")],
    );
    assert!(
        !ok && err.contains("SSL_CERT_FILE"),
        "a missing bundle is named: {err}"
    );
}
