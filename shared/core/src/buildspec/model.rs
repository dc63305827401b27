//! The validated buildspec 0.2 model. Every value here has passed validation: the executor, the artifact
//! uploader and the batch planner read these types and never see raw YAML.
//!
//! Maps whose order matters to users (variables, secrets, reports, secondary artifacts) are kept as vectors
//! in file order. Commands are kept as the exact text written in the file, even when YAML would type the
//! scalar as a number or a boolean.

use crate::ports::secrets::SecretRef;

/// A parsed and validated buildspec (version 0.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Buildspec {
    /// The Linux user every command runs as unless a phase sets its own (`run-as`); `None` means root.
    pub run_as: Option<String>,
    /// The `env` section (shell, variables, secrets, exported variables).
    pub env: Env,
    /// The `proxy` section; parsed and otherwise ignored.
    pub proxy: Proxy,
    /// The `batch` section, present only for batch builds.
    pub batch: Option<Batch>,
    /// The declared phases, always in execution order (install, pre_build, build, post_build).
    pub phases: Vec<Phase>,
    /// The report groups, in file order.
    pub reports: Vec<ReportGroup>,
    /// The `artifacts` section.
    pub artifacts: Option<Artifacts>,
    /// The `cache` section.
    pub cache: Option<Cache>,
    /// Accepted but questionable content (deprecated or undocumented keys seen in real buildspecs).
    pub warnings: Vec<Warning>,
}

impl Buildspec {
    /// The phase with this name, if the buildspec declares it.
    pub fn phase(&self, name: PhaseName) -> Option<&Phase> {
        self.phases.iter().find(|phase| phase.name == name)
    }
}

/// Something the parser accepted but a user should hear about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// Key path, e.g. `env.compute-type`.
    pub path: String,
    /// 1-based line of the offending key or value.
    pub line: usize,
    /// 1-based column of the offending key or value.
    pub column: usize,
    /// What was accepted and what to do about it.
    pub message: String,
}

/// The `env` section.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Env {
    /// `env.shell`; `None` means the platform default (`sh` on Linux).
    pub shell: Option<Shell>,
    /// `env.variables`, in file order.
    pub variables: Vec<EnvVar>,
    /// `env.parameter-store`: each is a [`SecretRef::Parameter`].
    pub parameter_store: Vec<SecretVar>,
    /// `env.secrets-manager`: each is a [`SecretRef::Secret`].
    pub secrets_manager: Vec<SecretVar>,
    /// `env.exported-variables`.
    pub exported_variables: Vec<String>,
    /// `env.git-credential-helper`.
    pub git_credential_helper: bool,
}

/// The shell commands run in (`env.shell`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Shell {
    /// `sh` or `/bin/sh`.
    Sh,
    /// `bash` or `/bin/bash`.
    Bash,
    /// `powershell.exe` (Windows images).
    PowerShell,
    /// `cmd.exe` (Windows images).
    Cmd,
}

/// A plain-text variable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvVar {
    /// The variable name.
    pub name: String,
    /// The literal value (never expanded).
    pub value: String,
}

/// A variable whose value comes from Parameter Store or Secrets Manager.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretVar {
    /// The variable name.
    pub name: String,
    /// Where the value comes from.
    pub reference: SecretRef,
}

/// The `proxy` section.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Proxy {
    /// `proxy.upload-artifacts`.
    pub upload_artifacts: bool,
    /// `proxy.logs`.
    pub logs: bool,
}

/// The `batch` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch {
    /// `batch.fast-fail`: stop every running build when one fails.
    pub fast_fail: bool,
    /// Which of `build-list`, `build-graph` or `build-matrix` was given.
    pub kind: BatchKind,
}

/// The shape of a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BatchKind {
    /// `build-list`: independent builds.
    List(Vec<BatchBuild>),
    /// `build-graph`: builds with `depend-on` edges (validated: known identifiers).
    Graph(Vec<BatchBuild>),
    /// `build-matrix`: one build per combination of the dynamic values.
    Matrix(Box<BuildMatrix>),
}

