//! The console over plain HTTP (as a browser without JavaScript sees it): behind credentials, pages redirect to
//! a login that checks the server's access key and secret and sets a signed, HttpOnly, SameSite=Strict session
//! cookie; builds pages page by 20 and filter by status.

use kiln_tests::kiln::{GitRepo, TestKiln};

fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

fn config(repo: &GitRepo) -> String {
    format!(
        "projects:\n  - name: demo\n    source: {{type: GIT, location: {}}}\n    environment: {{type: LINUX_CONTAINER, image: local, computeType: BUILD_GENERAL1_SMALL}}\n    artifacts: {{type: NO_ARTIFACTS}}\n",
        repo.url()
    )
}

fn rows(html: &str) -> usize {
    html.matches("<tr id=\"build-").count()
}

#[test]
fn builds_pages_hold_twenty_builds_link_to_older_ones_and_filter_by_status() {
    let repo = GitRepo::with_buildspec("version: 0.2\nphases:\n  build:\n    commands:\n      - echo hi\n");
    let kiln = TestKiln::spawn_with(&config(&repo), &["--paused"]);
    for _ in 0..23 {
        kiln.start_build("demo");
    }
    let http = client();
    let first = http
        .get(format!("{}/console/projects/demo", kiln.endpoint))
        .send()
        .expect("builds page")
        .text()
        .expect("body");
    assert_eq!(rows(&first), 20, "the first page holds 20 builds");
    assert!(
        first.contains(">#23</a>") && !first.contains(">#3</a>"),
        "newest first"
    );
    let older = first
        .split("rel=\"next\" href=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a link to older builds")
        .replace("&amp;", "&");
    let second = http
        .get(format!("{}{older}", kiln.endpoint))
        .send()
        .expect("older page")
        .text()
        .expect("body");
    assert_eq!(rows(&second), 3, "the second page holds the rest");
    assert!(second.contains(">#1</a>") && !second.contains("rel=\"next\""));
    let queued = http
        .get(format!(
            "{}/console/projects/demo?status=IN_PROGRESS",
            kiln.endpoint
        ))
        .send()
        .expect("filtered")
        .text()
        .expect("body");
    assert_eq!(rows(&queued), 20);
    let failed = http
        .get(format!("{}/console/projects/demo?status=FAILED", kiln.endpoint))
        .send()
        .expect("filtered")
        .text()
        .expect("body");
    assert_eq!(rows(&failed), 0);
    assert!(failed.contains("No builds match."));
}

