//! Test and coverage reports: the files a buildspec's `reports.<group>` names (same location forms as
//! artifacts) are parsed by `file-format` (case-insensitive, default `JUNITXML`) and summarised per report group
//! for the build record. Reports never fail a build: unreadable or malformed files become `problems` notes.

mod coverage;
mod cucumber;
mod error;
mod test_formats;
mod xml;

use std::path::Path;

use kiln_core::buildspec;
use serde::Serialize;

use self::error::ReportError;
use crate::artifacts::select::{self, SelectOptions, SymlinkPolicy};

/// How many failing test names a summary keeps.
pub const MAX_FAILING: usize = 50;
/// Test-case names are cut to this many characters (CodeBuild's limit).
const MAX_NAME: usize = 1000;
/// Report files larger than this are not parsed.
const MAX_FILE_BYTES: u64 = 256 * 1024 * 1024;

/// One report group as the buildspec declares it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReportSpec {
    /// The group name (or ARN) as written in the buildspec.
    pub name: String,
    /// `files`: location patterns.
    pub files: Vec<String>,
    /// `base-directory`.
    pub base_directory: Option<String>,
    /// `discard-paths` (changes only the names under which files are reported).
    pub discard_paths: bool,
    /// `file-format` as written (case-insensitive); `None` means JUNITXML.
    pub file_format: Option<String>,
}

/// The report formats CodeBuild accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum ReportFormat {
    Junitxml,
    Cucumberjson,
    Nunitxml,
    Nunit3xml,
    Testngxml,
    Visualstudiotrx,
    Cloverxml,
    Coberturaxml,
    Jacocoxml,
    Simplecov,
}

impl ReportFormat {
    /// Parses a `file-format` value, ignoring case; `None` for an unknown value.
    pub fn parse(value: &str) -> Option<Self> {
        let format = match value.trim().to_ascii_uppercase().as_str() {
            "JUNITXML" => Self::Junitxml,
            "CUCUMBERJSON" => Self::Cucumberjson,
            "NUNITXML" => Self::Nunitxml,
            "NUNIT3XML" => Self::Nunit3xml,
            "TESTNGXML" => Self::Testngxml,
            "VISUALSTUDIOTRX" => Self::Visualstudiotrx,
            "CLOVERXML" => Self::Cloverxml,
            "COBERTURAXML" => Self::Coberturaxml,
            "JACOCOXML" => Self::Jacocoxml,
            "SIMPLECOV" => Self::Simplecov,
            _ => return None,
        };
        Some(format)
    }

    /// The format's name as CodeBuild spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Junitxml => "JUNITXML",
            Self::Cucumberjson => "CUCUMBERJSON",
            Self::Nunitxml => "NUNITXML",
            Self::Nunit3xml => "NUNIT3XML",
            Self::Testngxml => "TESTNGXML",
            Self::Visualstudiotrx => "VISUALSTUDIOTRX",
            Self::Cloverxml => "CLOVERXML",
            Self::Coberturaxml => "COBERTURAXML",
            Self::Jacocoxml => "JACOCOXML",
            Self::Simplecov => "SIMPLECOV",
        }
    }

    /// Whether this is a code-coverage format (else a test format).
    pub fn is_coverage(self) -> bool {
        match self {
            Self::Cloverxml | Self::Coberturaxml | Self::Jacocoxml | Self::Simplecov => true,
            Self::Junitxml
            | Self::Cucumberjson
            | Self::Nunitxml
            | Self::Nunit3xml
            | Self::Testngxml
            | Self::Visualstudiotrx => false,
        }
    }
}

impl From<buildspec::ReportFormat> for ReportFormat {
    fn from(format: buildspec::ReportFormat) -> Self {
        match format {
            buildspec::ReportFormat::CucumberJson => Self::Cucumberjson,
            buildspec::ReportFormat::JunitXml => Self::Junitxml,
            buildspec::ReportFormat::NunitXml => Self::Nunitxml,
            buildspec::ReportFormat::Nunit3Xml => Self::Nunit3xml,
            buildspec::ReportFormat::TestNgXml => Self::Testngxml,
            buildspec::ReportFormat::VisualStudioTrx => Self::Visualstudiotrx,
            buildspec::ReportFormat::CloverXml => Self::Cloverxml,
            buildspec::ReportFormat::CoberturaXml => Self::Coberturaxml,
            buildspec::ReportFormat::JacocoXml => Self::Jacocoxml,
            buildspec::ReportFormat::SimpleCov => Self::Simplecov,
        }
    }
}

