//! Tests of whole project definitions and `kiln.yaml` files.

use super::*;

const EXAMPLE: &str = include_str!("../../../../examples/kiln.yaml");

#[test]
fn the_example_kiln_yaml_is_valid() {
    let config = KilnConfig::from_yaml(EXAMPLE).unwrap();
    let names: Vec<&str> = config.projects.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["web", "tools"]);

    let web = config.project("web").unwrap();
    assert_eq!(web.source.source_type, SourceType::Github);
    assert_eq!(
        web.source.buildspec,
        BuildspecRef::Path("ci/buildspec.yml".into())
    );
    assert_eq!(
        web.environment.compute.fargate_size(),
        FargateSize {
            cpu: 4096,
            memory: 8192
        }
    );
    assert_eq!(
        web.environment.spot,
        SpotPolicy {
            enabled: true,
            fallback_to_on_demand: true
        }
    );
    assert_eq!(web.webhook.as_ref().unwrap().filter_groups.0.len(), 2);
    assert_eq!(
        web.webhook.as_ref().unwrap().secret,
        Some(SecretRef::Parameter("/kiln/webhooks/web".into()))
    );
    assert_eq!(web.schedules[0].expression, "cron(0 3 * * ? *)");
    assert_eq!(
        web.fork_pull_requests,
        ForkPullRequests {
            build: true,
            secrets: false
        }
    );
    assert_eq!((web.timeout_in_minutes, web.queued_timeout_in_minutes), (30, 480));

    let tools = config.project("tools").unwrap();
    assert_eq!(
        tools.source.location.as_deref(),
        Some("file:///srv/git/tools.git")
    );
    assert_eq!(
        tools.environment.compute,
        Compute::Custom(FargateSize {
            cpu: 1024,
            memory: 2048
        })
    );
    assert_eq!(tools.artifacts.artifacts_type, ArtifactsType::NoArtifacts);
}

#[test]
fn projects_round_trip_through_codebuild_json() {
    for project in KilnConfig::from_yaml(EXAMPLE).unwrap().projects {
        let json = serde_json::to_value(&project).unwrap();
        assert_eq!(json["name"], serde_json::json!(project.name.as_str()));
        let back: Project = serde_json::from_value(json).unwrap();
        assert_eq!(back, project);
    }
}

#[test]
fn a_project_without_an_environment_reads_back_equal_to_itself() {
    let project = Project::from_json(
        r#"{"name": "plain", "source": {"type": "NO_SOURCE", "buildspec": "version: 0.2"}}"#,
    )
    .unwrap();
    let back: Project = serde_json::from_value(serde_json::to_value(&project).unwrap()).unwrap();
    assert_eq!(
        back, project,
        "the default environment is the one its JSON reads as"
    );
}

#[test]
fn a_project_serialises_with_codebuild_member_names() {
    let project = Project::from_json(
        r#"{"name":"api","source":{"type":"GIT","location":"https://git.example.com/api.git"},
            "environment":{"type":"LINUX_CONTAINER","image":"x","computeType":"BUILD_GENERAL1_SMALL"},
            "artifacts":{"type":"NO_ARTIFACTS"}}"#,
    )
    .unwrap();
    let json = serde_json::to_value(&project).unwrap();
    assert_eq!(
        json,
        serde_json::json!({"name":"api","source":{"type":"GIT","location":"https://git.example.com/api.git"},
            "environment":{"type":"LINUX_CONTAINER","image":"x","computeType":"BUILD_GENERAL1_SMALL",
                           "environmentVariables":[]},
            "artifacts":{"type":"NO_ARTIFACTS"},"timeoutInMinutes":60,"queuedTimeoutInMinutes":480,
            "forkPullRequests":{"build":true,"secrets":false}})
    );
}

/// A one-project config with `extra` YAML lines appended to the second project.
fn second_project(extra: &str) -> String {
    format!(
        "projects:\n  - name: first\n    source: {{type: NO_SOURCE, buildspec: 'version: 0.2'}}\n  - name: second\n    \
         source: {{type: GIT, location: /srv/r}}\n{extra}"
    )
}

