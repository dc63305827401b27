//! `cargo run -p kiln-bench --bin serve`: the orchestrator's figures, each beside a baseline from the same run.
//!
//! 1. Signed webhook accepted → first buildspec command running, p50/p99 over `KILN_BENCH_DELIVERIES` (200)
//!    sequential deliveries; baseline: fork+exec of the same command from this process.
//! 2. Intake: 64 connections posting signed, distinct deliveries to a paused server for `KILN_BENCH_SECONDS`
//!    (5); checks every 2xx has exactly one build; baseline: the same load on `GET /healthz`.
//! 3. `KILN_BENCH_QUEUE` (10000) builds queued behind a limit of 4: the highest concurrency seen, the server's
//!    RSS at the start and the end, and the time until all finished.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use kiln_bench::print_row;
use kiln_tests::kiln::{GitRepo, TestKiln};
use serde_json::{Value, json};

const SECRET: &str = "bench-secret";

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn now_nanos() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default()
}

fn config(repo: &GitRepo, limit: Option<usize>) -> String {
    let limit = limit
        .map(|l| format!("    concurrentBuildLimit: {l}\n"))
        .unwrap_or_default();
    format!(
        "allowInlineSecrets: true\nprojects:\n  - name: bench\n    source:\n      type: GIT\n      location: {}\n    \
         artifacts:\n      type: NO_ARTIFACTS\n    webhook:\n      secret:\n        value: {SECRET}\n      \
         filterGroups: [[{{type: EVENT, pattern: PUSH}}]]\n{limit}",
        repo.url()
    )
}

fn push(repo: &GitRepo) -> Vec<u8> {
    json!({"ref": "refs/heads/main", "before": "0000000000000000000000000000000000000000", "after": repo.head,
           "repository": {"id": 1, "name": "bench", "full_name": "o/bench", "clone_url": repo.url(), "owner": {"login": "o", "id": 1}},
           "sender": {"login": "o", "id": 1}, "pusher": {"name": "o"},
           "head_commit": {"id": repo.head, "message": "bench", "added": [], "removed": [], "modified": []}, "commits": []})
    .to_string()
    .into_bytes()
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(index).copied().unwrap_or(f64::NAN)
}

fn latency(deliveries: usize) -> anyhow::Result<()> {
    let marks = tempfile::tempdir()?;
    let mark = marks.path().join("mark");
    let repo = GitRepo::with_buildspec(&format!(
        "version: 0.2\nphases:\n  build:\n    commands:\n      - date +%s%N > {}.$CODEBUILD_BUILD_NUMBER\n",
        mark.display()
    ));
    let kiln = TestKiln::spawn(&config(&repo, None));
    let body = push(&repo);
    let mut kiln_ms = Vec::new();
    let mut stages = Stages::default();
    for n in 1..=deliveries {
        let sent = now_nanos();
        let (status, out) = kiln.post_webhook("bench", "push", &format!("lat-{n}"), &body, SECRET);
        if status != 202 {
            bail!("delivery {n} got {status}: {out}");
        }
        let file = marks.path().join(format!("mark.{n}"));
        let deadline = Instant::now() + Duration::from_secs(30);
        let ran: u128 = loop {
            if let Some(v) = std::fs::read_to_string(&file)
                .ok()
                .and_then(|t| t.trim().parse().ok())
            {
                break v;
            }
            if Instant::now() > deadline {
                bail!("build {n} never ran its command");
            }
            std::thread::sleep(Duration::from_micros(500));
        };
        kiln_ms.push((ran.saturating_sub(sent)) as f64 / 1e6);
        let build = kiln.wait_for(out["buildIds"][0].as_str().unwrap_or_default(), "TERMINAL");
        stages.add(&build, sent, ran);
    }
    stages.print();
    let mut base_ms = Vec::new();
    for _ in 0..deliveries {
        let sent = now_nanos();
        let out = std::process::Command::new("sh")
            .args(["-c", "date +%s%N"])
            .output()?;
        let ran: u128 = String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .unwrap_or_default();
        base_ms.push((ran.saturating_sub(sent)) as f64 / 1e6);
    }
    kiln_ms.sort_by(f64::total_cmp);
    base_ms.sort_by(f64::total_cmp);
    print_row(
        "webhook -> first command running, p50",
        percentile(&kiln_ms, 0.5),
        percentile(&base_ms, 0.5),
        "ms",
    );
    print_row(
        "webhook -> first command running, p99",
        percentile(&kiln_ms, 0.99),
        percentile(&base_ms, 0.99),
        "ms",
    );
    Ok(())
}

