//! Members of CodeBuild's requests that Kiln does not support yet. A request that sets one to anything but its
//! default (what CodeBuild returns for a project that does not use it, so a definition read from CodeBuild can
//! be sent back unchanged) is refused with a 400 naming the member and saying it is not supported yet, rather
//! than having it dropped silently; a default is removed before the request is read.
//!
//! When the work that supports a member lands, its row goes (and the member is read and validated where the
//! rest of the request is).

use serde_json::{Map, Value};

use crate::error::AppError;

/// One member Kiln does not support yet.
struct Unsupported {
    /// The member's name in the request.
    member: &'static str,
    /// Whether a value is the member's default (accepted and removed).
    is_default: fn(&Value) -> bool,
    /// What a user should know or do instead.
    hint: &'static str,
}

/// An absent-equivalent value: null, false, 0, "", [] or {}.
fn empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty(),
        Value::Array(items) => items.is_empty(),
        Value::Object(members) => members.is_empty() || members.values().all(empty),
    }
}

/// CodeBuild's default encryption key: the account's AWS-managed S3 key, which is what Kiln's buckets use.
fn default_key(value: &Value) -> bool {
    empty(value)
        || value
            .as_str()
            .is_some_and(|key| key == "alias/aws/s3" || key.ends_with(":alias/aws/s3"))
}

fn private(value: &Value) -> bool {
    empty(value) || value.as_str() == Some("PRIVATE")
}

/// A `vpcConfig` that names no subnets (CodeBuild returns `{}` or only a `vpcId` for projects without one).
fn no_subnets(value: &Value) -> bool {
    empty(value) || value.get("subnets").is_none_or(empty)
}

const PROJECT: &[Unsupported] = &[
    Unsupported {
        member: "vpcConfig",
        is_default: no_subnets,
        hint: "builds run in the stack's own subnets (the template's RunnerSubnets)",
    },
    Unsupported {
        member: "fileSystemLocations",
        is_default: empty,
        hint: "EFS volumes are not mounted into builds",
    },
    Unsupported {
        member: "encryptionKey",
        is_default: default_key,
        hint: "artifacts are encrypted with the buckets' own key; leave it unset or alias/aws/s3",
    },
    Unsupported {
        member: "buildBatchConfig",
        is_default: empty,
        hint: "batch builds are not supported",
    },
    Unsupported {
        member: "secondarySources",
        is_default: empty,
        hint: "a build has its primary source only",
    },
    Unsupported {
        member: "secondarySourceVersions",
        is_default: empty,
        hint: "a build has its primary source only",
    },
    Unsupported {
        member: "badgeEnabled",
        is_default: empty,
        hint: "build badges are not served",
    },
    Unsupported {
        member: "projectVisibility",
        is_default: private,
        hint: "projects are never public",
    },
    Unsupported {
        member: "resourceAccessRole",
        is_default: empty,
        hint: "projects are never public",
    },
    Unsupported {
        member: "autoRetryLimit",
        is_default: empty,
        hint: "retry a failed build with RetryBuild",
    },
];

