//! `kiln run`: one build on this machine, no AWS and no Docker (like CodeBuild's local agent).
//!
//! A thin edge over [`kiln_executor::run`]: flags become a [`BuildRequest`] and local ports (a log file, the local
//! secrets resolver, directory object stores for artifacts and cache), SIGINT/SIGTERM become a stop request,
//! and the result is printed as a summary (or the JSON record) and written to `<artifacts>/build.json`.
//!
//! Exit codes: 0 SUCCEEDED, 1 FAILED, 2 usage or setup error, 3 FAULT, 4 TIMED_OUT, 5 STOPPED.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use kiln_core::build::{BuildId, ProjectName, StatusType};
use kiln_executor::artifacts::Packaging;
use kiln_executor::cache::CacheLocation;
use kiln_executor::env::EnvVarSpec;
use kiln_executor::outputs::{ArtifactTarget, CacheTarget};
use kiln_executor::sandbox::{self, SandboxConfig};
use kiln_executor::source::{SourceFetcher, SourceSpec};
use kiln_executor::{BuildRequest, BuildResult, BuildspecSource, CancellationToken, Ports};
use kiln_local::object_store::DirObjectStore;
use kiln_local::{FileLogSink, LocalSecrets};

/// Flags of `kiln run`.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// The source: a directory (used in place) or a git repository (URL, file:// or path; cloned).
    #[arg(default_value = ".")]
    pub source: String,
    /// The buildspec file, relative to the source root (default buildspec.yml).
    #[arg(long, conflicts_with = "buildspec_inline")]
    pub buildspec: Option<String>,
    /// The buildspec's YAML itself.
    #[arg(long)]
    pub buildspec_inline: Option<String>,
    /// An environment variable NAME=VALUE (highest precedence; repeatable).
    #[arg(long = "env", value_name = "NAME=VALUE")]
    pub env: Vec<String>,
    /// A secret NAME=VALUE for parameter-store names and secrets-manager ids (repeatable).
    #[arg(long = "secret", value_name = "NAME=VALUE")]
    pub secrets: Vec<String>,
    /// A secrets file: a JSON object of names to values, or NAME=VALUE lines.
    #[arg(long)]
    pub secrets_file: Option<PathBuf>,
    /// The revision to build: branch, tag, commit, refs/..., or pr/N (clones the source).
    #[arg(long)]
    pub source_version: Option<String>,
    /// Clone depth for git sources.
    #[arg(long, default_value_t = 1)]
    pub depth: u32,
    /// Where artifacts, the log and build.json go (default: a new directory under the temp dir).
    #[arg(long)]
    pub artifacts: Option<PathBuf>,
    /// Artifact packaging.
    #[arg(long, value_enum, default_value_t = PackagingArg::Zip)]
    pub packaging: PackagingArg,
    /// A directory holding the build cache (cache disabled without it).
    #[arg(long)]
    pub cache: Option<PathBuf>,
    /// The build timeout in minutes.
    #[arg(long, default_value_t = 60)]
    pub timeout: u64,
    /// The project name (build ids are <project>:<uuid>).
    #[arg(long, default_value = "local")]
    pub project: String,
    /// Run the build's shell in a bubblewrap sandbox.
    #[arg(long)]
    pub sandbox: bool,
    /// With --sandbox: no network for the build.
    #[arg(long, requires = "sandbox")]
    pub no_network: bool,
    /// Print the build record as JSON instead of the summary (the log goes to stderr).
    #[arg(long)]
    pub json: bool,
}

/// `--packaging` values.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum PackagingArg {
    Zip,
    None,
}

/// Runs `kiln run`.
pub fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("could not start the async runtime")?;
    runtime.block_on(run_async(args))
}

