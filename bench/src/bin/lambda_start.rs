//! Start-to-ready time of Lambda function binaries: each run execs the binary with `AWS_LAMBDA_RUNTIME_API`
//! pointing at a loopback HTTP server this program runs, and measures from just before `exec` to the moment the
//! function's first `GET /2018-06-01/runtime/invocation/next` arrives (the function has read its settings, built
//! its clients and is ready for an event). The baseline is exec-to-exit of `/bin/true`. Median of 20 runs.
//!
//! ```text
//! cargo build --release -p kiln-fn-webhook -p kiln-fn-api -p kiln-fn-schedule
//! cargo run -p kiln-bench --bin lambda_start -- target/release/webhook target/release/api target/release/schedule
//! ```

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use kiln_bench::{median, print_row};

const RUNS: usize = 20;
const NEXT: &str = "GET /2018-06-01/runtime/invocation/next";

/// The environment Lambda and the template give a function (dummy values: nothing is called before ready).
const ENV: &[(&str, &str)] = &[
    ("AWS_LAMBDA_FUNCTION_NAME", "kiln-bench"),
    ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512"),
    ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
    ("AWS_LAMBDA_LOG_STREAM_NAME", "bench"),
    ("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/kiln-bench"),
    ("AWS_REGION", "us-east-1"),
    ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
    (
        "AWS_SECRET_ACCESS_KEY",
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    ),
    ("AWS_SESSION_TOKEN", "bench"),
    ("KILN_TABLE", "kiln-builds"),
    (
        "KILN_DISPATCH_QUEUE_URL",
        "https://sqs.us-east-1.amazonaws.com/123456789012/kiln-dispatch",
    ),
    ("KILN_LOGS_BUCKET", "kiln-logs"),
    (
        "KILN_WEBHOOK_URL",
        "https://abcdefgh.lambda-url.us-east-1.on.aws/",
    ),
];

/// Execs `binary` against a fresh loopback runtime API and returns the time to its first `next` request.
fn start_to_ready(binary: &str) -> anyhow::Result<Duration> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        if let Ok((stream, _)) = listener.accept() {
            let mut reader = BufReader::new(stream);
            let mut line = String::new();
            if reader.read_line(&mut line).is_ok() {
                let _ = tx.send((Instant::now(), line));
            }
            // Leave the request unanswered: the measurement ends here and the child is killed.
            let _ = reader.get_mut().flush();
        }
    });
    let started = Instant::now();
    let mut child = Command::new(binary)
        .envs(ENV.iter().copied())
        .env("AWS_LAMBDA_RUNTIME_API", addr.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    let received = rx.recv_timeout(Duration::from_secs(10));
    let _ = child.kill();
    let _ = child.wait();
    let (at, line) =
        received.map_err(|_| anyhow::anyhow!("{binary} never asked for an event within 10 s"))?;
    anyhow::ensure!(
        line.starts_with(NEXT),
        "{binary}'s first request was {line:?}, not {NEXT}"
    );
    Ok(at - started)
}

fn exec_true() -> anyhow::Result<Duration> {
    let started = Instant::now();
    let status = Command::new("/bin/true").status()?;
    anyhow::ensure!(status.success(), "/bin/true failed");
    Ok(started.elapsed())
}

fn main() -> anyhow::Result<()> {
    let binaries: Vec<String> = std::env::args().skip(1).collect();
    anyhow::ensure!(
        !binaries.is_empty(),
        "usage: lambda_start <function binary>... (build them with cargo build --release first)"
    );
    let baseline = median((0..RUNS).map(|_| exec_true()).collect::<anyhow::Result<_>>()?);
    for binary in &binaries {
        let _warm_page_cache = start_to_ready(binary)?;
        let ready = median(
            (0..RUNS)
                .map(|_| start_to_ready(binary))
                .collect::<anyhow::Result<_>>()?,
        );
        let size = std::fs::metadata(binary)?.len();
        print_row(
            &format!("start to ready, median of {RUNS}: {binary}"),
            ready.as_secs_f64() * 1e3,
            baseline.as_secs_f64() * 1e3,
            "ms",
        );
        println!(
            "{:<48} {:.1} MB",
            format!("binary size: {binary}"),
            size as f64 / 1e6
        );
    }
    Ok(())
}