/// One build of a `build-list` or `build-graph`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchBuild {
    /// `identifier`, unique within the batch.
    pub identifier: String,
    /// `buildspec`: another buildspec file; `None` means this one.
    pub buildspec: Option<String>,
    /// `debug-session`.
    pub debug_session: bool,
    /// `ignore-failure`: the batch may succeed even if this build fails.
    pub ignore_failure: bool,
    /// `env` overrides for this build.
    pub env: BatchEnv,
    /// `depend-on` (build-graph only).
    pub depend_on: Vec<String>,
}

/// Environment overrides of a batch build.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BatchEnv {
    /// `compute-type`.
    pub compute_type: Option<String>,
    /// `image`.
    pub image: Option<String>,
    /// `fleet` (a reserved-capacity fleet name or ARN).
    pub fleet: Option<String>,
    /// `privileged-mode`.
    pub privileged_mode: Option<bool>,
    /// `type` (environment type, e.g. `LINUX_CONTAINER`).
    pub environment_type: Option<String>,
    /// `variables`.
    pub variables: Vec<EnvVar>,
}

/// `batch.build-matrix`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BuildMatrix {
    /// `static.ignore-failure`.
    pub ignore_failure: bool,
    /// `static.env`.
    pub static_env: BatchEnv,
    /// `dynamic.buildspec`.
    pub buildspecs: Vec<String>,
    /// `dynamic.env.compute-type`.
    pub compute_types: Vec<String>,
    /// `dynamic.env.image`.
    pub images: Vec<String>,
    /// `dynamic.env.variables`: each name with its candidate values.
    pub variables: Vec<MatrixVariable>,
}

/// A variable of a build matrix with its candidate values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatrixVariable {
    /// The variable name.
    pub name: String,
    /// The values to combine.
    pub values: Vec<String>,
}

/// The four phases a buildspec may declare, in execution order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PhaseName {
    /// `install`.
    Install,
    /// `pre_build`.
    PreBuild,
    /// `build`.
    Build,
    /// `post_build`.
    PostBuild,
}

impl PhaseName {
    /// Every phase, in execution order.
    pub const ALL: [PhaseName; 4] = [Self::Install, Self::PreBuild, Self::Build, Self::PostBuild];

    /// The key as written in a buildspec (`pre_build`).
    pub fn key(self) -> &'static str {
        match self {
            Self::Install => "install",
            Self::PreBuild => "pre_build",
            Self::Build => "build",
            Self::PostBuild => "post_build",
        }
    }

    /// The phase type as CodeBuild reports it (`PRE_BUILD`).
    pub fn phase_type(self) -> &'static str {
        match self {
            Self::Install => "INSTALL",
            Self::PreBuild => "PRE_BUILD",
            Self::Build => "BUILD",
            Self::PostBuild => "POST_BUILD",
        }
    }
}

/// One declared phase.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Phase {
    /// Which phase.
    pub name: PhaseName,
    /// `run-as` for this phase only.
    pub run_as: Option<String>,
    /// `on-failure`; `None` follows the default transitions.
    pub on_failure: Option<OnFailure>,
    /// `runtime-versions` (install only), in file order.
    pub runtime_versions: Vec<RuntimeVersion>,
    /// `commands`, each the exact text of one list item.
    pub commands: Vec<String>,
    /// `finally`, run after `commands` even when one of them failed.
    pub finally: Vec<String>,
    /// GitHub Actions `steps` (the executor refuses `uses:` steps).
    pub steps: Vec<Step>,
}

/// A runtime requested in `install.runtime-versions`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuntimeVersion {
    /// The runtime (`java`, `nodejs`, ...).
    pub runtime: String,
    /// The version text (`corretto17`, `22`, `3.x`, `latest`, `$VAR`).
    pub version: String,
}