#[test]
fn errors_name_the_field_path_and_quote_the_value() {
    let table = [
        (
            "    environment: {computeType: BUILD_GENERAL1_HUGE}\n",
            "projects[1].environment.computeType: unknown value \"BUILD_GENERAL1_HUGE\"; expected one of BUILD_GENERAL1_SMALL",
        ),
        (
            "    environment: {cpu: 2048, memory: 2048}\n",
            "projects[1].environment.memory: memory 2048 MiB is not available with cpu 2048; valid memory values (MiB): 4096, 5120",
        ),
        (
            "    environment:\n      environmentVariables: [{name: T, value: 'a:b:c:d:e', type: SECRETS_MANAGER}]\n",
            "projects[1].environment.environmentVariables[0].value: invalid value \"a:b:c:d:e\": SECRETS_MANAGER \
             variable T is not secret-id:json-key:version-stage:version-id",
        ),
        (
            "    schedules:\n      - name: nightly\n        expression: rate(1 day)\n        \
             environmentVariablesOverride: [{name: T, value: ':k', type: SECRETS_MANAGER}]\n",
            "projects[1].schedules[0].environmentVariablesOverride[0].value: invalid value \":k\": SECRETS_MANAGER \
             variable T",
        ),
        (
            "    timeoutInMinutes: 3000\n",
            "projects[1].timeoutInMinutes: 3000 is out of range; use 5 to 2160",
        ),
        (
            "    queuedTimeoutInMinutes: 4\n",
            "projects[1].queuedTimeoutInMinutes: 4 is out of range; use 5 to 480",
        ),
        (
            "    webhook: {secret: {value: hunter2}}\n",
            "projects[1].webhook.secret: invalid value \"<inline secret>\": inline secrets are refused",
        ),
        (
            "    schedules: [{name: n, expression: 'every day'}]\n",
            "projects[1].schedules[0].expression: invalid value \"every day\"",
        ),
        (
            "    schedules: [{name: n, expression: 'cron(0 10 * * * *)'}]\n",
            "projects[1].schedules[0].expression: invalid value \"cron(0 10 * * * *)\": day-of-month and day-of-week are both set; one of them must be \"?\"",
        ),
        (
            "    schedules: [{name: n, expression: 'rate(5 minute)'}]\n",
            "projects[1].schedules[0].expression: invalid value \"rate(5 minute)\"",
        ),
        (
            "    schedules: [{name: n, expression: 'cron(0 3 * * ? *)', timezone: Mars/Olympus}]\n",
            "projects[1].schedules[0].timezone: invalid value \"Mars/Olympus\": unknown time zone",
        ),
        (
            "    schedules: [{name: n, expression: 'rate(1 day)'}, {name: n, expression: 'rate(2 days)'}]\n",
            "projects[1].schedules[1].name: duplicate name \"n\"",
        ),
        (
            "    notifications: [{type: SNS, target: 'https://x'}]\n",
            "projects[1].notifications[0].target: invalid value \"https://x\"",
        ),
        (
            "    secondaryArtifacts: [{type: S3, location: b}]\n",
            "projects[1].secondaryArtifacts[0].artifactIdentifier: missing",
        ),
        (
            "    tags: [{key: 'bad!', value: v}]\n",
            "projects[1].tags[0].key: invalid value \"bad!\"",
        ),
        (
            "    artifacts: {type: S3}\n",
            "projects[1].artifacts.location: missing; give the bucket name",
        ),
    ];
    for (extra, expected) in table {
        let message = KilnConfig::from_yaml(&second_project(extra))
            .unwrap_err()
            .to_string();
        assert!(message.starts_with(expected), "{extra}\n{message}");
    }
}

#[test]
fn duplicate_project_names_are_refused() {
    let yaml = "projects:\n  - {name: app, source: {type: GIT, location: /a}}\n  - {name: app, source: {type: GIT, location: /b}}\n";
    let message = KilnConfig::from_yaml(yaml).unwrap_err().to_string();
    assert_eq!(
        message,
        "projects[1].name: duplicate name \"app\"; names must be unique"
    );
}

#[test]
fn inline_secrets_are_accepted_only_when_the_config_allows_them() {
    let yaml = "allowInlineSecrets: true\nprojects:\n  - name: app\n    source: {type: GIT, location: /a}\n    \
                webhook: {secret: {value: hunter2}}\n";
    let config = KilnConfig::from_yaml(yaml).unwrap();
    assert_eq!(
        config.projects[0].webhook.as_ref().unwrap().secret,
        Some(SecretRef::Value("hunter2".into()))
    );
}

#[test]
fn unknown_members_and_bad_syntax_are_reported_with_their_location() {
    let typo = KilnConfig::from_yaml("projects:\n  - name: app\n    sorce: {type: GIT}\n")
        .unwrap_err()
        .to_string();
    assert!(typo.contains("sorce") && typo.contains("line 3"), "{typo}");
    let json = KilnConfig::from_json("{\"projects\": [}")
        .unwrap_err()
        .to_string();
    assert!(json.starts_with("invalid JSON at line 1, column 15"), "{json}");
    let bad_name =
        Project::from_json(r#"{"name":"-x","source":{"type":"NO_SOURCE","buildspec":"version: 0.2"}}"#)
            .unwrap_err()
            .to_string();
    assert!(
        bad_name.starts_with("name: invalid value \"-x\": invalid project name"),
        "{bad_name}"
    );
}

#[test]
fn fork_pull_requests_build_without_secrets_by_default() {
    let policy = ForkPullRequests::default();
    assert!(policy.allows_build(true) && !policy.allows_secrets(true));
    assert!(policy.allows_build(false) && policy.allows_secrets(false));
    let closed = ForkPullRequests {
        build: false,
        secrets: false,
    };
    assert!(!closed.allows_build(true) && closed.allows_build(false));
}
