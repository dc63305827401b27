//! Benchmarks for build outputs: ZIP artifacts vs `zip -r -6`, and the cache (tar + zstd) vs
//! `tar -I zstd -cf` / `-xf`, on a generated tree of 10,000 files (~500 MB: 70 % source-like text, 30 % random
//! bytes, sizes 1–100 KB, fixed seed). Each figure is the median of three runs; a one-file run shows the fixed
//! start-up cost separately. Usage: `cargo run --release -p kiln-bench --bin outputs [-- FILES]`; environment:
//! `KILN_BENCH_ONLY=zip|cache` runs one part, `KILN_BENCH_ZIP_LEVEL` tries another deflate level,
//! `KILN_BENCH_UPLOAD=1` adds one `package_and_upload` run through the local object store.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, bail};
use kiln_bench::{median, print_row, timed};
use kiln_executor::artifacts::{self, ArtifactSpec, Packaging};
use kiln_executor::cache::{self, archive};
use kiln_local::object_store::DirObjectStore;

const RUNS: usize = 3;

/// A small xorshift generator: deterministic and dependency-free.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const WORDS: &[&str] = &[
    "fn", "let", "mut", "pub", "struct", "impl", "return", "match", "if", "else", "for", "in", "while",
    "self", "Self", "Option", "Result", "Vec", "String", "u64", "usize", "&str", "Some", "None", "Ok", "Err",
    "build", "phase", "artifact", "cache", "report", "project", "source", "status", "config", "value",
    "index", "count", "total", "path", "name", "key", "error", "context", "=>", "=", "==", "+", "(", ")",
    "{", "}", ";", ",", ".", "::", "->", "<", ">", "\"text\"", "0", "1", "42",
];

fn text_file(rng: &mut Rng, size: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(size + 128);
    while out.len() < size {
        let indent = rng.below(4) as usize * 4;
        out.extend(std::iter::repeat_n(b' ', indent));
        for _ in 0..(3 + rng.below(10)) {
            let word = WORDS[rng.below(WORDS.len() as u64) as usize];
            out.extend_from_slice(word.as_bytes());
            if rng.below(5) == 0 {
                out.extend_from_slice(format!("_{}", rng.below(1000)).as_bytes());
            }
            out.push(b' ');
        }
        out.push(b'\n');
    }
    out.truncate(size);
    out
}

fn random_file(rng: &mut Rng, size: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(size + 8);
    while out.len() < size {
        out.extend_from_slice(&rng.next().to_le_bytes());
    }
    out.truncate(size);
    out
}

/// Writes `files` files under `root`, returning the total size.
fn generate(root: &Path, files: usize) -> anyhow::Result<u64> {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut total = 0;
    for i in 0..files {
        let size = 1024 + rng.below(99 * 1024) as usize;
        let (content, ext) = if rng.below(10) < 7 {
            (text_file(&mut rng, size), "rs")
        } else {
            (random_file(&mut rng, size), "bin")
        };
        let path = root.join(format!("d{:03}/s{}/f{i:05}.{ext}", i / 100, i % 7));
        std::fs::create_dir_all(path.parent().context("no parent")?)?;
        std::fs::write(&path, &content)?;
        total += content.len() as u64;
    }
    Ok(total)
}

/// The deflate level for Kiln's ZIP: `KILN_BENCH_ZIP_LEVEL` to compare levels, else the one Kiln uses.
fn zip_level() -> u32 {
    std::env::var("KILN_BENCH_ZIP_LEVEL")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(artifacts::ZIP_LEVEL)
}

