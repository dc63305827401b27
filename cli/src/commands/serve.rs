//! `kiln serve`: the whole orchestrator in one process — webhooks, the CodeBuild API, logs and events over
//! HTTP; SQLite (WAL) for builds, the queue and notices; runners as child processes (`kiln runner`); a
//! dispatcher and a reconciler in the background. Projects come from `kiln.yaml` and the API.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use kiln_core::build::{AccountContext, BuildId};
use kiln_core::ports::build_store::{ProjectStore, PutMode};
use kiln_core::project::{KilnConfig, StoredProject};
use kiln_core::sigv4::Credentials;
use kiln_core::usecases::Services;
use kiln_core::usecases::keys::Keyring;
use kiln_core::usecases::notices::NoticeSource;
use kiln_local::launcher::ProcessLauncher;
use kiln_local::sqlite::{SqliteStore, SyncMode};
use kiln_local::{LocalSecrets, LogDir, WakeDispatcher};
use kiln_server::access::Access;
use kiln_server::console::sessions::ConsoleSessions;
use kiln_server::{AppState, app, system_clock};

/// Arguments of `kiln serve`.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Project definitions (CodeBuild's CreateProject shape, YAML); read on start and upserted.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Where the database, logs, artifacts and cache live.
    #[arg(long, default_value = ".kiln")]
    pub data_dir: PathBuf,
    /// Address to listen on; anything but loopback needs credentials (a key pair, or --require-keys).
    #[arg(long, default_value = "127.0.0.1:8950")]
    pub listen: SocketAddr,
    /// Access key id API callers must sign with (SigV4).
    #[arg(long, env = "KILN_ACCESS_KEY_ID")]
    pub access_key_id: Option<String>,
    /// Secret access key API callers must sign with (SigV4).
    #[arg(long, env = "KILN_SECRET_ACCESS_KEY", hide_env_values = true)]
    pub secret_access_key: Option<String>,
    /// Require every API call to be signed with a Kiln access key (`kiln keys create`), even with no
    /// --access-key-id. With a key pair configured, Kiln access keys are accepted beside it anyway.
    #[arg(long)]
    pub require_keys: bool,
    /// How many builds may run at once across all projects.
    #[arg(long, default_value_t = 4)]
    pub max_builds: usize,
    /// Accept and queue builds but do not start them.
    #[arg(long)]
    pub paused: bool,
    /// The URL clients reach this server at (for webhook payload URLs); defaults to http://<listen>.
    #[arg(long)]
    pub base_url: Option<String>,
    /// Parameter Store / Secrets Manager values for builds, `NAME=VALUE` lines or a JSON object (as
    /// `kiln run --secrets-file`); builds of pull requests from forks get none unless the project allows it.
    #[arg(long)]
    pub secrets_file: Option<PathBuf>,
    /// When a write is on disk: `normal` (survives the server being killed; the default, fastest intake) or
    /// `full` (every commit synced, so an accepted delivery survives a power loss too).
    #[arg(long, env = "KILN_SQLITE_SYNC", default_value = "normal")]
    pub sqlite_sync: SyncMode,
    /// Seconds a client has to send a request head, from the connection's opening or the request's first byte.
    #[arg(long, env = "KILN_HEADER_TIMEOUT", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..))]
    pub header_timeout: u64,
    /// Seconds a client has to send a request body, from the end of its head.
    #[arg(long, env = "KILN_BODY_TIMEOUT", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..))]
    pub body_timeout: u64,
    /// Seconds a keep-alive connection may wait for its next request.
    #[arg(long, env = "KILN_IDLE_TIMEOUT", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..))]
    pub idle_timeout: u64,
    /// Connections served at once; one more is answered 503 with Retry-After.
    #[arg(long, env = "KILN_MAX_CONNECTIONS", default_value_t = 512, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_connections: u64,
    /// Minutes a logged-in console session may go unused before it ends (it ends 12 hours after its login at
    /// the latest).
    #[arg(long, env = "KILN_SESSION_IDLE_MINUTES", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..))]
    pub session_idle_minutes: u64,
    /// Test-only (hidden): a file holding a number of seconds (may be negative) added to the server's clock,
    /// re-read on every reading, so tests can move time past timeouts and schedules. Runners keep real time.
    #[arg(long, hide = true)]
    pub test_clock_file: Option<PathBuf>,
}

/// The system clock, shifted by the seconds in `offset_file` when one is given (tests only).
fn clock(offset_file: Option<PathBuf>) -> kiln_server::Clock {
    let Some(path) = offset_file else {
        return system_clock();
    };
    Arc::new(move || {
        let now = kiln_core::build::Timestamp::from(std::time::SystemTime::now());
        let offset: f64 = std::fs::read_to_string(&path)
            .ok()
            .and_then(|text| text.trim().parse().ok())
            .unwrap_or(0.0);
        #[allow(clippy::cast_possible_truncation)]
        let offset_ms = (offset * 1000.0) as i64;
        kiln_core::build::Timestamp::from_epoch_millis(now.epoch_millis().saturating_add(offset_ms))
    })
}

