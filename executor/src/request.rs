//! What starting a build needs: [`BuildRequest`] (the build's parameters) and [`Ports`] (where its source
//! comes from, where its log, artifacts and cache go, and how its secrets resolve).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use kiln_core::ports::logs::LogSink;
use kiln_core::ports::secrets::SecretResolver;

use crate::env::EnvVarSpec;
use crate::logs::Terminal;
use crate::outputs::{ArtifactTarget, CacheTarget};
use crate::sandbox::SandboxConfig;
use crate::source::{SourceFetcher, SourceSpec};

/// Which buildspec applies (reference §1.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BuildspecSource {
    /// `buildspec.yml` at the source root.
    Default,
    /// A path relative to the source root (or absolute).
    Path(String),
    /// The buildspec's text itself.
    Inline(String),
}

/// Everything about one build the executor needs.
#[derive(Debug, Clone)]
pub struct BuildRequest {
    /// The project name (the build id is `<project>:<uuid>`).
    pub project: String,
    /// A build id chosen by the caller; generated when `None`.
    pub build_id: Option<String>,
    /// The per-project build number.
    pub build_number: u64,
    /// Who started the build (`CODEBUILD_INITIATOR`).
    pub initiator: String,
    /// Where the source comes from.
    pub source: SourceSpec,
    /// Which buildspec applies.
    pub buildspec: BuildspecSource,
    /// Project environment variables (middle precedence).
    pub project_env: Vec<EnvVarSpec>,
    /// Start-request overrides (highest precedence).
    pub override_env: Vec<EnvVarSpec>,
    /// `CODEBUILD_WEBHOOK_*` variables of a webhook build.
    pub webhook_env: Vec<(String, String)>,
    /// The base environment the shell inherits (see [`crate::env::inherited_base_env`]).
    pub base_env: Vec<(String, String)>,
    /// The build timeout.
    pub timeout: Duration,
    /// Run the shell in bubblewrap.
    pub sandbox: Option<SandboxConfig>,
    /// A scratch directory the executor owns for this build (control files, clones).
    pub work_dir: PathBuf,
    /// The region reported in `AWS_REGION` and ARNs.
    pub region: String,
    /// The account id in ARNs.
    pub account_id: String,
    /// `CODEBUILD_BUILD_IMAGE`.
    pub image: String,
}

impl BuildRequest {
    /// A request with local defaults: project `local`, build number 1, a one-hour timeout.
    pub fn local(source: SourceSpec, work_dir: PathBuf) -> Self {
        Self {
            project: "local".into(),
            build_id: None,
            build_number: 1,
            initiator: std::env::var("USER").unwrap_or_else(|_| "kiln".into()),
            source,
            buildspec: BuildspecSource::Default,
            project_env: Vec::new(),
            override_env: Vec::new(),
            webhook_env: Vec::new(),
            base_env: crate::env::inherited_base_env(),
            timeout: Duration::from_secs(3600),
            sandbox: None,
            work_dir,
            region: std::env::var("AWS_REGION").unwrap_or_else(|_| "us-east-1".into()),
            account_id: "000000000000".into(),
            image: "kiln/local".into(),
        }
    }
}

/// The ports a build reads and writes through.
pub struct Ports {
    /// What the source fetch may reach (object stores for S3 zips, repository tokens, CodeCommit's helper).
    pub source: SourceFetcher,
    /// Where the log goes.
    pub log: Arc<dyn LogSink>,
    /// Resolves Parameter Store and Secrets Manager variables.
    pub secrets: Arc<dyn SecretResolver>,
    /// A live copy of the log (e.g. stdout), if any.
    pub terminal: Option<Terminal>,
    /// Where artifacts go; `None` skips the upload (with a log line when the buildspec has artifacts).
    pub artifacts: Option<ArtifactTarget>,
    /// Where the cache lives; `None` disables the cache.
    pub cache: Option<CacheTarget>,
}
