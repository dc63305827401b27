//! The end of a run: what only the result knows (the commit built, exported variables, report summaries, the
//! primary artifact, the cost estimate) recorded as typed members, then FINALIZING, then the executor's verdict
//! if the phase records and the store ever disagreed. Every write is a use case, so a STOPPED or TIMED_OUT
//! build is never overwritten.

use kiln_core::build::{
    BuildArtifacts, BuildId, EstimatedCost, ExportedEnvironmentVariable, FailureAction, PhaseContext,
    PhaseType, ReportSummary, StatusType,
};
use kiln_core::usecases::Services;
use kiln_executor::BuildResult;
use serde::Serialize;

use crate::recorder::Finalizing;
use crate::{RunnerError, load, now};

/// The record members a result sets (serialised once, for the `annotate` use case).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct ResultMembers {
    #[serde(skip_serializing_if = "Option::is_none")]
    resolved_source_version: Option<String>,
    exported_environment_variables: Vec<ExportedEnvironmentVariable>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    report_summaries: Vec<ReportSummary>,
    #[serde(skip_serializing_if = "Option::is_none")]
    artifacts: Option<BuildArtifacts>,
    #[serde(skip_serializing_if = "Option::is_none")]
    estimated_cost: Option<EstimatedCost>,
}

impl ResultMembers {
    fn of(result: &BuildResult, cost: Option<EstimatedCost>) -> Self {
        ResultMembers {
            resolved_source_version: result.resolved_source_version.clone(),
            exported_environment_variables: result
                .exported_environment_variables
                .iter()
                .map(|v| ExportedEnvironmentVariable {
                    name: v.name.clone(),
                    value: v.value.clone(),
                })
                .collect(),
            report_summaries: kiln_executor::build_record::report_summaries(result),
            artifacts: result.artifacts.first().map(|primary| BuildArtifacts {
                location: Some(primary.location.clone()),
                sha256sum: Some(primary.sha256sum.clone()),
                md5sum: primary.md5sum.clone(),
                ..BuildArtifacts::default()
            }),
            estimated_cost: cost,
        }
    }
}

/// Records what only the result knows, then makes sure the build has ended with the executor's status.
pub async fn finish(
    services: &Services,
    id: &BuildId,
    result: &BuildResult,
    finalizing: Finalizing,
    cost: Option<EstimatedCost>,
) -> Result<(), RunnerError> {
    let members = serde_json::to_value(ResultMembers::of(result, cost))?;
    services.annotate(id, members, now()).await?;
    if let Some((status, contexts)) = finalizing {
        services
            .record_phase(
                id,
                PhaseType::Finalizing,
                status,
                FailureAction::Default,
                contexts,
                now(),
            )
            .await?;
    }
    let ended = load::build(services, id).await?.is_some_and(|b| b.is_complete());
    if !ended {
        // The phase records and the store disagreed somewhere: end the build with the executor's verdict.
        let status = match result.build_status {
            StatusType::Failed | StatusType::Fault | StatusType::TimedOut | StatusType::Stopped => {
                result.build_status
            }
            StatusType::Succeeded | StatusType::InProgress => StatusType::Fault,
        };
        let context = PhaseContext::new(
            "CLIENT_ERROR",
            format!("the executor ended with {}", result.build_status.as_str()),
        );
        services.finish_early(id, status, context, now()).await?;
    }
    Ok(())
}