#[test]
fn with_credentials_the_console_asks_for_them_and_keeps_a_signed_session() {
    let repo = GitRepo::with_buildspec("version: 0.2\nphases:\n  build:\n    commands:\n      - echo hi\n");
    let kiln = TestKiln::spawn_with(
        &config(&repo),
        &[
            "--access-key-id",
            "AKIDCONSOLE",
            "--secret-access-key",
            "console-secret-key",
        ],
    );
    let http = client();
    let base = &kiln.endpoint;

    let page = http.get(format!("{base}/")).send().expect("GET /");
    assert_eq!(
        page.status().as_u16(),
        303,
        "an anonymous visitor is sent to the login"
    );
    assert_eq!(page.headers()["location"], "/console/login?next=%2F");
    let login = http
        .get(format!("{base}/console/login"))
        .send()
        .expect("login page");
    assert_eq!(login.status().as_u16(), 200);
    assert!(login.text().expect("body").contains("Secret access key"));

    let wrong = http
        .post(format!("{base}/console/login"))
        .header("Origin", base.as_str())
        .form(&[
            ("access_key_id", "AKIDCONSOLE"),
            ("secret_access_key", "guess"),
            ("next", "/"),
        ])
        .send()
        .expect("login");
    assert!(
        wrong.headers().get("set-cookie").is_none(),
        "wrong credentials set no cookie"
    );
    assert!(
        wrong.headers()["location"]
            .to_str()
            .expect("ascii")
            .contains("failed=true"),
        "wrong credentials go back to the login"
    );

    let right = http
        .post(format!("{base}/console/login"))
        .header("Origin", base.as_str())
        .form(&[
            ("access_key_id", "AKIDCONSOLE"),
            ("secret_access_key", "console-secret-key"),
            ("next", "/console/events"),
        ])
        .send()
        .expect("login");
    assert_eq!(right.headers()["location"], "/console/events");
    let cookie = right.headers()["set-cookie"].to_str().expect("ascii").to_owned();
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(cookie.contains(attribute), "{attribute} missing from {cookie}");
    }
    let pair = cookie.split(';').next().expect("name=value").to_owned();

    let projects = http
        .get(format!("{base}/"))
        .header("Cookie", &pair)
        .send()
        .expect("GET /");
    assert_eq!(projects.status().as_u16(), 200);
    let csp = projects.headers()["content-security-policy"]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert!(
        csp.contains("default-src 'self'") && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
    assert_eq!(projects.headers()["x-content-type-options"], "nosniff");
    assert!(projects.text().expect("body").contains("demo"));

    let tampered = pair.replacen(".1.", ".2.", 1);
    let refused = http
        .get(format!("{base}/"))
        .header("Cookie", &tampered)
        .send()
        .expect("GET /");
    assert_eq!(
        refused.status().as_u16(),
        303,
        "a tampered cookie is not a session"
    );

    let forged = http
        .post(format!("{base}/console/projects/demo/start"))
        .header("Cookie", &pair)
        .header("Origin", "http://evil.example")
        .form(&[("csrf", "x")])
        .send()
        .expect("POST");
    assert_eq!(
        forged.status().as_u16(),
        403,
        "a POST from another origin is refused"
    );
}

/// A GET signed with SigV4 (service `codebuild`) for `key`/`secret`, as `kiln logs` and `kiln events` send it.
fn signed_get(
    http: &reqwest::blocking::Client,
    base: &str,
    path: &str,
    key: &str,
    secret: &str,
) -> reqwest::blocking::Response {
    use kiln_core::sigv4::{AmzDate, Credentials, HttpRequest, SigningParams, sign};
    let host = base.trim_start_matches("http://");
    let (path_only, query) = path.split_once('?').unwrap_or((path, ""));
    let headers = [("host", host)];
    let credentials = Credentials::new(key, secret);
    let request = HttpRequest {
        method: "GET",
        path: path_only,
        query,
        headers: &headers,
        body: b"",
    };
    let params = SigningParams {
        credentials: &credentials,
        region: "local",
        service: "codebuild",
        time: AmzDate::from_system_time(std::time::SystemTime::now()).expect("test setup"),
    };
    let mut builder = http.get(format!("{base}{path}"));
    for (name, value) in sign(&request, &params).expect("test setup").pairs() {
        builder = builder.header(name, value);
    }
    builder.send().expect("GET")
}

fn csrf_of(html: &str) -> String {
    let at = html
        .find("name=\"csrf\" value=\"")
        .expect("a form with a CSRF token")
        + 19;
    html[at..].split('"').next().expect("test setup").to_owned()
}

