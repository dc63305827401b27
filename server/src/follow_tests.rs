//! The log-follow stream over the local adapters: a SQLite store and a logs directory in a temp dir, a build
//! started and stopped through the use cases, and a page reader that returns raw bytes.

use std::io::Write;
use std::sync::Arc;

use futures_util::StreamExt;
use kiln_core::build::{AccountContext, BuildId, Timestamp};
use kiln_core::ports::BoxFuture;
use kiln_core::ports::build_store::{ProjectStore, PutMode};
use kiln_core::ports::logs::LogReader;
use kiln_core::usecases::Services;
use kiln_core::usecases::notices::NoticeSource;
use kiln_core::usecases::start::{Origin, StartBuildInput};
use kiln_local::launcher::ProcessLauncher;
use kiln_local::sqlite::SqliteStore;
use kiln_local::{LocalSecrets, LogDir, WakeDispatcher};
use serde_json::json;

use crate::follow::{Buffered, Followed, Pages, follow};
use crate::{AppState, system_clock};

/// Raw bytes from where the last page ended.
struct Raw(u64);

impl Pages for Raw {
    type Page = String;

    fn next<'a>(
        &'a mut self,
        logs: &'a dyn LogReader,
        id: &'a BuildId,
        _ended: bool,
    ) -> BoxFuture<'a, Option<String>> {
        Box::pin(async move {
            let bytes = logs.read_at(id, self.0, 1 << 20).await.ok()?.bytes;
            if bytes.is_empty() {
                return None;
            }
            self.0 += bytes.len() as u64;
            Some(String::from_utf8_lossy(&bytes).into_owned())
        })
    }
}

struct Fixture {
    _dir: tempfile::TempDir,
    state: AppState,
    logs: LogDir,
    id: BuildId,
}

impl Fixture {
    /// A queued build of project `web` with an empty log.
    async fn new(follow: bool) -> Fixture {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Arc::new(SqliteStore::open(&dir.path().join("kiln.db")).expect("the store"));
        let project = json!({"name": "web", "source": {"type": "NO_SOURCE", "buildspec": "version: 0.2\n"},
            "environment": {"type": "LINUX_CONTAINER", "image": "local", "computeType": "BUILD_GENERAL1_SMALL"},
            "artifacts": {"type": "NO_ARTIFACTS"}});
        store
            .put_project(
                &serde_json::from_value(project).expect("a valid project"),
                PutMode::Create,
            )
            .await
            .expect("the project");
        let launcher = ProcessLauncher::new("true".into(), Vec::new(), dir.path().join("runners"));
        let services = Services {
            builds: store.clone(),
            queue: store.clone(),
            projects: store.clone(),
            launcher: Arc::new(launcher),
            notifier: store.clone(),
            account: AccountContext::local(),
            notice_source: NoticeSource::default(),
            global_limit: 1,
        };
        let input = StartBuildInput {
            project_name: "web".into(),
            ..StartBuildInput::default()
        };
        let started = services
            .start_build(
                input,
                Origin::default(),
                Timestamp::from_epoch_millis(1_700_000_000_000),
            )
            .await
            .expect("started");
        let id = started.build.id().clone();
        let logs = LogDir::new(dir.path().join("logs"));
        std::fs::create_dir_all(dir.path().join("logs/web")).expect("the log directory");
        std::fs::write(logs.path(&id), "").expect("an empty log");
        let state = AppState {
            services,
            feed: None,
            logs: Arc::new(LogDir::new(dir.path().join("logs"))),
            data_dir: None,
            access: crate::access::Access::open(),
            schedules: None,
            base_url: String::new(),
            clock: system_clock(),
            secrets: Arc::new(LocalSecrets::new()),
            dispatch: Arc::new(WakeDispatcher::new()),
            session_key: None,
            sessions: None,
            follow,
        };
        Fixture {
            _dir: dir,
            state,
            logs,
            id,
        }
    }

    fn write(&self, text: &str) {
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(self.logs.path(&self.id))
            .expect("the log");
        file.write_all(text.as_bytes()).expect("written");
    }

    async fn stop(&self) {
        self.state
            .services
            .stop_build(&self.id, Timestamp::from_epoch_millis(1_700_000_060_000))
            .await
            .expect("stopped");
    }

    /// Everything a stream sends until it ends.
    async fn all(&self, buffered: Buffered) -> Vec<Followed<String>> {
        follow(self.state.clone(), self.id.clone(), Raw(0), buffered)
            .collect()
            .await
    }
}

fn page(text: &str) -> Followed<String> {
    Followed::Page(text.to_owned())
}

#[tokio::test]
async fn a_following_stream_sends_lines_as_they_are_written_and_ends_with_the_status() {
    let f = Fixture::new(true).await;
    f.write("one\n");
    let mut stream = Box::pin(follow(
        f.state.clone(),
        f.id.clone(),
        Raw(0),
        Buffered::WhatThereIs,
    ));
    assert_eq!(stream.next().await, Some(page("one\n")));
    let waiting = tokio::time::timeout(std::time::Duration::from_millis(500), stream.next()).await;
    assert!(
        waiting.is_err(),
        "nothing new while the build runs: the stream waits"
    );
    // A line written just before the build ends is sent before the end.
    f.write("two\n");
    f.stop().await;
    let rest: Vec<_> = stream.collect().await;
    assert_eq!(rest, vec![page("two\n"), Followed::End("STOPPED".into())]);
}

#[tokio::test]
async fn a_buffered_stream_sends_what_there_is_or_nothing_until_the_build_has_ended() {
    let f = Fixture::new(false).await;
    f.write("one\n");
    assert_eq!(
        f.all(Buffered::WhatThereIs).await,
        vec![page("one\n")],
        "no end while running"
    );
    assert_eq!(
        f.all(Buffered::OnlyOnceEnded).await,
        Vec::new(),
        "nothing while running"
    );
    f.write("two\n");
    f.stop().await;
    for buffered in [Buffered::WhatThereIs, Buffered::OnlyOnceEnded] {
        assert_eq!(
            f.all(buffered).await,
            vec![page("one\ntwo\n"), Followed::End("STOPPED".into())],
            "{buffered:?}"
        );
    }
}