/// What to do when a phase fails (`on-failure`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OnFailure {
    /// `ABORT`: skip to the end of the build.
    Abort,
    /// `CONTINUE`: go on to the next phase (the build still counts as failing).
    Continue,
    /// `RETRY`, `RETRY-<count>`, `RETRY-<regex>` or `RETRY-<count>-<regex>`.
    Retry {
        /// The most retries; `None` means CodeBuild's default.
        count: Option<u32>,
        /// Retry only when the failure output matches this pattern.
        pattern: Option<String>,
    },
}

/// A GitHub Actions step inside a phase.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// `name`.
    pub name: Option<String>,
    /// `id`.
    pub id: Option<String>,
    /// `if`.
    pub condition: Option<String>,
    /// `env`.
    pub env: Vec<EnvVar>,
    /// `continue-on-error`.
    pub continue_on_error: bool,
    /// `timeout-minutes`.
    pub timeout_minutes: Option<u32>,
    /// What the step does: run a script or use an action.
    pub action: StepAction,
}

/// The body of a step: exactly one of `run` or `uses`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepAction {
    /// `run` with its optional `shell` and `working-directory`.
    Run {
        /// The script.
        script: String,
        /// `shell`.
        shell: Option<String>,
        /// `working-directory`.
        working_directory: Option<String>,
    },
    /// `uses` with its `with` inputs.
    Uses {
        /// The action reference (`owner/repo@ref`).
        action: String,
        /// `with`, in file order.
        with: Vec<EnvVar>,
    },
}

/// One report group of `reports`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportGroup {
    /// The group name or ARN (the key).
    pub name: String,
    /// `files` (required).
    pub files: Vec<String>,
    /// `base-directory`.
    pub base_directory: Option<String>,
    /// `discard-paths`.
    pub discard_paths: bool,
    /// `file-format` (default JUNITXML).
    pub file_format: ReportFormat,
}

/// Test and coverage report formats (`file-format`, case-insensitive in the file).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReportFormat {
    /// `CUCUMBERJSON`.
    CucumberJson,
    /// `JUNITXML` (the default).
    JunitXml,
    /// `NUNITXML`.
    NunitXml,
    /// `NUNIT3XML`.
    Nunit3Xml,
    /// `TESTNGXML`.
    TestNgXml,
    /// `VISUALSTUDIOTRX`.
    VisualStudioTrx,
    /// `CLOVERXML` (coverage).
    CloverXml,
    /// `COBERTURAXML` (coverage).
    CoberturaXml,
    /// `JACOCOXML` (coverage).
    JacocoXml,
    /// `SIMPLECOV` (coverage).
    SimpleCov,
}

/// The `artifacts` section: the primary artifact and any secondary ones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Artifacts {
    /// The primary artifact's settings.
    pub primary: ArtifactSet,
    /// `secondary-artifacts`, in file order.
    pub secondary: Vec<SecondaryArtifact>,
}

/// A named secondary artifact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecondaryArtifact {
    /// The artifact identifier (the key).
    pub identifier: String,
    /// Its settings.
    pub artifact: ArtifactSet,
}

/// What goes into one artifact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArtifactSet {
    /// `files` (required).
    pub files: Vec<String>,
    /// `name` (shell syntax, evaluated at build time).
    pub name: Option<String>,
    /// `discard-paths`.
    pub discard_paths: bool,
    /// `base-directory`.
    pub base_directory: Option<String>,
    /// `exclude-paths`.
    pub exclude_paths: Vec<String>,
    /// `enable-symlinks`.
    pub enable_symlinks: bool,
    /// `s3-prefix`.
    pub s3_prefix: Option<String>,
}

/// The `cache` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cache {
    /// `paths`.
    pub paths: Vec<String>,
    /// `key` (shell syntax, evaluated at build time).
    pub key: Option<String>,
    /// `fallback-keys`, tried in order when `key` misses.
    pub fallback_keys: Vec<String>,
    /// `action`; `None` means restore and save.
    pub action: Option<CacheAction>,
}

/// `cache.action`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CacheAction {
    /// `restore`: only download.
    Restore,
    /// `save`: only upload.
    Save,
}