async fn run_async(args: RunArgs) -> anyhow::Result<ExitCode> {
    if args.sandbox {
        sandbox::find_bwrap()?;
    }
    let project = ProjectName::parse(&args.project).map_err(|e| anyhow::anyhow!("--project: {e}"))?;
    let build_id = BuildId::new(&project);
    let out_dir = match &args.artifacts {
        Some(dir) => dir.clone(),
        None => std::env::temp_dir().join("kiln-run").join(build_id.uuid()),
    };
    std::fs::create_dir_all(&out_dir).with_context(|| format!("could not create {}", out_dir.display()))?;
    let out_dir = std::fs::canonicalize(&out_dir)?;
    let work = tempfile::Builder::new()
        .prefix("kiln-work-")
        .tempdir()
        .context("could not create a work directory")?;
    let request = request(&args, &build_id, work.path().to_path_buf())?;
    let ports = ports(&args, &out_dir, &project)?;
    let stop = CancellationToken::new();
    tokio::spawn(stop_on_signals(stop.clone()));
    let result = kiln_executor::run(request.clone(), ports, None, stop).await;
    let record = kiln_executor::build_record::to_build(&result, &request.region, &request.account_id);
    let json = match &record {
        Ok(build) => serde_json::to_string_pretty(build)?,
        Err(_) => serde_json::to_string_pretty(&result)?,
    };
    let record_path = out_dir.join("build.json");
    std::fs::write(&record_path, &json)
        .with_context(|| format!("could not write {}", record_path.display()))?;
    let text = if args.json {
        format!("{json}\n")
    } else {
        summary(&result, &record_path)
    };
    // A reader that went away (`kiln run | head`) must not turn the build's exit code into a panic.
    let mut stdout = std::io::stdout().lock();
    if let Err(err) = stdout.write_all(text.as_bytes()).and_then(|()| stdout.flush())
        && err.kind() != std::io::ErrorKind::BrokenPipe
    {
        return Err(err).context("could not print the build summary");
    }
    Ok(ExitCode::from(exit_code(result.build_status)))
}

fn request(args: &RunArgs, build_id: &BuildId, work: PathBuf) -> anyhow::Result<BuildRequest> {
    let source = SourceSpec::classify(&args.source, args.source_version.as_deref(), args.depth);
    let mut request = BuildRequest::local(source, work);
    request.project = args.project.clone();
    request.build_id = Some(build_id.to_string());
    request.timeout = Duration::from_secs(args.timeout.max(1) * 60);
    request.buildspec = match (&args.buildspec, &args.buildspec_inline) {
        (_, Some(inline)) => BuildspecSource::Inline(inline.clone()),
        (Some(path), None) => BuildspecSource::Path(path.clone()),
        (None, None) => BuildspecSource::Default,
    };
    for pair in &args.env {
        let Some((name, value)) = pair.split_once('=').filter(|(n, _)| !n.is_empty()) else {
            bail!("--env {pair:?} must be NAME=VALUE");
        };
        request.override_env.push(EnvVarSpec::plain(name, value));
    }
    request.sandbox = args.sandbox.then_some(SandboxConfig {
        no_network: args.no_network,
    });
    Ok(request)
}

fn ports(args: &RunArgs, out_dir: &Path, project: &ProjectName) -> anyhow::Result<Ports> {
    let mut secrets = LocalSecrets::new();
    for flag in &args.secrets {
        secrets.add_flag(flag)?;
    }
    if let Some(file) = &args.secrets_file {
        secrets.load_file(file)?;
    }
    let log = FileLogSink::create(out_dir.join("build.log"))?;
    let terminal: kiln_executor::logs::Terminal = if args.json {
        Box::new(std::io::stderr())
    } else {
        Box::new(std::io::stdout())
    };
    let packaging = match args.packaging {
        PackagingArg::Zip => Packaging::Zip,
        PackagingArg::None => Packaging::None,
    };
    Ok(Ports {
        source: SourceFetcher::default(),
        log: Arc::new(log),
        secrets: Arc::new(secrets),
        terminal: Some(terminal),
        artifacts: Some(ArtifactTarget {
            store: Arc::new(DirObjectStore::new(out_dir)),
            key_prefix: String::new(),
            packaging,
        }),
        cache: args.cache.as_ref().map(|dir| CacheTarget {
            store: Arc::new(DirObjectStore::new(dir)),
            location: CacheLocation::new("", project.as_str()),
        }),
    })
}