impl From<&buildspec::ReportGroup> for ReportSpec {
    fn from(group: &buildspec::ReportGroup) -> Self {
        Self {
            name: group.name.clone(),
            files: group.files.clone(),
            base_directory: group.base_directory.clone(),
            discard_paths: group.discard_paths,
            file_format: Some(ReportFormat::from(group.file_format).as_str().to_owned()),
        }
    }
}

/// The summary of one report group, for the build record and the final summary.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReportGroupSummary {
    /// The group name as written in the buildspec.
    pub name: String,
    /// The file format (canonical spelling), or the unknown value as written.
    pub format: String,
    /// `TEST` or `CODE_COVERAGE` (CodeBuild's report types).
    pub report_type: &'static str,
    /// `SUCCEEDED` (all passed), `FAILED` (a test failed or errored) or `INCOMPLETE` (problems, nothing read).
    pub status: &'static str,
    /// Report files read.
    pub files: usize,
    pub total: u64,
    pub passed: u64,
    pub failed: u64,
    pub skipped: u64,
    pub errors: u64,
    /// Sum of the test cases' durations.
    pub duration_seconds: f64,
    /// Names of failed and errored tests, at most [`MAX_FAILING`].
    pub failing: Vec<String>,
    /// Line coverage for coverage formats.
    pub line_coverage_percent: Option<f64>,
    /// What could not be read, and why.
    pub problems: Vec<String>,
}

/// A test case's outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Outcome {
    Passed,
    Skipped,
    Failed,
    Error,
}

impl Outcome {
    /// The more severe of two outcomes (a failure beats a skip, an error beats a failure).
    fn worst(self, other: Self) -> Self {
        self.max(other)
    }
}

/// Counts of one or more report files.
#[derive(Debug, Clone, Default)]
struct Tally {
    total: u64,
    failed: u64,
    errors: u64,
    skipped: u64,
    duration: f64,
    failing: Vec<String>,
}

impl Tally {
    fn record(&mut self, name: String, outcome: Outcome, seconds: f64) {
        self.total += 1;
        self.duration += seconds.max(0.0);
        match outcome {
            Outcome::Passed => return,
            Outcome::Skipped => {
                self.skipped += 1;
                return;
            }
            Outcome::Failed => self.failed += 1,
            Outcome::Error => self.errors += 1,
        }
        if self.failing.len() < MAX_FAILING {
            self.failing.push(name.chars().take(MAX_NAME).collect());
        }
    }

    fn add(&mut self, other: Tally) {
        self.total += other.total;
        self.failed += other.failed;
        self.errors += other.errors;
        self.skipped += other.skipped;
        self.duration += other.duration;
        let room = MAX_FAILING.saturating_sub(self.failing.len());
        self.failing.extend(other.failing.into_iter().take(room));
    }
}

