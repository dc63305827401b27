//! The build-store port: durable build records, idempotent creation, conditional updates and the dispatch
//! queue (SQLite locally; DynamoDB and SQS on AWS).
//!
//! The ports take and return typed values: a [`Build`] (which keeps members it does not know, so the record can
//! grow without touching adapters), [`BuildId`]s and [`ProjectName`]s. Adapters keep each build as a JSON
//! document in CodeBuild's `Build` shape beside a few indexed fields (id, project, number, state, version), and
//! encode and decode it at their storage boundary only; the store fills `buildNumber`.

use std::collections::HashMap;

use super::BoxFuture;
use crate::build::{Build, BuildId, ProjectName};
use crate::project::StoredProject;

/// Where a build stands, as far as storage and dispatch care.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum BuildState {
    /// Accepted, waiting for a slot.
    Queued,
    /// A runner holds a slot for it.
    InProgress,
    /// Ended with a final status; never written again.
    Terminal,
}

impl BuildState {
    /// The column value stored for this state.
    pub fn as_str(self) -> &'static str {
        match self {
            BuildState::Queued => "QUEUED",
            BuildState::InProgress => "IN_PROGRESS",
            BuildState::Terminal => "TERMINAL",
        }
    }

    /// Parses a stored column value.
    pub fn parse(value: &str) -> Option<BuildState> {
        match value {
            "QUEUED" => Some(BuildState::Queued),
            "IN_PROGRESS" => Some(BuildState::InProgress),
            "TERMINAL" => Some(BuildState::Terminal),
            _ => None,
        }
    }
}

/// A build as stored: where it stands, the optimistic-concurrency version and the record.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredBuild {
    pub state: BuildState,
    /// Incremented on every update; updates name the version they read.
    pub version: u64,
    /// The record (its id, project and number are the store's indexed fields).
    pub build: Build,
}

impl StoredBuild {
    /// The build id, `project:uuid`.
    pub fn id(&self) -> &BuildId {
        self.build.id()
    }

    /// The project the build belongs to.
    pub fn project(&self) -> &ProjectName {
        self.build.project_name()
    }

    /// The per-project build number the store gave it.
    pub fn number(&self) -> u64 {
        self.build.build_number()
    }
}

/// What [`BuildStore::create`] did.
#[derive(Debug, Clone, PartialEq)]
pub struct Created {
    /// The builds under the key: the new ones, or those a previous call with the same key created.
    pub builds: Vec<StoredBuild>,
    /// `true` when the key had been used before and nothing was created.
    pub existing: bool,
}

/// The outcome of a conditional update.
#[derive(Debug, Clone, PartialEq)]
pub enum UpdateOutcome {
    /// Written; the build now has this version.
    Updated(StoredBuild),
    /// Someone else wrote first; here is what is stored now.
    Conflict(StoredBuild),
    /// The build is terminal and was left alone.
    Terminal(StoredBuild),
}

/// Sort order for listings, by build number within a project (creation order across projects).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortOrder {
    Ascending,
    #[default]
    Descending,
}

/// One page of build ids and the token for the next page, if any.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Page {
    pub ids: Vec<BuildId>,
    pub next_token: Option<String>,
}

/// Why a store operation failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    #[error("build {0:?} was not found")]
    NotFound(String),
    #[error("page token {0:?} is not one this store issued; pass the nextToken of the previous page")]
    BadToken(String),
    #[error("project {0:?} already exists; use UpdateProject to change it")]
    AlreadyExists(String),
    #[error("stored build {id:?} is corrupt: {reason}")]
    Corrupt { id: String, reason: String },
    #[error("build store error: {message}")]
    Backend { message: String, retryable: bool },
    /// The store has more writes waiting than it takes (the local writer's queue is full); nothing was written.
    /// Retry shortly: the HTTP edge answers 503 with `Retry-After`.
    #[error("the build store is at capacity (too many writes waiting); try again in a moment")]
    AtCapacity,
}