#[test]
fn with_credentials_logs_and_events_need_a_session_or_a_signature_and_logout_ends_the_session() {
    let repo = GitRepo::with_buildspec("version: 0.2\nphases:\n  build:\n    commands:\n      - echo hi\n");
    let (key, secret) = ("AKIDCONSOLE", "console-secret-key");
    let kiln = TestKiln::spawn_with(
        &config(&repo),
        &["--access-key-id", key, "--secret-access-key", secret],
    );
    let http = client();
    let base = &kiln.endpoint;
    let login = http
        .post(format!("{base}/console/login"))
        .header("Origin", base.as_str())
        .form(&[
            ("access_key_id", key),
            ("secret_access_key", secret),
            ("next", "/"),
        ])
        .send()
        .expect("login");
    let cookie = login.headers()["set-cookie"].to_str().unwrap().to_owned();
    let pair = cookie.split(';').next().unwrap().to_owned();
    let home = http
        .get(format!("{base}/"))
        .header("Cookie", &pair)
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(home.contains("action=\"/console/logout\""), "a logout button");
    let csrf = csrf_of(&home);
    let started = http
        .post(format!("{base}/console/projects/demo/start"))
        .header("Cookie", &pair)
        .header("Origin", base.as_str())
        .form(&[("csrf", csrf.as_str())])
        .send()
        .unwrap();
    let location = started.headers()["location"].to_str().unwrap().to_owned();
    let id = location
        .trim_start_matches("/console/builds/")
        .replace("%3A", ":");

    let paths = [
        format!("/builds/{id}/logs?offset=0"),
        format!("/builds/{id}/logs/stream"),
        "/events?after=0".to_owned(),
    ];
    for path in &paths {
        let anonymous = http.get(format!("{base}{path}")).send().unwrap();
        assert_eq!(anonymous.status().as_u16(), 403, "{path} without credentials");
        let body: serde_json::Value = anonymous.json().unwrap();
        assert_eq!(body["__type"], "AccessDeniedException", "{path}");
        let with_cookie = http
            .get(format!("{base}{path}"))
            .header("Cookie", &pair)
            .send()
            .unwrap();
        assert_eq!(with_cookie.status().as_u16(), 200, "{path} with the session");
        let signed = signed_get(&http, base, path, key, secret);
        assert_eq!(signed.status().as_u16(), 200, "{path} signed");
        let wrongly = signed_get(&http, base, path, key, "not-the-secret");
        assert_eq!(
            wrongly.status().as_u16(),
            403,
            "{path} signed with another secret"
        );
    }

    let forged = http
        .post(format!("{base}/console/logout"))
        .header("Cookie", &pair)
        .header("Origin", base.as_str())
        .form(&[("csrf", "guess")])
        .send()
        .unwrap();
    assert_eq!(forged.status().as_u16(), 403, "logout needs the CSRF token");
    let cross = http
        .post(format!("{base}/console/logout"))
        .header("Cookie", &pair)
        .header("Origin", "http://evil.example")
        .form(&[("csrf", csrf.as_str())])
        .send()
        .unwrap();
    assert_eq!(
        cross.status().as_u16(),
        403,
        "logout from another site is refused"
    );
    let out = http
        .post(format!("{base}/console/logout"))
        .header("Cookie", &pair)
        .header("Origin", base.as_str())
        .form(&[("csrf", csrf.as_str())])
        .send()
        .unwrap();
    assert_eq!(out.status().as_u16(), 303);
    assert_eq!(out.headers()["location"], "/console/login");
    let cleared = out.headers()["set-cookie"].to_str().unwrap();
    assert!(
        cleared.starts_with("kiln_console=;")
            && cleared.contains("Max-Age=0")
            && cleared.contains("HttpOnly"),
        "{cleared}"
    );
    for path in &paths {
        let copied = http
            .get(format!("{base}{path}"))
            .header("Cookie", &pair)
            .send()
            .unwrap();
        assert_eq!(
            copied.status().as_u16(),
            403,
            "{path} with the cookie of a logged-out session"
        );
    }
}

