//! Benchmarks for the executor: (1) 1,000 trivial commands in one phase vs the same commands in one `bash -c`,
//! with the fixed start-up cost of a build (an empty build) reported apart from the per-command cost; (2) 1 GiB
//! of output (lines of 100 bytes) through the log pipeline, masking on, into a file sink on `/dev/null`, vs the
//! same generator piped into `cat >/dev/null`, with the peak RSS of a child process that runs only that build.
//! Each figure is the median of three runs. Usage: `cargo run --release -p kiln-bench --bin executor`.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use kiln_bench::{median, print_row, timed};
use kiln_core::build::StatusType;
use kiln_executor::source::SourceSpec;
use kiln_executor::{BuildRequest, BuildspecSource, CancellationToken, Ports};
use kiln_local::{FileLogSink, LocalSecrets};

const RUNS: usize = 3;
const COMMANDS: usize = 1000;
const OUTPUT_BYTES_DEFAULT: u64 = 1 << 30;
const CHILD_FLAG: &str = "--output-child";

/// Output size: 1 GiB, or `KILN_BENCH_OUTPUT_MIB` MiB for a quick check.
fn output_bytes() -> u64 {
    std::env::var("KILN_BENCH_OUTPUT_MIB")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .map_or(OUTPUT_BYTES_DEFAULT, |mib| mib << 20)
}

/// The generator: 100-byte lines (99 characters and a newline), [`output_bytes`] in all.
fn generator() -> String {
    format!("yes '{}' | head -c {}", "k".repeat(99), output_bytes())
}

fn main() -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    if std::env::args().any(|a| a == CHILD_FLAG) {
        return runtime.block_on(output_child());
    }
    runtime.block_on(commands())?;
    output()
}

async fn build(dir: &Path, yaml: String, log: &Path, secrets: &[&str]) -> anyhow::Result<()> {
    let src = dir.join("src");
    std::fs::create_dir_all(&src)?;
    let mut request = BuildRequest::local(SourceSpec::Dir(src), dir.join("work"));
    request.buildspec = BuildspecSource::Inline(yaml);
    let mut local = LocalSecrets::new();
    for (i, secret) in secrets.iter().enumerate() {
        local.insert(&format!("/bench/{i}"), secret);
    }
    let ports = Ports {
        source: kiln_executor::source::SourceFetcher::default(),
        log: Arc::new(FileLogSink::create(log)?),
        secrets: Arc::new(local),
        terminal: None,
        artifacts: None,
        cache: None,
    };
    let result = kiln_executor::run(request, ports, None, CancellationToken::new()).await;
    if result.build_status != StatusType::Succeeded {
        bail!("benchmark build ended {}", result.build_status);
    }
    Ok(())
}

fn buildspec(commands: &[String], secrets: usize) -> String {
    let mut yaml = String::from("version: 0.2\nenv:\n  parameter-store:\n");
    for i in 0..secrets {
        yaml.push_str(&format!("    SECRET_{i}: /bench/{i}\n"));
    }
    if secrets == 0 {
        yaml = String::from("version: 0.2\n");
    }
    yaml.push_str("phases:\n  build:\n    commands:\n");
    for command in commands {
        yaml.push_str(&format!(
            "      - \"{}\"\n",
            command.replace('\\', "\\\\").replace('"', "\\\"")
        ));
    }
    yaml
}

async fn timed_build(yaml: &str, secrets: &[&str]) -> anyhow::Result<Duration> {
    let dir = tempfile::tempdir()?;
    let log = dir.path().join("build.log");
    let start = std::time::Instant::now();
    build(dir.path(), yaml.to_owned(), &log, secrets).await?;
    Ok(start.elapsed())
}

async fn commands() -> anyhow::Result<()> {
    println!("== {COMMANDS} trivial commands in one phase (median of {RUNS})");
    let many = buildspec(&vec!["/bin/true".to_owned(); COMMANDS], 0);
    let one = buildspec(&["/bin/true".to_owned()], 0);
    let script = vec!["/bin/true"; COMMANDS].join("\n");
    let (mut kiln, mut empty, mut bash) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..RUNS {
        kiln.push(timed_build(&many, &[]).await?);
        empty.push(timed_build(&one, &[]).await?);
        let (took, status) = timed(|| Command::new("bash").arg("-c").arg(&script).status());
        if !status.context("bash")?.success() {
            bail!("bash -c of {COMMANDS} commands failed");
        }
        bash.push(took);
    }
    let (kiln, empty, bash) = (median(kiln), median(empty), median(bash));
    print_row(
        "1,000 commands, whole build (s)",
        kiln.as_secs_f64(),
        bash.as_secs_f64(),
        "s",
    );
    let per_command = (kiln.saturating_sub(empty)).as_secs_f64() / (COMMANDS - 1) as f64 * 1e6;
    let bash_per_command = bash.as_secs_f64() / COMMANDS as f64 * 1e6;
    print_row("per command (µs)", per_command, bash_per_command, "us");
    println!(
        "fixed start-up cost of a one-command build: {:.1} ms",
        empty.as_secs_f64() * 1e3
    );
    Ok(())
}

fn output() -> anyhow::Result<()> {
    println!("== 1 GiB of output in 100-byte lines, masking on (median of {RUNS})");
    let (mut kiln, mut pipe, mut rss) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..RUNS {
        let exe = std::env::current_exe()?;
        let (took, out) = timed(|| Command::new(&exe).arg(CHILD_FLAG).output());
        let out = out?;
        if !out.status.success() {
            bail!("output child failed: {}", String::from_utf8_lossy(&out.stderr));
        }
        let text = String::from_utf8_lossy(&out.stdout);
        let peak = text
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM_kB ")?.trim().parse::<u64>().ok());
        rss.push(peak.context("child did not report its peak RSS")?);
        kiln.push(took);
        let (took, status) = timed(|| {
            Command::new("sh")
                .arg("-c")
                .arg(format!("{} | cat >/dev/null", generator()))
                .status()
        });
        if !status?.success() {
            bail!("baseline pipe failed");
        }
        pipe.push(took);
    }
    let mib = output_bytes() as f64 / (1u64 << 20) as f64;
    let (kiln, pipe) = (median(kiln).as_secs_f64(), median(pipe).as_secs_f64());
    print_row(
        "throughput (MiB/s), higher is better",
        mib / kiln,
        mib / pipe,
        "MiB/s",
    );
    rss.sort_unstable();
    println!(
        "peak RSS of the build process: {:.1} MiB (max of runs; goal <= 64 MiB)",
        rss[rss.len() - 1] as f64 / 1024.0
    );
    Ok(())
}

async fn output_child() -> anyhow::Result<()> {
    let secrets = ["kiln-bench-secret-one", "another-bench-secret-value-2"];
    let yaml = buildspec(&[generator()], secrets.len());
    let dir = tempfile::tempdir()?;
    build(dir.path(), yaml, Path::new("/dev/null"), &secrets).await?;
    let status = std::fs::read_to_string("/proc/self/status")?;
    let peak = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .unwrap_or("0 kB");
    println!("VmHWM_kB {}", peak.trim().trim_end_matches("kB").trim());
    Ok(())
}
