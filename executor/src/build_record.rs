//! The executor's [`BuildResult`] as the core's build record ([`Build`], CodeBuild's `Build` object): the phases
//! are replayed through the record's own state machine, so the record is one the core would have produced.

use kiln_core::build::{
    AccountContext, Build, BuildArtifacts, BuildId, ExportedEnvironmentVariable, LogsLocation, PhaseContext,
    PhaseType, ReportSummary, Timestamp, TransitionError,
};

use crate::record::{BuildResult, PhaseRecord};

/// Why a result could not become a record.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error("build id {id:?} is not a CodeBuild build id: {message}")]
    Id { id: String, message: String },
    #[error("phase {phase} could not be recorded: {source}")]
    Transition {
        phase: PhaseType,
        #[source]
        source: TransitionError,
    },
}

fn at(seconds: f64) -> Timestamp {
    Timestamp::from_epoch_millis((seconds * 1000.0).round() as i64)
}

/// Builds the core record for `result`, in `region` and `account`.
pub fn to_build(result: &BuildResult, region: &str, account: &str) -> Result<Build, RecordError> {
    let id = BuildId::parse(&result.id).map_err(|e| RecordError::Id {
        id: result.id.clone(),
        message: e.to_string(),
    })?;
    let account = AccountContext::new("aws", region, account);
    let mut build = Build::new(id, result.build_number, &account, at(result.start_time));
    for phase in result
        .phases
        .iter()
        .filter(|p| p.phase_type != PhaseType::Completed)
    {
        replay(&mut build, phase)?;
    }
    build.source_version = result.source_version.clone();
    build.resolved_source_version = result.resolved_source_version.clone();
    build.initiator = Some(result.initiator.clone());
    build.timeout_in_minutes = u32::try_from(result.timeout_in_minutes).unwrap_or(u32::MAX);
    build.exported_environment_variables = Some(
        result
            .exported_environment_variables
            .iter()
            .map(|v| ExportedEnvironmentVariable {
                name: v.name.clone(),
                value: v.value.clone(),
            })
            .collect(),
    );
    let mut artifacts = result.artifacts.iter().map(|a| BuildArtifacts {
        location: Some(a.location.clone()),
        sha256sum: Some(a.sha256sum.clone()),
        md5sum: a.md5sum.clone(),
        artifact_identifier: a.artifact_identifier.clone(),
        ..BuildArtifacts::default()
    });
    build.artifacts = artifacts.next();
    let secondary: Vec<BuildArtifacts> = artifacts.collect();
    build.secondary_artifacts = (!secondary.is_empty()).then_some(secondary);
    build.logs = result.log_location.as_ref().map(|location| LogsLocation {
        stream_name: result.id.rsplit(':').next().map(str::to_owned),
        s3_logs_arn: Some(location.clone()),
        deep_link: Some(location.clone()),
        ..LogsLocation::default()
    });
    let summaries = report_summaries(result);
    build.report_summaries = (!summaries.is_empty()).then_some(summaries);
    Ok(build)
}

/// The build record's `reportSummaries` for the executor's report groups (errors count as failures).
pub fn report_summaries(result: &BuildResult) -> Vec<ReportSummary> {
    result
        .reports
        .iter()
        .map(|r| ReportSummary {
            name: r.name.clone(),
            file_format: Some(r.format.clone()),
            total: r.total,
            passed: r.passed,
            failed: r.failed + r.errors,
            skipped: r.skipped,
            duration_in_seconds: Some(r.duration_seconds),
            failing_tests: r.failing.clone(),
        })
        .collect()
}

fn replay(build: &mut Build, phase: &PhaseRecord) -> Result<(), RecordError> {
    let Some(status) = phase.phase_status else {
        return Ok(());
    };
    let contexts = phase
        .contexts
        .iter()
        .map(|c| PhaseContext::new(c.status_code.clone(), c.message.clone()))
        .collect();
    let end = at(phase.end_time.unwrap_or(phase.start_time));
    build
        .end_phase(phase.phase_type, status, phase.action, contexts, end)
        .map(|_| ())
        .map_err(|source| RecordError::Transition {
            phase: phase.phase_type,
            source,
        })
}