#[test]
fn the_login_returns_only_to_pages_of_this_console_and_no_next_is_a_server_error() {
    use std::io::{Read, Write};
    let repo = GitRepo::with_buildspec("version: 0.2\nphases:\n  build:\n    commands:\n      - echo hi\n");
    let (key, secret) = ("AKIDCONSOLE", "console-secret-key");
    let kiln = TestKiln::spawn_with(
        &config(&repo),
        &["--access-key-id", key, "--secret-access-key", secret],
    );
    let http = client();
    let base = &kiln.endpoint;
    let cases = [
        ("/console/events", "/console/events"),
        ("//evil.example", "/"),
        ("/\\evil.example", "/"),
        ("\\\\evil.example", "/"),
        ("/\t/evil.example", "/"),
        ("/\r\n/evil.example", "/"),
        ("https://evil.example/", "/"),
        ("javascript:alert(1)", "/"),
        ("/%2F%2Fevil.example", "/"),
        ("/console/../builds/x/logs", "/"),
        (
            "/console/projects/\u{0}\u{7f}\u{202e}",
            "/console/projects/%00%7F%E2%80%AE",
        ),
    ];
    for (next, expected) in cases {
        let login = http
            .post(format!("{base}/console/login"))
            .header("Origin", base.as_str())
            .form(&[
                ("access_key_id", key),
                ("secret_access_key", secret),
                ("next", next),
            ])
            .send()
            .expect("login");
        assert_eq!(login.status().as_u16(), 303, "{next:?}");
        assert_eq!(login.headers()["location"], expected, "{next:?}");
        let page = http
            .get(format!("{base}/console/login"))
            .query(&[("next", next)])
            .send()
            .expect("login page");
        assert_eq!(page.status().as_u16(), 200, "{next:?}");
        let html = page.text().expect("body");
        assert!(
            html.contains(&format!("name=\"next\" value=\"{expected}\"")),
            "{next:?} in {html}"
        );
    }
    // Bytes that are not UTF-8, raw and percent-encoded, through a socket (no client would send them).
    let address = base.trim_start_matches("http://");
    for body in [
        &b"access_key_id=AKIDCONSOLE&secret_access_key=console-secret-key&next=%FF%FE%2F%2Fevil"[..],
        &b"access_key_id=AKIDCONSOLE&secret_access_key=console-secret-key&next=/console/\xff\xfe"[..],
        &b"next=\xc0\xaf\xc0\xafevil&access_key_id=x"[..],
    ] {
        let mut stream = std::net::TcpStream::connect(address).expect("connect");
        let head = format!(
            "POST /console/login HTTP/1.1\r\nHost: {address}\r\nOrigin: {base}\r\n\
Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        stream.write_all(head.as_bytes()).expect("write");
        stream.write_all(body).expect("write");
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).expect("read");
        let answer = String::from_utf8_lossy(&answer);
        assert!(answer.starts_with("HTTP/1.1 303"), "{answer}");
        assert!(!answer.contains("evil"), "{answer}");
    }
    let raw = http
        .get(format!("{base}/console/login?next=%FF%2F%2Fevil&failed=%FF"))
        .send()
        .expect("login page");
    assert_eq!(raw.status().as_u16(), 200);
}

/// Logs in as `user_agent`; the `name=value` pair of the session cookie.
fn log_in(http: &reqwest::blocking::Client, base: &str, user_agent: &str) -> String {
    let login = http
        .post(format!("{base}/console/login"))
        .header("Origin", base)
        .header("User-Agent", user_agent)
        .form(&[
            ("access_key_id", "AKIDCONSOLE"),
            ("secret_access_key", "console-secret-key"),
            ("next", "/"),
        ])
        .send()
        .expect("login");
    let cookie = login.headers()["set-cookie"].to_str().expect("ascii").to_owned();
    cookie.split(';').next().expect("name=value").to_owned()
}

fn status_of(http: &reqwest::blocking::Client, url: &str, cookie: &str) -> u16 {
    http.get(url)
        .header("Cookie", cookie)
        .send()
        .expect("GET")
        .status()
        .as_u16()
}