/// Finds, parses and summarises one report group's files under `src_dir`.
pub fn summarise(spec: &ReportSpec, src_dir: &Path) -> ReportGroupSummary {
    let raw_format = spec.file_format.as_deref().unwrap_or("JUNITXML");
    let format = ReportFormat::parse(raw_format);
    let mut summary = ReportGroupSummary {
        name: spec.name.clone(),
        format: format.map_or_else(|| raw_format.to_owned(), |f| f.as_str().to_owned()),
        report_type: if format.is_some_and(ReportFormat::is_coverage) {
            "CODE_COVERAGE"
        } else {
            "TEST"
        },
        status: "INCOMPLETE",
        files: 0,
        total: 0,
        passed: 0,
        failed: 0,
        skipped: 0,
        errors: 0,
        duration_seconds: 0.0,
        failing: Vec::new(),
        line_coverage_percent: None,
        problems: Vec::new(),
    };
    let Some(format) = format else {
        summary.problems.push(format!(
            "unknown file-format {raw_format:?}; use one of JUNITXML, CUCUMBERJSON, NUNITXML, NUNIT3XML, \
             TESTNGXML, VISUALSTUDIOTRX, CLOVERXML, COBERTURAXML, JACOCOXML, SIMPLECOV"
        ));
        return summary;
    };
    let files = match select_files(spec, src_dir) {
        Ok(files) => files,
        Err(problem) => {
            summary.problems.push(problem.to_string());
            return summary;
        }
    };
    let mut tally = Tally::default();
    let mut lines = coverage::Lines::default();
    for (name, path) in files {
        match read(&path).and_then(|bytes| parse(format, &bytes)) {
            Ok(Parsed::Tests(t)) => tally.add(t),
            Ok(Parsed::Coverage(l)) => {
                lines.covered += l.covered;
                lines.total += l.total;
            }
            Err(problem) => {
                summary.problems.push(format!("{name}: {problem}"));
                continue;
            }
        }
        summary.files += 1;
    }
    summary.total = tally.total;
    summary.failed = tally.failed;
    summary.errors = tally.errors;
    summary.skipped = tally.skipped;
    summary.passed = tally.total - tally.failed - tally.errors - tally.skipped;
    summary.duration_seconds = (tally.duration * 1000.0).round() / 1000.0;
    summary.failing = tally.failing;
    if format.is_coverage() && lines.total > 0.0 {
        summary.line_coverage_percent = Some((lines.covered / lines.total * 10_000.0).round() / 100.0);
    }
    summary.status = if summary.files == 0 {
        "INCOMPLETE"
    } else if summary.failed + summary.errors > 0 {
        "FAILED"
    } else {
        "SUCCEEDED"
    };
    summary
}

enum Parsed {
    Tests(Tally),
    Coverage(coverage::Lines),
}

fn parse(format: ReportFormat, bytes: &[u8]) -> Result<Parsed, ReportError> {
    match format {
        ReportFormat::Junitxml => test_formats::junit(bytes).map(Parsed::Tests),
        ReportFormat::Cucumberjson => cucumber::cucumber(bytes).map(Parsed::Tests),
        ReportFormat::Nunitxml | ReportFormat::Nunit3xml => test_formats::nunit(bytes).map(Parsed::Tests),
        ReportFormat::Testngxml => test_formats::testng(bytes).map(Parsed::Tests),
        ReportFormat::Visualstudiotrx => test_formats::trx(bytes).map(Parsed::Tests),
        ReportFormat::Cloverxml => coverage::clover(bytes).map(Parsed::Coverage),
        ReportFormat::Coberturaxml => coverage::cobertura(bytes).map(Parsed::Coverage),
        ReportFormat::Jacocoxml => coverage::jacoco(bytes).map(Parsed::Coverage),
        ReportFormat::Simplecov => coverage::simplecov(bytes).map(Parsed::Coverage),
    }
}

fn select_files(spec: &ReportSpec, src_dir: &Path) -> Result<Vec<(String, std::path::PathBuf)>, ReportError> {
    let selection = select::select(
        src_dir,
        &SelectOptions {
            files: &spec.files,
            base_directory: spec.base_directory.as_deref(),
            exclude_paths: &[],
            discard_paths: spec.discard_paths,
            symlinks: SymlinkPolicy::KeepInside,
            allow_absolute: false,
        },
    )?;
    if selection.entries.is_empty() {
        return Err(ReportError::NoFilesMatched {
            patterns: spec.files.clone(),
        });
    }
    Ok(selection
        .entries
        .into_iter()
        .map(|e| (e.name, e.source))
        .collect())
}

fn read(path: &Path) -> Result<Vec<u8>, ReportError> {
    let size = std::fs::metadata(path).map_err(ReportError::Read)?.len();
    if size > MAX_FILE_BYTES {
        return Err(ReportError::TooLarge {
            size,
            limit: MAX_FILE_BYTES,
        });
    }
    std::fs::read(path).map_err(ReportError::Read)
}

#[cfg(test)]
mod tests;
