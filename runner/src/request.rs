//! A stored build as the executor's [`BuildRequest`]: its source, buildspec, environment variables (secrets as
//! references), webhook variables, timeout, image and identity.

use std::path::PathBuf;
use std::time::Duration;

use kiln_core::build::{AccountContext, Build};
use kiln_core::buildspec::secret_ref;
use kiln_core::ports::secrets::SecretRef;
use kiln_core::project::{BuildspecRef, EnvironmentVariable, EnvironmentVariableType, SourceType};
use kiln_executor::env::{EnvValue, EnvVarSpec};
use kiln_executor::source::{GitCredentials, SourceSpec};
use kiln_executor::{BuildRequest, BuildspecSource};

use crate::RunnerError;

/// The image a build reports when its record names none.
const DEFAULT_IMAGE: &str = "kiln/local";

/// The executor request for `build`, reporting `account`'s region and account id, working in `work_dir`.
pub fn build_request(
    build: &Build,
    account: &AccountContext,
    work_dir: PathBuf,
) -> Result<BuildRequest, RunnerError> {
    let buildspec = match build.source.as_ref().map(|s| &s.buildspec) {
        None | Some(BuildspecRef::Default) => BuildspecSource::Default,
        Some(BuildspecRef::Inline(text)) => BuildspecSource::Inline(text.clone()),
        Some(BuildspecRef::Path(path)) => BuildspecSource::Path(path.clone()),
        Some(BuildspecRef::S3(arn)) => return Err(RunnerError::S3Buildspec(arn.clone())),
    };
    let mut request = BuildRequest::local(source_spec(build), work_dir);
    request.project = build.project_name().to_string();
    request.build_id = Some(build.id().to_string());
    request.build_number = build.build_number();
    request.initiator = build.initiator.clone().unwrap_or_else(|| "kiln".to_owned());
    request.buildspec = buildspec;
    let variables = build
        .environment
        .as_ref()
        .map(|e| e.environment_variables.as_slice());
    request.override_env = variables
        .unwrap_or_default()
        .iter()
        .map(env_spec)
        .collect::<Result<_, _>>()?;
    request.webhook_env = build
        .webhook_variables
        .iter()
        .map(|v| (v.name.clone(), v.value.clone()))
        .collect();
    request.timeout = Duration::from_secs(u64::from(build.timeout_in_minutes) * 60);
    request.image = build
        .environment
        .as_ref()
        .map_or(DEFAULT_IMAGE, |e| e.image.as_str())
        .to_owned();
    account.region().clone_into(&mut request.region);
    account.account().clone_into(&mut request.account_id);
    Ok(request)
}

/// Where `build`'s source comes from: its `source` (type, location, clone depth, credentials) at its
/// `sourceVersion`; a build without a source (NO_SOURCE) gets an empty directory.
pub fn source_spec(build: &Build) -> SourceSpec {
    let Some(source) = &build.source else {
        return SourceSpec::Empty;
    };
    let location = source.location.clone().unwrap_or_default();
    match source.source_type {
        SourceType::NoSource => SourceSpec::Empty,
        SourceType::S3 => SourceSpec::S3 { location },
        SourceType::Github
        | SourceType::GithubEnterprise
        | SourceType::Gitlab
        | SourceType::GitlabSelfManaged
        | SourceType::Bitbucket
        | SourceType::Gitea
        | SourceType::Git
        | SourceType::Codecommit => SourceSpec::Git {
            url: location,
            version: build.source_version.clone(),
            depth: source.git_clone_depth.unwrap_or(0),
            credentials: GitCredentials::for_source(source),
        },
    }
}