fn sh(cmd: &mut Command) -> anyhow::Result<()> {
    let status = cmd.status().with_context(|| format!("running {cmd:?}"))?;
    if !status.success() {
        bail!("{cmd:?} failed: {status}");
    }
    Ok(())
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

fn fresh(dir: &Path) -> anyhow::Result<PathBuf> {
    if dir.exists() {
        std::fs::remove_dir_all(dir)?;
    }
    std::fs::create_dir_all(dir)?;
    Ok(dir.to_path_buf())
}

/// CPU seconds (user + system) used so far by this process and by its waited-for children, from
/// `/proc/self/stat` (fields 14–17, in clock ticks of 1/100 s).
fn cpu_seconds() -> (f64, f64) {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after_name = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<f64> = after_name
        .split_whitespace()
        .map(|f| f.parse().unwrap_or(0.0))
        .collect();
    let field = |n: usize| fields.get(n - 3).copied().unwrap_or(0.0) / 100.0;
    (field(14) + field(15), field(16) + field(17))
}

/// Wall time and CPU time of one run.
#[derive(Clone, Copy, Default)]
struct Sample {
    wall: Duration,
    cpu: f64,
}

/// Runs Kiln's `ours` and the baseline `theirs` `RUNS` times each, alternating (and alternating which goes
/// first) so that load from other processes hits both alike, with `reset` run (untimed) before each pair;
/// returns the medians.
fn measure_pair(
    mut reset: impl FnMut() -> anyhow::Result<()>,
    mut ours: impl FnMut() -> anyhow::Result<()>,
    mut theirs: impl FnMut() -> anyhow::Result<()>,
) -> anyhow::Result<(Sample, Sample)> {
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for run in 0..RUNS {
        reset()?;
        for ours_turn in [run % 2 == 0, run % 2 == 1] {
            let before = cpu_seconds();
            let (wall, r) = if ours_turn {
                timed(&mut ours)
            } else {
                timed(&mut theirs)
            };
            r?;
            let after = cpu_seconds();
            if ours_turn {
                a.push(Sample {
                    wall,
                    cpu: after.0 - before.0,
                });
            } else {
                b.push(Sample {
                    wall,
                    cpu: after.1 - before.1,
                });
            }
        }
    }
    let med = |mut v: Vec<Sample>| {
        let wall = median(v.iter().map(|s| s.wall).collect());
        v.sort_by(|x, y| x.cpu.total_cmp(&y.cpu));
        Sample {
            wall,
            cpu: v.get(v.len() / 2).map_or(0.0, |s| s.cpu),
        }
    };
    Ok((med(a), med(b)))
}

fn print_pair(what: &str, (ours, theirs): (Sample, Sample)) {
    print_row(
        &format!("{what}: wall time"),
        secs(ours.wall),
        secs(theirs.wall),
        "s",
    );
    print_row(&format!("{what}: cpu time"), ours.cpu, theirs.cpu, "s");
}

fn bench_tree(label: &str, work: &Path, files: usize) -> anyhow::Result<()> {
    let tree = fresh(&work.join("tree"))?;
    let total = generate(&tree, files)?;
    println!("\n== {label}: {files} files, {:.1} MB ==", total as f64 / 1e6);
    let out = fresh(&work.join("out"))?;
    let only = std::env::var("KILN_BENCH_ONLY").unwrap_or_default();
    if only.is_empty() || only == "zip" {
        bench_zip(&tree, &out)?;
    }
    if only.is_empty() || only == "cache" {
        bench_cache(&tree, &out)?;
    }
    std::fs::remove_dir_all(&out)?;
    std::fs::remove_dir_all(&tree)?;
    Ok(())
}

/// ZIP artifact vs `zip -r -6`.
fn bench_zip(tree: &Path, out: &Path) -> anyhow::Result<()> {
    let ours_zip = out.join("kiln.zip");
    let theirs_zip = out.join("zip.zip");
    let spec = ArtifactSpec {
        files: vec!["**/*".into()],
        ..ArtifactSpec::default()
    };
    let zip = measure_pair(
        || {
            // zip adds to an existing archive: start from none, for both.
            let _ = std::fs::remove_file(&ours_zip);
            let _ = std::fs::remove_file(&theirs_zip);
            Ok(())
        },
        || {
            let selection = spec.select(tree, Packaging::Zip)?;
            artifacts::zip_writer::write_zip(&selection.entries, &ours_zip, zip_level())?;
            Ok(())
        },
        || {
            sh(Command::new("zip")
                .args(["-r", "-6", "-q"])
                .arg(&theirs_zip)
                .arg(".")
                .current_dir(tree))
        },
    )?;
    print_pair("zip artifact", zip);
    let (ours_size, their_size) = (
        std::fs::metadata(&ours_zip)?.len(),
        std::fs::metadata(&theirs_zip)?.len(),
    );
    print_row(
        "zip artifact: output size",
        ours_size as f64 / 1e6,
        their_size as f64 / 1e6,
        "MB",
    );
    if std::env::var_os("KILN_BENCH_UPLOAD").is_some() {
        let rt = tokio::runtime::Runtime::new()?;
        let store = DirObjectStore::new(out.join("store"));
        let (upload, result) = timed(|| {
            rt.block_on(artifacts::package_and_upload(
                &spec,
                tree,
                Packaging::Zip,
                &store,
                "bench",
            ))
        });
        result?;
        print_row(
            "zip artifact: package_and_upload, 1 run",
            secs(upload),
            secs(zip.1.wall),
            "s",
        );
    }
    Ok(())
}

/// Cache save and restore vs `tar -I zstd`.
fn bench_cache(tree: &Path, out: &Path) -> anyhow::Result<()> {
    let ours_tar = out.join("kiln.tar.zst");
    let theirs_tar = out.join("tar.tar.zst");
    let paths = vec!["**/*".to_owned()];
    let save = measure_pair(
        || {
            // Each run writes a new archive (truncating a file still being written back can wait on the disk).
            let _ = std::fs::remove_file(&ours_tar);
            let _ = std::fs::remove_file(&theirs_tar);
            Ok(())
        },
        || {
            cache::pack_paths(&paths, tree, &ours_tar).map_err(anyhow::Error::msg)?;
            Ok(())
        },
        || {
            sh(Command::new("tar")
                .args(["-I", "zstd", "-cf"])
                .arg(&theirs_tar)
                .arg(".")
                .current_dir(tree))
        },
    )?;
    print_pair("cache save", save);
    let (ours_size, their_size) = (
        std::fs::metadata(&ours_tar)?.len(),
        std::fs::metadata(&theirs_tar)?.len(),
    );
    print_row(
        "cache save: archive size",
        ours_size as f64 / 1e6,
        their_size as f64 / 1e6,
        "MB",
    );

    let ours_dest = out.join("restore-kiln");
    let their_dest = out.join("restore-tar");
    let restore = measure_pair(
        || {
            fresh(&ours_dest)?;
            fresh(&their_dest).map(|_| ())
        },
        || Ok(archive::unpack(&ours_tar, &ours_dest).map(|_| ())?),
        || {
            sh(Command::new("tar")
                .args(["-I", "zstd", "-xf"])
                .arg(&theirs_tar)
                .arg("-C")
                .arg(&their_dest))
        },
    )?;
    print_pair("cache restore", restore);
    print_row(
        "cache save + restore: wall time",
        secs(save.0.wall + restore.0.wall),
        secs(save.1.wall + restore.1.wall),
        "s",
    );
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let files: usize = match std::env::args().nth(1) {
        Some(n) => n.parse().context("FILES must be a number")?,
        None => 10_000,
    };
    let work = tempfile::tempdir()?;
    println!(
        "outputs benchmark: {} cores; median of {RUNS} runs; baselines zip -r -6 -q, tar -I zstd",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    bench_tree("fixed start-up cost", work.path(), 1)?;
    bench_tree("tree", work.path(), files)?;
    Ok(())
}
