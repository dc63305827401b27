//! `kiln serve` against slow and greedy clients over real TCP on loopback: connections that send half a request
//! line, never finish their headers, stall in their body or sit idle are closed within their timeouts while other
//! clients are answered at once; past the connection cap a client is answered 503 with `Retry-After`.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use kiln_tests::kiln::TestKiln;

const CONFIG: &str = "projects: []\n";

fn address(kiln: &TestKiln) -> String {
    kiln.endpoint.trim_start_matches("http://").to_owned()
}

fn connect(kiln: &TestKiln) -> TcpStream {
    let stream = TcpStream::connect(address(kiln)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(15)))
        .expect("timeout");
    stream
}

/// Reads until the server closes the connection; returns what it sent and how long that took from `since`.
fn until_closed(stream: &mut TcpStream, since: Instant) -> (String, Duration) {
    let mut seen = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        match stream.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => seen.extend_from_slice(&chunk[..n]),
            Err(err) if err.kind() == ErrorKind::ConnectionReset => break,
            Err(err) => panic!(
                "the server did not close the connection: {err} after {:?}",
                since.elapsed()
            ),
        }
    }
    (String::from_utf8_lossy(&seen).into_owned(), since.elapsed())
}

/// One `GET /healthz` on a new connection; its status line and how long it took.
fn health(kiln: &TestKiln) -> (String, Duration) {
    let started = Instant::now();
    let mut stream = connect(kiln);
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: kiln\r\nConnection: close\r\n\r\n")
        .expect("write");
    let (answer, _) = until_closed(&mut stream, started);
    let status = answer.lines().next().unwrap_or_default().to_owned();
    (status, started.elapsed())
}

#[test]
fn half_sent_requests_are_closed_within_their_timeouts_while_other_clients_are_served() {
    let kiln = TestKiln::spawn_with(
        CONFIG,
        &[
            "--header-timeout",
            "1",
            "--body-timeout",
            "2",
            "--idle-timeout",
            "3",
        ],
    );
    let opened = Instant::now();
    let mut silent = connect(&kiln);
    let mut half_line = connect(&kiln);
    half_line.write_all(b"GET /heal").expect("write");
    let mut no_blank_line = connect(&kiln);
    no_blank_line
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: kiln\r\nX-Slow: 1\r\n")
        .expect("write");
    let mut stalled_body = connect(&kiln);
    stalled_body
        .write_all(
            b"POST / HTTP/1.1\r\nHost: kiln\r\nX-Amz-Target: CodeBuild_20161006.ListProjects\r\n\
Content-Type: application/x-amz-json-1.1\r\nContent-Length: 100\r\n\r\n{\"sortBy\":",
        )
        .expect("write");

    // Meanwhile everyone else is answered at once.
    while opened.elapsed() < Duration::from_millis(800) {
        let (status, took) = health(&kiln);
        assert_eq!(status, "HTTP/1.1 200 OK");
        assert!(
            took < Duration::from_millis(500),
            "a healthy request took {took:?}"
        );
    }

    for (name, stream) in [
        ("a connection that sends nothing", &mut silent),
        ("half a request line", &mut half_line),
        ("headers never finished", &mut no_blank_line),
    ] {
        let (_, took) = until_closed(stream, opened);
        assert!(
            took >= Duration::from_millis(900) && took < Duration::from_secs(4),
            "{name}: closed after {took:?}, the header timeout is 1 s"
        );
    }
    let (answer, took) = until_closed(&mut stalled_body, opened);
    assert!(
        took >= Duration::from_millis(1900) && took < Duration::from_secs(5),
        "a stalled body: closed after {took:?}, the body timeout is 2 s"
    );
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 4"),
        "a stalled body is a client's error, if answered at all: {answer}"
    );
    let (status, took) = health(&kiln);
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert!(took < Duration::from_millis(500), "{took:?}");
}

#[test]
fn a_keep_alive_connection_waits_the_idle_timeout_then_is_closed() {
    let kiln = TestKiln::spawn_with(CONFIG, &["--header-timeout", "1", "--idle-timeout", "3"]);
    let mut stream = connect(&kiln);
    let request = b"GET /healthz HTTP/1.1\r\nHost: kiln\r\n\r\n";
    let mut answer = [0u8; 512];
    stream.write_all(request).expect("write");
    let n = stream.read(&mut answer).expect("first answer");
    assert!(answer[..n].starts_with(b"HTTP/1.1 200"));
    // Longer than the header timeout: an idle connection is not in a request head.
    std::thread::sleep(Duration::from_millis(1800));
    stream.write_all(request).expect("write");
    let n = stream.read(&mut answer).expect("second answer");
    assert!(
        answer[..n].starts_with(b"HTTP/1.1 200"),
        "an idle connection is kept past the header timeout"
    );
    let idle = Instant::now();
    let (_, took) = until_closed(&mut stream, idle);
    assert!(
        took >= Duration::from_millis(2900) && took < Duration::from_secs(6),
        "closed after {took:?} idle, the idle timeout is 3 s"
    );
}

#[test]
fn past_the_connection_cap_a_client_is_answered_503_with_retry_after() {
    let kiln = TestKiln::spawn_with(CONFIG, &["--max-connections", "2", "--header-timeout", "30"]);
    // Let the harness's own start-up connections close before counting.
    std::thread::sleep(Duration::from_millis(200));
    let first = connect(&kiln);
    let second = connect(&kiln);
    std::thread::sleep(Duration::from_millis(200));
    let started = Instant::now();
    let mut third = connect(&kiln);
    third
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: kiln\r\n\r\n")
        .expect("write");
    let (answer, took) = until_closed(&mut third, started);
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.to_ascii_lowercase().contains("retry-after: 1"), "{answer}");
    assert!(
        took < Duration::from_secs(2),
        "answered at once, not held: {took:?}"
    );

    drop((first, second));
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let (status, _) = health(&kiln);
        if status == "HTTP/1.1 200 OK" {
            break;
        }
        assert!(Instant::now() < deadline, "capacity came back: {status}");
        std::thread::sleep(Duration::from_millis(50));
    }
}