/// The layout of the data directory.
#[derive(Debug, Clone)]
pub struct DataDir(PathBuf);

impl DataDir {
    /// The data directory at `root`.
    pub fn new(root: PathBuf) -> DataDir {
        DataDir(root)
    }

    /// The directory itself.
    pub fn root(&self) -> &Path {
        &self.0
    }

    /// The SQLite database.
    pub fn db(&self) -> PathBuf {
        self.0.join("kiln.db")
    }

    /// Where build logs go: `logs/<project>/<uuid>.log`.
    pub fn logs(&self) -> PathBuf {
        self.0.join("logs")
    }

    /// The log file of a build.
    pub fn log_path(&self, id: &BuildId) -> PathBuf {
        self.logs()
            .join(id.project().as_str())
            .join(format!("{}.log", id.uuid()))
    }

    /// The scratch directory of a build.
    pub fn work_dir(&self, id: &BuildId) -> PathBuf {
        self.0.join("work").join(id.uuid())
    }
}

/// The store and the use-case services over the local adapters; runners are started with the same `sync`.
pub fn local_services(
    data: &DataDir,
    max_builds: usize,
    secrets_file: Option<&Path>,
    sync: SyncMode,
) -> anyhow::Result<(Arc<SqliteStore>, Services)> {
    std::fs::create_dir_all(data.root()).with_context(|| format!("creating {}", data.root().display()))?;
    let store = Arc::new(
        SqliteStore::open_with(&data.db(), sync)
            .with_context(|| format!("opening {}", data.db().display()))?,
    );
    let exe = std::env::current_exe().context("finding the kiln executable")?;
    let root = std::fs::canonicalize(data.root()).unwrap_or_else(|_| data.root().to_path_buf());
    let mut args = vec![
        "runner".to_owned(),
        "--data-dir".to_owned(),
        root.display().to_string(),
    ];
    if let Some(file) = secrets_file {
        let file = std::fs::canonicalize(file).with_context(|| format!("reading {}", file.display()))?;
        args.extend(["--secrets-file".to_owned(), file.display().to_string()]);
    }
    if sync != SyncMode::default() {
        args.extend(["--sqlite-sync".to_owned(), sync.as_str().to_owned()]);
    }
    let launcher = ProcessLauncher::new(exe, args, root.join("runners"));
    let services = Services {
        builds: store.clone(),
        queue: store.clone(),
        projects: store.clone(),
        launcher: Arc::new(launcher),
        notifier: store.clone(),
        account: AccountContext::local(),
        notice_source: NoticeSource::default(),
        global_limit: max_builds,
    };
    Ok((store, services))
}

/// Runs the server until interrupted.
pub fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(serve(args))
}

fn credentials(args: &ServeArgs) -> anyhow::Result<Option<Credentials>> {
    match (&args.access_key_id, &args.secret_access_key) {
        (Some(id), Some(secret)) => Ok(Some(Credentials::new(id, secret))),
        (None, None) if args.listen.ip().is_loopback() || args.require_keys => Ok(None),
        (None, None) => bail!(
            "listening on {} (not loopback) needs credentials: pass --access-key-id and --secret-access-key \
             (or KILN_ACCESS_KEY_ID / KILN_SECRET_ACCESS_KEY), or --require-keys and make keys with `kiln keys create`",
            args.listen
        ),
        _ => bail!("give both --access-key-id and --secret-access-key, or neither"),
    }
}