/// Durable build records with idempotent creation and conditional updates.
pub trait BuildStore: Send + Sync {
    /// Creates `builds` (each QUEUED, with the next build number of its project, and enqueued for dispatch)
    /// in one atomic step, unless `key` was used before: then it returns the builds created under it.
    fn create<'a>(
        &'a self,
        key: Option<&'a str>,
        builds: Vec<Build>,
    ) -> BoxFuture<'a, Result<Created, StoreError>>;

    /// Reads one build; `Ok(None)` when there is none.
    fn get<'a>(&'a self, id: &'a BuildId) -> BoxFuture<'a, Result<Option<StoredBuild>, StoreError>>;

    /// Lists build ids, of one project or all, by number/creation order, `limit` per page.
    fn list<'a>(
        &'a self,
        project: Option<&'a ProjectName>,
        order: SortOrder,
        token: Option<&'a str>,
        limit: usize,
    ) -> BoxFuture<'a, Result<Page, StoreError>>;

    /// Writes `build` (keeping its stored number) and `state` if the stored version is still `version` and the
    /// build is not terminal. Moving to [`BuildState::Terminal`] also removes the build from the dispatch queue.
    fn update(
        &self,
        version: u64,
        state: BuildState,
        build: Build,
    ) -> BoxFuture<'_, Result<UpdateOutcome, StoreError>>;
}

/// Concurrency limits for dispatch: a global cap and optional per-project caps.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Limits {
    pub global: usize,
    pub per_project: HashMap<ProjectName, usize>,
    /// Builds (`project:uuid`) whose runner process is still alive even if the build left the queue (a
    /// runner records its final status a moment before it exits): each holds a slot until it is gone, so the
    /// limits count live runners, not only claimed entries. Adapters whose tasks are counted elsewhere may
    /// leave it empty.
    pub live: Vec<BuildId>,
}

/// A dispatch-queue entry: a build waiting for, or holding, a slot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueEntry {
    pub build_id: BuildId,
    pub project: ProjectName,
    /// Set once the build holds a slot and a task was launched for it.
    pub task: Option<String>,
    /// `true` when the entry holds a slot.
    pub claimed: bool,
}

/// What [`DispatchQueue::claim_build`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClaimOutcome {
    /// The build now holds a slot.
    Claimed(QueueEntry),
    /// The build is not waiting: already claimed, finished, or not in the queue.
    NotWaiting,
    /// Its project is at its `concurrentBuildLimit`.
    ProjectFull,
    /// As many builds as the global limit allows are running.
    GlobalFull,
}

/// The dispatch queue: QUEUED builds in arrival order, and the slots held by running ones.
pub trait DispatchQueue: Send + Sync {
    /// Claims up to `max` waiting builds, oldest first, skipping projects at their limit and stopping at the
    /// global limit; claimed entries hold a slot until [`DispatchQueue::release`].
    fn claim<'a>(
        &'a self,
        limits: &'a Limits,
        max: usize,
    ) -> BoxFuture<'a, Result<Vec<QueueEntry>, StoreError>>;

    /// Claims a slot for one waiting build, if the limits allow (the Lambda dispatcher, which is handed one
    /// build id per queue message, uses this instead of [`DispatchQueue::claim`]).
    fn claim_build<'a>(
        &'a self,
        build_id: &'a BuildId,
        limits: &'a Limits,
    ) -> BoxFuture<'a, Result<ClaimOutcome, StoreError>>;

    /// Records the task that runs a claimed build.
    fn assign<'a>(&'a self, build_id: &'a BuildId, task: &'a str) -> BoxFuture<'a, Result<(), StoreError>>;

    /// Removes a build from the queue, freeing its slot.
    fn release<'a>(&'a self, build_id: &'a BuildId) -> BoxFuture<'a, Result<(), StoreError>>;

    /// Every entry, waiting and claimed, oldest first.
    fn entries(&self) -> BoxFuture<'_, Result<Vec<QueueEntry>, StoreError>>;
}

/// How [`ProjectStore::put`] treats an existing project.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PutMode {
    /// Fail with [`StoreError::AlreadyExists`] if the name is taken.
    Create,
    /// Fail with [`StoreError::NotFound`] unless the name exists.
    Update,
    /// Create or replace.
    Upsert,
}

/// Project definitions by name, kept in CodeBuild's `Project` JSON shape by the adapters.
pub trait ProjectStore: Send + Sync {
    /// Reads one project; `Ok(None)` when there is none.
    fn get_project<'a>(
        &'a self,
        name: &'a ProjectName,
    ) -> BoxFuture<'a, Result<Option<StoredProject>, StoreError>>;

    /// Every project name, sorted.
    fn project_names(&self) -> BoxFuture<'_, Result<Vec<ProjectName>, StoreError>>;

    /// Stores `project` under its name as `mode` allows.
    fn put_project<'a>(
        &'a self,
        project: &'a StoredProject,
        mode: PutMode,
    ) -> BoxFuture<'a, Result<(), StoreError>>;

    /// Deletes a project (its builds are kept); deleting a missing project is not an error.
    fn delete_project<'a>(&'a self, name: &'a ProjectName) -> BoxFuture<'a, Result<(), StoreError>>;
}