/// A build environment variable for the executor: PARAMETER_STORE and SECRETS_MANAGER values are references
/// the executor resolves (a Secrets Manager one in all four parts, `secret-id:json-key:version-stage:version-id`).
fn env_spec(var: &EnvironmentVariable) -> Result<EnvVarSpec, RunnerError> {
    let value = var.value.clone();
    let value = match var.variable_type {
        EnvironmentVariableType::Plaintext => EnvValue::Plain(value),
        EnvironmentVariableType::ParameterStore => EnvValue::Secret(SecretRef::Parameter(value)),
        EnvironmentVariableType::SecretsManager => {
            EnvValue::Secret(secret_ref(&value).map_err(|source| RunnerError::SecretReference {
                name: var.name.clone(),
                value,
                source,
            })?)
        }
    };
    Ok(EnvVarSpec {
        name: var.name.clone(),
        value,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn build(members: serde_json::Value) -> Build {
        let mut record = json!({
            "id": "web:0b6c2c56-5f1a-4a49-9a39-0c2d2b4f9f10",
            "arn": "arn:aws:codebuild:eu-west-1:123456789012:build/web:0b6c2c56-5f1a-4a49-9a39-0c2d2b4f9f10",
            "buildNumber": 7, "startTime": 1700000000.0, "currentPhase": "SUBMITTED",
            "buildStatus": "IN_PROGRESS", "projectName": "web", "phases": [],
            "timeoutInMinutes": 15, "queuedTimeoutInMinutes": 480, "buildComplete": false,
        });
        if let (Some(out), Some(add)) = (record.as_object_mut(), members.as_object()) {
            out.extend(add.clone());
        }
        serde_json::from_value(record).expect("a build record")
    }

    #[test]
    fn a_stored_build_becomes_the_executor_request() {
        let build = build(json!({
            "initiator": "octocat",
            "sourceVersion": "pr/12",
            "source": {"type": "GITHUB", "location": "https://github.com/o/web.git", "gitCloneDepth": 3,
                       "buildspec": "ci/buildspec.yml",
                       "auth": {"type": "SECRETS_MANAGER", "resource": "arn:aws:secretsmanager:eu-west-1:1:secret:t"}},
            "environment": {"type": "LINUX_CONTAINER", "image": "img:1", "computeType": "BUILD_GENERAL1_SMALL",
                            "environmentVariables": [
                                {"name": "A", "value": "1"},
                                {"name": "P", "value": "/param", "type": "PARAMETER_STORE"},
                                {"name": "S", "value": "sec", "type": "SECRETS_MANAGER"},
                                {"name": "J", "value": "arn:aws:secretsmanager:eu-west-1:1:secret:db:pw:AWSPREVIOUS",
                                 "type": "SECRETS_MANAGER"}]},
            "webhookVariables": [{"name": "CODEBUILD_WEBHOOK_TRIGGER", "value": "pr/12"}],
        }));
        let account = AccountContext::new("aws", "eu-west-1", "123456789012");
        let request = build_request(&build, &account, PathBuf::from("/w")).unwrap();
        assert_eq!(request.build_id.as_deref(), Some(build.id().as_str()));
        assert_eq!((request.project.as_str(), request.build_number), ("web", 7));
        assert_eq!(request.initiator, "octocat");
        assert_eq!(
            request.buildspec,
            BuildspecSource::Path("ci/buildspec.yml".into())
        );
        assert_eq!(request.timeout, Duration::from_secs(15 * 60));
        assert_eq!(request.image, "img:1");
        assert_eq!(
            (request.region.as_str(), request.account_id.as_str()),
            ("eu-west-1", "123456789012")
        );
        assert_eq!(
            request.webhook_env,
            [("CODEBUILD_WEBHOOK_TRIGGER".to_owned(), "pr/12".to_owned())]
        );
        let values: Vec<(&str, &EnvValue)> = request
            .override_env
            .iter()
            .map(|v| (v.name.as_str(), &v.value))
            .collect();
        assert_eq!(values[0], ("A", &EnvValue::Plain("1".into())));
        assert_eq!(
            values[1],
            ("P", &EnvValue::Secret(SecretRef::Parameter("/param".into())))
        );
        assert_eq!(
            values[2].1,
            &EnvValue::Secret(SecretRef::Secret {
                secret_id: "sec".into(),
                json_key: None,
                version_stage: None,
                version_id: None
            })
        );
        assert_eq!(
            values[3].1,
            &EnvValue::Secret(SecretRef::Secret {
                secret_id: "arn:aws:secretsmanager:eu-west-1:1:secret:db".into(),
                json_key: Some("pw".into()),
                version_stage: Some("AWSPREVIOUS".into()),
                version_id: None
            })
        );
        let SourceSpec::Git {
            url,
            version,
            depth,
            credentials,
        } = &request.source
        else {
            panic!("a git source: {:?}", request.source);
        };
        assert_eq!(
            (url.as_str(), version.as_deref(), *depth),
            ("https://github.com/o/web.git", Some("pr/12"), 3)
        );
        let token = credentials.token.as_ref().expect("the source's token");
        assert_eq!(token.username, "x-access-token");
        assert!(!credentials.codecommit);
    }

    #[test]
    fn no_source_s3_and_codecommit_sources_and_an_s3_buildspec() {
        let none = build(json!({}));
        assert_eq!(source_spec(&none), SourceSpec::Empty);
        let inline = "version: 0.2\nphases:\n  build:\n    commands:\n      - echo hi\n";
        let empty = build(json!({"source": {"type": "NO_SOURCE", "buildspec": inline}}));
        assert_eq!(source_spec(&empty), SourceSpec::Empty);
        let request = build_request(&empty, &AccountContext::local(), PathBuf::from("/w")).unwrap();
        assert_eq!(request.buildspec, BuildspecSource::Inline(inline.into()));
        assert_eq!(
            (request.region.as_str(), request.image.as_str()),
            ("local", "kiln/local")
        );
        let s3 = build(json!({"source": {"type": "S3", "location": "b/src.zip"}}));
        assert_eq!(
            source_spec(&s3),
            SourceSpec::S3 {
                location: "b/src.zip".into()
            }
        );
        let codecommit = build(json!({"source": {"type": "CODECOMMIT",
            "location": "https://git-codecommit.eu-west-1.amazonaws.com/v1/repos/web"}}));
        let SourceSpec::Git {
            credentials, depth, ..
        } = source_spec(&codecommit)
        else {
            panic!("CodeCommit is git");
        };
        assert_eq!(
            (credentials.codecommit, credentials.token, depth),
            (true, None, 0)
        );
        let in_s3 = build(json!({"source": {"type": "S3", "location": "b/src.zip",
            "buildspec": "arn:aws:s3:::b/buildspec.yml"}}));
        let err = build_request(&in_s3, &AccountContext::local(), PathBuf::from("/w")).unwrap_err();
        assert!(err.to_string().contains("arn:aws:s3:::b/buildspec.yml"), "{err}");
    }

    #[test]
    fn a_malformed_secrets_manager_reference_is_an_error_naming_the_variable() {
        // A build stored before references were checked at the API is read as it was stored.
        let build = build(json!({
            "environment": {"type": "LINUX_CONTAINER", "image": "img:1", "computeType": "BUILD_GENERAL1_SMALL",
                            "environmentVariables": [{"name": "S", "value": "a:b:c:d:e", "type": "SECRETS_MANAGER"}]},
        }));
        let err = build_request(&build, &AccountContext::local(), PathBuf::from("/w")).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("SECRETS_MANAGER variable S has the reference \"a:b:c:d:e\""),
            "{err}"
        );
    }
}