async fn serve(args: ServeArgs) -> anyhow::Result<ExitCode> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let server_key = credentials(&args)?;
    let limits = kiln_server::listen::Limits {
        header_timeout: Duration::from_secs(args.header_timeout),
        body_timeout: Duration::from_secs(args.body_timeout),
        idle_timeout: Duration::from_secs(args.idle_timeout),
        max_connections: usize::try_from(args.max_connections).unwrap_or(usize::MAX),
        ..kiln_server::listen::Limits::default()
    };
    let data = DataDir::new(args.data_dir.clone());
    let (store, services) = local_services(
        &data,
        args.max_builds,
        args.secrets_file.as_deref(),
        args.sqlite_sync,
    )?;
    if let Some(path) = &args.config {
        load_config(&store, path).await?;
    }
    let keyring = if server_key.is_some() || args.require_keys {
        let sealer = kiln_local::sqlite_keys::local_sealer(data.root())?;
        Some(Keyring::new(store.clone(), sealer))
    } else {
        None
    };
    let access = Access::signed(server_key, keyring);
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("binding {}", args.listen))?;
    let addr = listener.local_addr()?;
    let wake = Arc::new(WakeDispatcher::new());
    // The server's own secrets are its projects' (webhooks, notice targets): values, files and its environment.
    let secrets = Arc::new(LocalSecrets::new());
    let state = AppState {
        services: services.clone(),
        feed: Some(store.clone()),
        logs: Arc::new(LogDir::new(data.logs())),
        data_dir: Some(data.root().to_path_buf()),
        access,
        schedules: None,
        base_url: args.base_url.clone().unwrap_or_else(|| format!("http://{addr}")),
        clock: clock(args.test_clock_file.clone()),
        secrets: secrets.clone(),
        dispatch: wake.clone(),
        session_key: None,
        sessions: Some(ConsoleSessions {
            store: store.clone(),
            idle: Duration::from_secs(args.session_idle_minutes.saturating_mul(60)),
        }),
        follow: true,
    };
    let clock = state.clock.clone();
    tokio::spawn(background(services.clone(), clock.clone(), wake, args.paused));
    tokio::spawn(scheduler(services, store.clone(), clock));
    let mut forwarder = kiln_local::forwarder::Forwarder::new(store.clone(), secrets);
    tokio::spawn(async move {
        loop {
            forwarder.step().await;
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    });
    println!(
        "kiln serve listening on http://{addr} (data in {})",
        data.root().display()
    );
    let shutdown = async {
        tokio::signal::ctrl_c().await.ok();
    };
    kiln_server::listen::serve(listener, app(state), limits, shutdown).await;
    Ok(ExitCode::SUCCESS)
}

async fn load_config(store: &SqliteStore, path: &Path) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let config = KilnConfig::from_yaml(&text).with_context(|| format!("in {}", path.display()))?;
    for project in &config.projects {
        let project = StoredProject::from(project.clone());
        store.put_project(&project, PutMode::Upsert).await?;
    }
    tracing::info!(projects = config.projects.len(), config = %path.display(), "projects loaded");
    Ok(())
}

/// Reconciles at once, then dispatches often and reconciles every few seconds.
async fn background(services: Services, clock: kiln_server::Clock, wake: Arc<WakeDispatcher>, paused: bool) {
    let mut ticks: u64 = 0;
    loop {
        if ticks.is_multiple_of(25) {
            match services.reconcile(clock()).await {
                Ok(done)
                    if !done.faulted.is_empty()
                        || !done.timed_out.is_empty()
                        || !done.relaunched.is_empty() =>
                {
                    tracing::warn!(
                        faulted = ?done.faulted,
                        timed_out = ?done.timed_out,
                        relaunched = ?done.relaunched,
                        "reconciled builds"
                    );
                }
                Ok(_) => {}
                Err(err) => tracing::error!(error = %err, "reconcile failed"),
            }
        }
        if !paused && let Err(err) = services.dispatch_step(clock()).await {
            tracing::error!(error = %err, "dispatch failed");
        }
        ticks += 1;
        tokio::select! {
            () = wake.woken() => {}
            () = tokio::time::sleep(Duration::from_millis(100)) => {}
        }
    }
}

/// Where the scheduler keeps the end of the last window it watched (milliseconds since the epoch).
const SCHEDULER_CURSOR: &str = "scheduler:last-tick";

/// Fires schedules once a second over the window since the last tick. Fire times that passed while the
/// server was down are logged and not replayed (EventBridge behaviour).
async fn scheduler(services: Services, store: Arc<SqliteStore>, clock: kiln_server::Clock) {
    let mut last = clock();
    match store.delivered_cursor(SCHEDULER_CURSOR).await {
        Ok(0) => {}
        Ok(millis) => tracing::warn!(
            from_ms = millis,
            to_ms = last.epoch_millis(),
            "schedules were not watched while the server was down; fires in that window are not replayed"
        ),
        Err(err) => tracing::error!(error = %err, "reading the scheduler cursor failed"),
    }
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let now = clock();
        match services.fire_schedules(last, now).await {
            Ok(ticked) => {
                for fire in &ticked.fired {
                    tracing::info!(project = %fire.project, schedule = %fire.schedule, at = %fire.at, build_id = ?fire.build_id, "schedule fired");
                }
                for fire in &ticked.missed {
                    tracing::warn!(project = %fire.project, schedule = %fire.schedule, at = %fire.at, "schedule fire missed, not replayed");
                }
                for problem in &ticked.invalid {
                    tracing::error!(problem = %problem, "schedule not usable");
                }
                last = now;
                let millis = u64::try_from(now.epoch_millis()).unwrap_or_default();
                if let Err(err) = store.set_delivered_cursor(SCHEDULER_CURSOR, millis).await {
                    tracing::error!(error = %err, "saving the scheduler cursor failed");
                }
            }
            Err(err) => tracing::error!(error = %err, "schedule tick failed"),
        }
    }
}