#[test]
fn sessions_are_listed_revocable_and_a_copied_cookie_stops_working_after_logout() {
    let repo = GitRepo::with_buildspec("version: 0.2\nphases:\n  build:\n    commands:\n      - echo hi\n");
    let kiln = TestKiln::spawn_with(
        &config(&repo),
        &[
            "--access-key-id",
            "AKIDCONSOLE",
            "--secret-access-key",
            "console-secret-key",
        ],
    );
    let http = client();
    let base = &kiln.endpoint;
    let laptop = log_in(&http, base, "Laptop Browser/1.0");
    let phone = log_in(&http, base, "Phone <Browser>/2.0");

    let page = http
        .get(format!("{base}/console/sessions"))
        .header("Cookie", &laptop)
        .send()
        .expect("sessions page");
    assert_eq!(page.status().as_u16(), 200);
    let html = page.text().expect("body");
    assert!(
        html.contains("Laptop Browser/1.0") && html.contains("Phone &lt;Browser&gt;/2.0"),
        "{html}"
    );
    assert_eq!(html.matches("(this one)").count(), 1);
    let id_of = |cookie: &str| {
        cookie
            .split('=')
            .nth(1)
            .and_then(|v| v.split('.').next())
            .map(str::to_owned)
    };
    for cookie in [&laptop, &phone] {
        let id = id_of(cookie).expect("an id in the cookie");
        assert!(!html.contains(&id), "a session's id is never shown");
    }
    // The phone's row: its handle is in the revoke form of the row that names the phone.
    let row = html
        .split("<tr>")
        .find(|row| row.contains("Phone &lt;Browser&gt;"))
        .expect("the phone's row");
    let handle = row
        .split("name=\"session\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a handle");
    let csrf = csrf_of(&html);
    let revoked = http
        .post(format!("{base}/console/sessions/revoke"))
        .header("Cookie", &laptop)
        .header("Origin", base.as_str())
        .form(&[("csrf", csrf.as_str()), ("session", handle)])
        .send()
        .expect("revoke");
    assert_eq!(revoked.status().as_u16(), 303);
    assert_eq!(revoked.headers()["location"], "/console/sessions");
    assert_eq!(
        status_of(&http, &format!("{base}/"), &phone),
        303,
        "a revoked session must log in again"
    );
    assert_eq!(status_of(&http, &format!("{base}/events?after=0"), &phone), 403);
    assert_eq!(status_of(&http, &format!("{base}/"), &laptop), 200);

    let out = http
        .post(format!("{base}/console/logout"))
        .header("Cookie", &laptop)
        .header("Origin", base.as_str())
        .form(&[("csrf", csrf.as_str())])
        .send()
        .expect("logout");
    assert_eq!(out.status().as_u16(), 303);
    assert_eq!(
        status_of(&http, &format!("{base}/"), &laptop),
        303,
        "a copy of the cookie kept after logging out is no session"
    );
    assert_eq!(status_of(&http, &format!("{base}/events?after=0"), &laptop), 403);
}

#[test]
fn a_session_unused_for_its_idle_period_ends() {
    let repo = GitRepo::with_buildspec("version: 0.2\nphases:\n  build:\n    commands:\n      - echo hi\n");
    let clock = tempfile::NamedTempFile::new().expect("clock file");
    std::fs::write(clock.path(), "0").expect("clock");
    let clock_path = clock.path().display().to_string();
    let kiln = TestKiln::spawn_with(
        &config(&repo),
        &[
            "--access-key-id",
            "AKIDCONSOLE",
            "--secret-access-key",
            "console-secret-key",
            "--session-idle-minutes",
            "10",
            "--test-clock-file",
            &clock_path,
        ],
    );
    let http = client();
    let base = &kiln.endpoint;
    let cookie = log_in(&http, base, "Browser");
    let home = format!("{base}/");
    for (offset, expected, why) in [
        ("300", 200, "used after 5 idle minutes"),
        ("840", 200, "used 9 minutes after its last use"),
        ("1500", 303, "unused for 11 minutes"),
        ("1510", 303, "an idle session stays ended"),
    ] {
        std::fs::write(clock.path(), offset).expect("clock");
        assert_eq!(status_of(&http, &home, &cookie), expected, "{why}");
    }
}