/// Where the webhook → first command time goes, from the build record's phase times (millisecond precision):
/// accepted (the record's start), dispatched (QUEUED ends), runner up (PROVISIONING ends), source and shell
/// ready (DOWNLOAD_SOURCE ends), first command running.
#[derive(Default)]
struct Stages {
    samples: [Vec<f64>; 5],
}

const STAGES: [&str; 5] = [
    "  delivery sent -> build accepted",
    "  accepted -> dispatched (QUEUED ends)",
    "  dispatched -> runner up (PROVISIONING ends)",
    "  runner up -> source + shell (DOWNLOAD_SOURCE)",
    "  source -> first command running",
];

impl Stages {
    fn add(&mut self, build: &Value, sent_ns: u128, ran_ns: u128) {
        let phase_end = |name: &str| {
            build["phases"]
                .as_array()
                .and_then(|phases| phases.iter().find(|p| p["phaseType"] == name))
                .and_then(|p| p["endTime"].as_f64())
        };
        let marks = [
            Some(sent_ns as f64 / 1e9),
            build["startTime"].as_f64(),
            phase_end("QUEUED"),
            phase_end("PROVISIONING"),
            phase_end("DOWNLOAD_SOURCE"),
            Some(ran_ns as f64 / 1e9),
        ];
        if let Some(marks) = marks.iter().copied().collect::<Option<Vec<f64>>>() {
            for (n, pair) in marks.windows(2).enumerate() {
                self.samples[n].push(((pair[1] - pair[0]) * 1e3).max(0.0));
            }
        }
    }

    fn print(&mut self) {
        println!("where the time goes (p50 of each stage, ms; record times are whole milliseconds):");
        for (name, samples) in STAGES.iter().zip(self.samples.iter_mut()) {
            samples.sort_by(f64::total_cmp);
            println!("{name:<48} {:>8.1} ms", percentile(samples, 0.5));
        }
    }
}