async fn stop_on_signals(stop: CancellationToken) {
    use tokio::signal::unix::{SignalKind, signal};
    let Ok(mut term) = signal(SignalKind::terminate()) else {
        return;
    };
    let Ok(mut int) = signal(SignalKind::interrupt()) else {
        return;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
    eprintln!("kiln: stop requested; stopping the build");
    stop.cancel();
}

/// The process exit code for a build status.
pub fn exit_code(status: StatusType) -> u8 {
    match status {
        StatusType::Succeeded => 0,
        StatusType::Failed => 1,
        StatusType::Fault | StatusType::InProgress => 3,
        StatusType::TimedOut => 4,
        StatusType::Stopped => 5,
    }
}

/// The human summary printed after the build.
pub fn summary(result: &BuildResult, record_path: &Path) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let took = (result.end_time - result.start_time).max(0.0);
    let _ = writeln!(out, "\nBuild {} {} in {took:.1}s", result.id, result.build_status);
    for phase in &result.phases {
        let status = phase.phase_status.map(|s| s.as_str()).unwrap_or("");
        let duration = phase
            .end_time
            .map(|end| format!("{:.1}s", (end - phase.start_time).max(0.0)))
            .unwrap_or_default();
        let line = format!("  {:<18} {:<10} {duration:>8}", phase.phase_type.as_str(), status);
        let _ = writeln!(out, "{}", line.trim_end());
        for context in &phase.contexts {
            let _ = writeln!(out, "      {}: {}", context.status_code, context.message);
        }
    }
    if !result.artifacts.is_empty() {
        let _ = writeln!(out, "Artifacts:");
        for a in &result.artifacts {
            let _ = writeln!(out, "  {}  {} bytes  sha256 {}", a.location, a.size, a.sha256sum);
        }
    }
    if !result.reports.is_empty() {
        let _ = writeln!(out, "Reports:");
        for r in &result.reports {
            let _ = writeln!(
                out,
                "  {} [{}] {}: {} total, {} passed, {} failed, {} skipped",
                r.name,
                r.format,
                r.status,
                r.total,
                r.passed,
                r.failed + r.errors,
                r.skipped
            );
            for name in &r.failing {
                let _ = writeln!(out, "      failing: {name}");
            }
        }
    }
    if !result.exported_environment_variables.is_empty() {
        let _ = writeln!(out, "Exported variables:");
        for v in &result.exported_environment_variables {
            let _ = writeln!(out, "  {}={}", v.name, v.value);
        }
    }
    if !result.runtime_versions.is_empty() {
        let _ = writeln!(out, "Runtimes:");
        for r in &result.runtime_versions {
            let found = r.found.as_deref().unwrap_or("NOT FOUND");
            let _ = writeln!(out, "  {} {}: {found}", r.runtime, r.requested);
        }
    }
    let _ = writeln!(out, "Record: {}", record_path.display());
    if let Some(log) = &result.log_location {
        let _ = writeln!(out, "Log: {log}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        run: RunArgs,
    }

    fn args(list: &[&str]) -> RunArgs {
        Cli::parse_from(std::iter::once("kiln-run").chain(list.iter().copied())).run
    }

    #[test]
    fn exit_codes_distinguish_every_end_status() {
        let codes: Vec<u8> = [
            StatusType::Succeeded,
            StatusType::Failed,
            StatusType::Fault,
            StatusType::TimedOut,
            StatusType::Stopped,
        ]
        .into_iter()
        .map(exit_code)
        .collect();
        assert_eq!(codes, vec![0, 1, 3, 4, 5]);
    }

    #[test]
    fn a_failed_build_writes_its_record_and_exits_1() {
        let src = tempfile::tempdir().unwrap();
        let out = tempfile::tempdir().unwrap();
        let yaml = "version: 0.2\nenv:\n  exported-variables: [V]\nphases:\n  build:\n    commands:\n      - export V=$GREETING\n      - exit 2\n";
        let src_arg = src.path().display().to_string();
        let out_arg = out.path().display().to_string();
        let parsed = args(&[
            &src_arg,
            "--buildspec-inline",
            yaml,
            "--env",
            "GREETING=hi",
            "--artifacts",
            &out_arg,
            "--json",
        ]);
        let code = run(parsed).unwrap();
        assert_eq!(code, ExitCode::from(1));
        let record: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(out.path().join("build.json")).unwrap()).unwrap();
        assert_eq!(record["buildStatus"], "FAILED");
        assert_eq!(record["exportedEnvironmentVariables"][0]["value"], "hi");
        assert!(out.path().join("build.log").exists());
    }

    #[test]
    fn the_summary_lists_phases_artifacts_reports_and_exported_variables() {
        use kiln_core::build::{FailureAction, PhaseType};
        use kiln_executor::record::{ExportedVariable, PhaseContext, PhaseRecord, RuntimeRecord};
        let phase = |phase_type, status, start: f64, end: f64| PhaseRecord {
            phase_type,
            phase_status: status,
            start_time: start,
            end_time: status.map(|_| end),
            duration_in_seconds: status.map(|_| (end - start) as u64),
            contexts: Vec::new(),
            action: FailureAction::Default,
        };
        let mut build = phase(PhaseType::Build, Some(StatusType::Failed), 10.0, 12.5);
        build.contexts.push(PhaseContext {
            status_code: "COMMAND_EXECUTION_ERROR".into(),
            message: "Error while executing command: npm test. Reason: exit status 1".into(),
        });
        let result = BuildResult {
            id: "local:00000000-0000-4000-8000-000000000000".into(),
            arn: "arn:aws:codebuild:us-east-1:000000000000:build/local:00000000-0000-4000-8000-000000000000"
                .into(),
            build_number: 3,
            project_name: "local".into(),
            build_status: StatusType::Failed,
            current_phase: PhaseType::Completed,
            start_time: 10.0,
            end_time: 13.0,
            source_version: None,
            resolved_source_version: None,
            initiator: "dev".into(),
            timeout_in_minutes: 60,
            phases: vec![
                phase(PhaseType::DownloadSource, Some(StatusType::Succeeded), 10.0, 10.0),
                build,
                phase(PhaseType::Completed, None, 13.0, 13.0),
            ],
            exported_environment_variables: vec![ExportedVariable {
                name: "VERSION".into(),
                value: "1.2.3".into(),
            }],
            runtime_versions: vec![RuntimeRecord {
                runtime: "nodejs".into(),
                requested: "20".into(),
                found: None,
            }],
            artifacts: vec![kiln_executor::artifacts::ArtifactOutcome {
                artifact_identifier: None,
                location: "file:///out/app.zip".into(),
                key: "app.zip".into(),
                packaging: Packaging::Zip,
                sha256sum: "ab".repeat(32),
                md5sum: None,
                size: 1234,
                files: 2,
                notes: Vec::new(),
            }],
            reports: Vec::new(),
            log_location: Some("/out/build.log".into()),
        };
        insta::assert_snapshot!(summary(&result, Path::new("/out/build.json")));
    }

    #[test]
    fn bad_flags_are_clear_errors() {
        let out = tempfile::tempdir().unwrap();
        let out_arg = out.path().display().to_string();
        let err = run(args(&[".", "--env", "NOEQUALS", "--artifacts", &out_arg])).unwrap_err();
        assert!(err.to_string().contains("NAME=VALUE"), "{err}");
        let err = run(args(&[".", "--project", "!bad", "--artifacts", &out_arg])).unwrap_err();
        assert!(err.to_string().contains("--project"), "{err}");
    }
}