const START_BUILD: &[Unsupported] = &[
    Unsupported {
        member: "secondarySourcesOverride",
        is_default: empty,
        hint: "a build has its primary source only",
    },
    Unsupported {
        member: "secondarySourcesVersionOverride",
        is_default: empty,
        hint: "a build has its primary source only",
    },
    Unsupported {
        member: "artifactsOverride",
        is_default: empty,
        hint: "change the project's artifacts with UpdateProject",
    },
    Unsupported {
        member: "secondaryArtifactsOverride",
        is_default: empty,
        hint: "change the project's secondaryArtifacts with UpdateProject",
    },
    Unsupported {
        member: "sourceTypeOverride",
        is_default: empty,
        hint: "change the project's source with UpdateProject",
    },
    Unsupported {
        member: "sourceAuthOverride",
        is_default: empty,
        hint: "give the project's source a token secret instead",
    },
    Unsupported {
        member: "gitCloneDepthOverride",
        is_default: empty,
        hint: "set the project's source.gitCloneDepth",
    },
    Unsupported {
        member: "gitSubmodulesConfigOverride",
        is_default: empty,
        hint: "submodules are not fetched",
    },
    Unsupported {
        member: "insecureSslOverride",
        is_default: empty,
        hint: "TLS is always verified",
    },
    Unsupported {
        member: "reportBuildStatusOverride",
        is_default: empty,
        hint: "commit statuses are not reported to the provider",
    },
    Unsupported {
        member: "buildStatusConfigOverride",
        is_default: empty,
        hint: "commit statuses are not reported to the provider",
    },
    Unsupported {
        member: "environmentTypeOverride",
        is_default: empty,
        hint: "change the project's environment with UpdateProject",
    },
    Unsupported {
        member: "imageOverride",
        is_default: empty,
        hint: "change the project's environment with UpdateProject",
    },
    Unsupported {
        member: "computeTypeOverride",
        is_default: empty,
        hint: "change the project's environment with UpdateProject",
    },
    Unsupported {
        member: "certificateOverride",
        is_default: empty,
        hint: "change the project's environment with UpdateProject",
    },
    Unsupported {
        member: "cacheOverride",
        is_default: empty,
        hint: "change the project's cache with UpdateProject",
    },
    Unsupported {
        member: "serviceRoleOverride",
        is_default: empty,
        hint: "builds get no per-build role yet",
    },
    Unsupported {
        member: "privilegedModeOverride",
        is_default: empty,
        hint: "builds have no Docker daemon",
    },
    Unsupported {
        member: "encryptionKeyOverride",
        is_default: default_key,
        hint: "artifacts are encrypted with the buckets' own key",
    },
    Unsupported {
        member: "logsConfigOverride",
        is_default: empty,
        hint: "change the project's logsConfig with UpdateProject",
    },
    Unsupported {
        member: "registryCredentialOverride",
        is_default: empty,
        hint: "images are not pulled per build",
    },
    Unsupported {
        member: "imagePullCredentialsTypeOverride",
        is_default: empty,
        hint: "images are not pulled per build",
    },
    Unsupported {
        member: "debugSessionEnabled",
        is_default: empty,
        hint: "Session Manager debugging is not offered",
    },
    Unsupported {
        member: "fleetOverride",
        is_default: empty,
        hint: "reserved-capacity fleets are not offered",
    },
    Unsupported {
        member: "autoRetryLimitOverride",
        is_default: empty,
        hint: "retry a failed build with RetryBuild",
    },
    Unsupported {
        member: "hostKernelOverride",
        is_default: empty,
        hint: "the host kernel is not chosen per build",
    },
];

/// Checks a CreateProject or UpdateProject body: defaults of unsupported members removed, anything else refused.
pub(super) fn project(body: &mut Value) -> Result<(), AppError> {
    check(body, PROJECT)
}

/// Checks a StartBuild body the same way.
pub(super) fn start_build(body: &mut Value) -> Result<(), AppError> {
    check(body, START_BUILD)
}

fn check(body: &mut Value, table: &[Unsupported]) -> Result<(), AppError> {
    let Some(members) = body.as_object_mut() else {
        return Ok(());
    };
    for row in table {
        refuse(members, row)?;
    }
    Ok(())
}

fn refuse(members: &mut Map<String, Value>, row: &Unsupported) -> Result<(), AppError> {
    match members.get(row.member) {
        None => Ok(()),
        Some(value) if (row.is_default)(value) => {
            members.remove(row.member);
            Ok(())
        }
        Some(_) => Err(AppError::invalid(format!(
            "{}: not supported yet by Kiln ({}); remove the member",
            row.member, row.hint
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn message(result: Result<(), AppError>) -> String {
        match result {
            Err(AppError::Api {
                kind: "InvalidInputException",
                message,
            }) => message,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn a_set_member_is_refused_by_name_and_a_default_is_removed() {
        let mut body = json!({"name": "p", "vpcConfig": {"vpcId": "vpc-1", "subnets": [], "securityGroupIds": []},
                              "badgeEnabled": false, "encryptionKey": "arn:aws:kms:us-east-1:1:alias/aws/s3",
                              "projectVisibility": "PRIVATE", "secondaryArtifacts": [{"type": "S3"}]});
        project(&mut body).unwrap();
        assert_eq!(body, json!({"name": "p", "secondaryArtifacts": [{"type": "S3"}]}));

        let mut body = json!({"name": "p", "vpcConfig": {"vpcId": "vpc-1", "subnets": ["subnet-1"]}});
        let refused = message(project(&mut body));
        assert!(
            refused.starts_with("vpcConfig: not supported yet by Kiln"),
            "{refused}"
        );
        let mut body = json!({"name": "p", "encryptionKey": "arn:aws:kms:us-east-1:1:key/abc"});
        assert!(message(project(&mut body)).starts_with("encryptionKey: not supported yet"));
    }

    #[test]
    fn start_build_overrides_kiln_cannot_honour_are_refused() {
        let mut body = json!({"projectName": "p", "imageOverride": "aws/codebuild/standard:7.0",
                              "privilegedModeOverride": false});
        let refused = message(start_build(&mut body));
        assert!(
            refused.starts_with("imageOverride: not supported yet by Kiln"),
            "{refused}"
        );
        let mut body =
            json!({"projectName": "p", "privilegedModeOverride": false, "debugSessionEnabled": false});
        start_build(&mut body).unwrap();
        assert_eq!(body, json!({"projectName": "p"}));
    }
}