/// Posts from 64 threads for `seconds`; returns (2xx count, elapsed, ids).
fn load(url: &str, seconds: u64, body: Option<&[u8]>) -> (usize, Duration, Vec<String>) {
    let stop = Arc::new(AtomicBool::new(false));
    let counter = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let handles: Vec<_> = (0..64)
        .map(|t| {
            let (stop, counter, url) = (stop.clone(), counter.clone(), url.to_owned());
            let body = body.map(<[u8]>::to_vec);
            std::thread::spawn(move || {
                let client = reqwest::blocking::Client::new();
                let mut ids = Vec::new();
                let mut n = 0;
                while !stop.load(Ordering::Relaxed) {
                    n += 1;
                    let ok = match &body {
                        Some(body) => {
                            let signature = kiln_core::trigger::sign_hex(
                                &kiln_core::trigger::WebhookSecret::new(SECRET),
                                body,
                            );
                            client
                                .post(&url)
                                .header("X-GitHub-Event", "push")
                                .header("X-GitHub-Delivery", format!("intake-{t}-{n}"))
                                .header("X-Hub-Signature-256", format!("sha256={signature}"))
                                .body(body.clone())
                                .send()
                                .ok()
                                .filter(|r| r.status().is_success())
                                .and_then(|r| r.json::<Value>().ok())
                                .map(|v| ids.push(v["buildIds"][0].as_str().unwrap_or_default().to_owned()))
                                .is_some()
                        }
                        None => client.get(&url).send().is_ok_and(|r| r.status().is_success()),
                    };
                    if ok {
                        counter.fetch_add(1, Ordering::Relaxed);
                    }
                }
                ids
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs(seconds));
    stop.store(true, Ordering::Relaxed);
    let ids = handles
        .into_iter()
        .flat_map(|h| h.join().unwrap_or_default())
        .collect();
    (counter.load(Ordering::Relaxed), start.elapsed(), ids)
}

fn intake(seconds: u64) -> anyhow::Result<()> {
    let repo = GitRepo::with_buildspec("version: 0.2\nphases:\n  build:\n    commands:\n      - 'true'\n");
    let kiln = TestKiln::spawn_with(&config(&repo, None), &["--paused"]);
    let body = push(&repo);
    let (ok, elapsed, ids) = load(&format!("{}/webhooks/bench", kiln.endpoint), seconds, Some(&body));
    let (base_ok, base_elapsed, _) = load(&format!("{}/healthz", kiln.endpoint), seconds, None);
    let mut listed = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut input = json!({"projectName": "bench"});
        if let Some(t) = &token {
            input["nextToken"] = json!(t);
        }
        let (_, page) = kiln.api("ListBuildsForProject", input);
        listed.extend(page["ids"].as_array().cloned().unwrap_or_default());
        match page["nextToken"].as_str() {
            Some(t) => token = Some(t.to_owned()),
            None => break,
        }
    }
    let unique: std::collections::HashSet<_> = ids.iter().collect();
    println!(
        "intake: {ok} deliveries accepted, {} builds stored, {} distinct ids",
        listed.len(),
        unique.len()
    );
    if listed.len() != ok || unique.len() != ok {
        bail!(
            "lost or duplicated deliveries: {ok} accepted, {} stored",
            listed.len()
        );
    }
    print_row(
        "signed deliveries/s, 64 connections (vs /healthz)",
        ok as f64 / elapsed.as_secs_f64(),
        base_ok as f64 / base_elapsed.as_secs_f64(),
        "req/s",
    );
    Ok(())
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn queue(count: usize) -> anyhow::Result<()> {
    let repo = GitRepo::with_buildspec("version: 0.2\nphases:\n  build:\n    commands:\n      - 'true'\n");
    let kiln = TestKiln::spawn_with(&config(&repo, Some(4)), &["--max-builds", "8"]);
    let pid = kiln.server_pid().context("server pid")?;
    let start = Instant::now();
    let mut ids = Vec::with_capacity(count);
    for _ in 0..count {
        ids.push(kiln.start_build("bench"));
    }
    let rss_start = rss_kib(pid);
    let mut most = 0;
    let mut most_lookalikes = 0;
    let mut rss_peak = rss_start;
    let mut quarters: Vec<u64> = Vec::new();
    let mut finished_before = 0;
    loop {
        // Runner processes are the server's children; a runner's own child between fork and exec carries the
        // runner's command line too, so it is counted apart.
        let lookalikes = kiln.runner_pids();
        let runners = lookalikes.iter().filter(|p| parent_of(**p) == Some(pid)).count();
        most = most.max(runners);
        most_lookalikes = most_lookalikes.max(lookalikes.len());
        let rss = rss_kib(pid);
        rss_peak = rss_peak.max(rss);
        // Builds finish in queue order, so the first unfinished chunk bounds the count.
        let mut finished = 0;
        for chunk in ids[finished_before..].chunks(100) {
            let (_, body) = kiln.api("BatchGetBuilds", json!({"ids": chunk}));
            let complete = body["builds"]
                .as_array()
                .map_or(0, |b| b.iter().filter(|b| b["buildComplete"] == true).count());
            finished += complete;
            if complete < chunk.len() {
                break;
            }
        }
        finished_before += finished - finished % 100;
        let done_count = finished_before + finished % 100;
        // The server's RSS each time another quarter of the builds has finished: flat means bounded.
        while quarters.len() < 4 && done_count * 4 >= count * (quarters.len() + 1) {
            quarters.push(rss);
        }
        if done_count >= count {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let elapsed = start.elapsed();
    let quarters: Vec<String> = quarters.iter().map(u64::to_string).collect();
    println!(
        "queue: {count} builds behind a limit of 4: at most {most} runners at once ({most_lookalikes} processes with a \
         runner's command line, counting runners' children not yet exec'd); server RSS {rss_start} KiB after queueing, \
         {} KiB with 25/50/75/100 % finished, peak {rss_peak} KiB; all finished in {:.1} s ({:.1} builds/s)",
        quarters.join("/"),
        elapsed.as_secs_f64(),
        count as f64 / elapsed.as_secs_f64()
    );
    if most > 4 {
        bail!("the limit of 4 was exceeded: {most}");
    }
    Ok(())
}

/// The parent pid of `pid`, from `/proc/<pid>/stat`.
fn parent_of(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit(')').next()?.split_whitespace().nth(1)?.parse().ok()
}

fn main() -> anyhow::Result<()> {
    if env_usize("KILN_BENCH_DELIVERIES", 200) > 0 {
        latency(env_usize("KILN_BENCH_DELIVERIES", 200))?;
    }
    if env_usize("KILN_BENCH_SECONDS", 5) > 0 {
        intake(env_usize("KILN_BENCH_SECONDS", 5) as u64)?;
    }
    queue(env_usize("KILN_BENCH_QUEUE", 10_000))?;
    Ok(())
}
