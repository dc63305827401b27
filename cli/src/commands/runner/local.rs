//! The ports of `kiln runner --data-dir` (local mode, started by `kiln serve`): the server's SQLite store and
//! use cases, the log file `<data-dir>/logs/<project>/<uuid>.log`, the secrets file, the object directory for
//! artifacts and cache, and `<data-dir>/work/<uuid>` as the build's scratch directory. Repository tokens are not
//! resolved: git uses this machine's own credentials.

use std::path::PathBuf;
use std::sync::Arc;

use kiln_core::ports::logs::LogSink;
use kiln_executor::CancellationToken;
use kiln_executor::cache::CacheLocation;
use kiln_executor::outputs::CacheTarget;
use kiln_local::log_file::FileLogSink;
use kiln_local::object_store::DirObjectStore;
use kiln_local::secrets::LocalSecrets;
use kiln_local::sqlite::SyncMode;
use kiln_runner::{ArtifactStore, Extras, Outcome, RunnerPorts};

use super::super::serve::{DataDir, local_services};
use super::{located, source_fetcher};

/// Runs build `build_id` of the server whose data directory is `data_dir`.
pub async fn run_build(
    build_id: &str,
    data_dir: PathBuf,
    secrets_file: Option<PathBuf>,
    sync: SyncMode,
    stop: CancellationToken,
) -> anyhow::Result<Outcome> {
    let data = DataDir::new(data_dir);
    let (_, services) = local_services(&data, 1, None, sync)?;
    let id = super::build_id(build_id)?;
    let mut secrets = LocalSecrets::new();
    if let Some(file) = &secrets_file {
        secrets.load_file(file)?;
    }
    let objects = Arc::new(DirObjectStore::new(data.root().join("objects")));
    let log_path = data.log_path(&id);
    let ports = RunnerPorts {
        services,
        log: Box::new(move || Ok(Arc::new(FileLogSink::create(&log_path)?) as Arc<dyn LogSink>)),
        secrets: Arc::new(secrets),
        terminal: None,
        artifacts: Some(ArtifactStore {
            store: objects.clone(),
            key_prefix: format!("artifacts/{}/{}", id.project(), id.uuid()),
        }),
        cache: Some(CacheTarget {
            store: objects,
            location: CacheLocation::new("cache", id.project().as_str()),
        }),
        source: source_fetcher()?,
        work_dir: data.work_dir(&id),
        extras: Extras::default(),
    };
    kiln_runner::run_build(&id, ports, stop)
        .await
        .map_err(|err| located(err, &id, &data.db().display().to_string()))
}
