//! Benchmarks for build outputs: ZIP artifacts vs `zip -r -6`, and the cache (tar + zstd) vs
//! `tar -I zstd -cf` / `-xf`, on a generated tree of 10,000 files (~500 MB: 70 % source-like text, 30 % random
//! bytes, sizes 1–100 KB, fixed seed). Each figure is the median of three runs; a one-file run shows the fixed
//! start-up cost separately. Usage: `cargo run --release -p kiln-bench --bin outputs [-- FILES]`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, bail};
use kiln_bench::{median, print_row, timed};
use kiln_runner::artifacts::{self, ArtifactSpec, Packaging};
use kiln_runner::cache::{self, archive};
use kiln_shared::adapters::local::object_store::DirObjectStore;

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

/// Median wall time of `RUNS` runs of `f`, with `reset` run (untimed) before each.
fn measure(
    mut reset: impl FnMut() -> anyhow::Result<()>,
    mut f: impl FnMut() -> anyhow::Result<()>,
) -> anyhow::Result<Duration> {
    let mut samples = Vec::new();
    for _ in 0..RUNS {
        reset()?;
        let (d, r) = timed(&mut f);
        r?;
        samples.push(d);
    }
    Ok(median(samples))
}

fn bench_tree(label: &str, work: &Path, files: usize) -> anyhow::Result<()> {
    let tree = fresh(&work.join("tree"))?;
    let total = generate(&tree, files)?;
    println!("\n== {label}: {files} files, {:.1} MB ==", total as f64 / 1e6);
    let out = fresh(&work.join("out"))?;

    // ZIP artifact vs zip -r -6.
    let ours_zip = out.join("kiln.zip");
    let theirs_zip = out.join("zip.zip");
    let spec = ArtifactSpec {
        files: vec!["**/*".into()],
        ..ArtifactSpec::default()
    };
    let kiln = measure(
        || Ok(()),
        || {
            let selection = spec.select(&tree, Packaging::Zip)?;
            artifacts::zip_writer::write_zip(&selection.entries, &ours_zip, artifacts::ZIP_LEVEL)?;
            Ok(())
        },
    )?;
    let zip = measure(
        || {
            // zip adds to an existing archive: start from none.
            let _ = std::fs::remove_file(&theirs_zip);
            Ok(())
        },
        || {
            sh(Command::new("zip")
                .args(["-r", "-6", "-q"])
                .arg(&theirs_zip)
                .arg(".")
                .current_dir(&tree))
        },
    )?;
    print_row("zip artifact: wall time", secs(kiln), secs(zip), "s");
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

    let rt = tokio::runtime::Runtime::new()?;
    let store = DirObjectStore::new(out.join("store"));
    let upload = measure(
        || Ok(()),
        || {
            rt.block_on(artifacts::package_and_upload(
                &spec,
                &tree,
                Packaging::Zip,
                &store,
                "bench",
            ))?;
            Ok(())
        },
    )?;
    print_row(
        "zip artifact: package_and_upload (dir store)",
        secs(upload),
        secs(zip),
        "s",
    );

    // Cache save and restore vs tar -I zstd.
    let ours_tar = out.join("kiln.tar.zst");
    let theirs_tar = out.join("tar.tar.zst");
    let paths = vec!["**/*".to_owned()];
    let save = measure(
        || Ok(()),
        || {
            cache::pack_paths(&paths, &tree, &ours_tar).map_err(anyhow::Error::msg)?;
            Ok(())
        },
    )?;
    let tar_save = measure(
        || Ok(()),
        || {
            sh(Command::new("tar")
                .args(["-I", "zstd", "-cf"])
                .arg(&theirs_tar)
                .arg(".")
                .current_dir(&tree))
        },
    )?;
    print_row("cache save: wall time", secs(save), secs(tar_save), "s");
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
    let restore = measure(
        || fresh(&ours_dest).map(|_| ()),
        || Ok(archive::unpack(&ours_tar, &ours_dest).map(|_| ())?),
    )?;
    let tar_restore = measure(
        || fresh(&their_dest).map(|_| ()),
        || {
            sh(Command::new("tar")
                .args(["-I", "zstd", "-xf"])
                .arg(&theirs_tar)
                .arg("-C")
                .arg(&their_dest))
        },
    )?;
    print_row("cache restore: wall time", secs(restore), secs(tar_restore), "s");
    print_row(
        "cache save + restore: wall time",
        secs(save + restore),
        secs(tar_save + tar_restore),
        "s",
    );
    std::fs::remove_dir_all(&out)?;
    std::fs::remove_dir_all(&tree)?;
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
