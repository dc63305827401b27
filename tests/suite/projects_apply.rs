//! `kiln projects apply` against moto: the real `kiln` binary stores kiln.yaml's projects in the DynamoDB table
//! and makes their EventBridge Scheduler schedules match the file; a changed file updates and deletes; the same
//! file twice changes nothing.

use std::path::Path;
use std::process::Command;

use kiln_aws::{DynamoBuildStore, ScheduleGroup};
use kiln_core::ports::build_store::ProjectStore;
use kiln_core::project::{KilnConfig, StoredProject};
use kiln_core::usecases::apply_projects::ExistingSchedule;
use kiln_tests::kiln::kiln_bin;
use serde_json::json;

use crate::aws_support::{REGION, with_moto};

const TABLE: &str = "kiln-apply";
const GROUP: &str = "kiln-apply";
const TARGET: &str = "arn:aws:lambda:us-east-1:123456789012:function:kiln-apply-ScheduleFunction";
const ROLE: &str = "arn:aws:iam::123456789012:role/kiln-apply-ScheduleInvokeRole";

const FIRST: &str = r#"
projects:
  - name: web
    source: {type: NO_SOURCE, buildspec: "version: 0.2\nphases: {build: {commands: [make]}}"}
    schedules:
      - name: nightly
        expression: cron(0 3 * * ? *)
        timezone: Europe/Paris
        sourceVersion: main
        environmentVariablesOverride: [{name: FULL, value: "1"}]
      - name: hourly
        expression: rate(1 hour)
  - name: tools
    source: {type: NO_SOURCE, buildspec: "version: 0.2\nphases: {build: {commands: [make tools]}}"}
    schedules:
      - name: weekly
        expression: cron(0 6 ? * MON *)
"#;

/// `hourly` removed, `nightly` moved to 4 o'clock; `tools` as before.
const SECOND: &str = r#"
projects:
  - name: web
    source: {type: NO_SOURCE, buildspec: "version: 0.2\nphases: {build: {commands: [make]}}"}
    schedules:
      - name: nightly
        expression: cron(0 4 * * ? *)
        timezone: Europe/Paris
        sourceVersion: main
        environmentVariablesOverride: [{name: FULL, value: "1"}]
  - name: tools
    source: {type: NO_SOURCE, buildspec: "version: 0.2\nphases: {build: {commands: [make tools]}}"}
    schedules:
      - name: weekly
        expression: cron(0 6 ? * MON *)
"#;

/// `kiln projects apply FILE --stack STACK ARGS..` against moto, with no names from the environment.
fn apply_command(endpoint: &str, file: &Path, stack: &str, args: &[&str]) -> std::process::Output {
    Command::new(kiln_bin())
        .args(["projects", "apply"])
        .arg(file)
        .args(["--stack", stack, "--endpoint-url", endpoint])
        .args(args)
        .env("AWS_REGION", REGION)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env_remove("AWS_PROFILE")
        .env_remove("KILN_TABLE")
        .env_remove("KILN_SCHEDULE_TARGET_ARN")
        .env_remove("KILN_SCHEDULE_ROLE_ARN")
        .env_remove("KILN_SCHEDULE_GROUP")
        .output()
        .expect("kiln runs")
}

/// Runs `kiln projects apply FILE` with every name as a flag; returns stdout (the command must succeed).
fn apply(endpoint: &str, file: &Path) -> String {
    let names = [
        "--table",
        TABLE,
        "--schedule-target-arn",
        TARGET,
        "--schedule-role-arn",
        ROLE,
    ];
    let out = apply_command(endpoint, file, GROUP, &names);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "kiln projects apply failed:\n{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

async fn schedules(group: &ScheduleGroup) -> Vec<ExistingSchedule> {
    let mut all = group.list("").await.expect("moto lists the schedules");
    all.sort_by(|a, b| a.name.cmp(&b.name));
    all
}

/// The stored projects are exactly those of `yaml`, in CodeBuild's project JSON.
async fn assert_projects_stored(store: &DynamoBuildStore, yaml: &str) {
    let config = KilnConfig::from_yaml(yaml).expect("a valid kiln.yaml");
    for project in &config.projects {
        let stored = store
            .get_project(&project.name)
            .await
            .expect("moto reads the project");
        let wanted = StoredProject::from(project.clone());
        assert_eq!(stored.as_ref(), Some(&wanted), "{}", project.name.as_str());
    }
}

#[test]
fn apply_creates_projects_and_schedules_then_updates_deletes_and_changes_nothing_on_a_repeat() {
    with_moto(|clients, endpoint| async move {
        let store = DynamoBuildStore::new(clients.dynamodb.clone(), TABLE);
        store.create_table().await.expect("moto creates the table");
        let group =
            ScheduleGroup::with_static_credentials(&endpoint, REGION, "testing", "testing", GROUP).await;
        group.create_group().await.expect("moto creates the group");
        let dir = tempfile::tempdir().expect("a temp dir");
        let file = dir.path().join("kiln.yaml");

        // First apply: everything is new.
        std::fs::write(&file, FIRST).expect("write kiln.yaml");
        let out = apply(&endpoint, &file);
        for line in [
            "project web: created",
            "project tools: created",
            "schedule web.nightly: created (cron(0 3 * * ? *) Europe/Paris)",
            "schedule web.hourly: created (rate(1 hour) UTC)",
            "schedule tools.weekly: created (cron(0 6 ? * MON *) UTC)",
        ] {
            assert!(out.contains(line), "no {line:?} in:\n{out}");
        }
        assert_projects_stored(&store, FIRST).await;
        let created = schedules(&group).await;
        let names: Vec<&str> = created.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["tools.weekly", "web.hourly", "web.nightly"]);
        let nightly = &created[2];
        assert_eq!(nightly.expression, "cron(0 3 * * ? *)");
        assert_eq!(nightly.timezone.as_deref(), Some("Europe/Paris"));
        assert_eq!(
            (nightly.target_arn.as_str(), nightly.role_arn.as_str()),
            (TARGET, ROLE)
        );
        assert!(nightly.enabled);
        assert_eq!(
            nightly.input,
            Some(json!({
                "project": "web",
                "schedule": "nightly",
                "sourceVersion": "main",
                "environmentVariablesOverride": [{"name": "FULL", "value": "1", "type": "PLAINTEXT"}],
                "scheduledTime": "<aws.scheduler.scheduled-time>",
                "scheduleArn": "<aws.scheduler.schedule-arn>",
            }))
        );

        // The same file again: nothing to do.
        let out = apply(&endpoint, &file);
        assert!(
            out.contains("projects 0 created, 0 updated, 0 deleted, 2 unchanged")
                && out.contains("0 created, 0 updated, 0 deleted, 3 unchanged"),
            "a repeat changed something:\n{out}"
        );
        assert_eq!(schedules(&group).await, created);

        // One schedule removed, one changed.
        std::fs::write(&file, SECOND).expect("write kiln.yaml");
        let out = apply(&endpoint, &file);
        for line in [
            "project web: updated",
            "schedule web.nightly: updated (cron(0 4 * * ? *) Europe/Paris)",
            "schedule web.hourly: deleted",
        ] {
            assert!(out.contains(line), "no {line:?} in:\n{out}");
        }
        assert!(!out.contains("project tools:"), "tools did not change:\n{out}");
        assert!(
            !out.contains("tools.weekly"),
            "tools.weekly did not change:\n{out}"
        );
        assert_projects_stored(&store, SECOND).await;
        let now = schedules(&group).await;
        let names: Vec<&str> = now.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["tools.weekly", "web.nightly"]);
        assert_eq!(now[1].expression, "cron(0 4 * * ? *)");
        assert_eq!(now[0], created[0], "tools.weekly untouched");

        // And the second file again: nothing to do.
        let out = apply(&endpoint, &file);
        assert!(
            out.contains("projects 0 created, 0 updated, 0 deleted, 2 unchanged")
                && out.contains("0 created, 0 updated, 0 deleted, 2 unchanged"),
            "a repeat changed something:\n{out}"
        );
    });
}

#[test]
fn apply_finds_the_table_and_schedule_target_in_the_stack_outputs() {
    use kiln_aws::config::load_static_sdk_config;
    with_moto(|clients, endpoint| async move {
        let store = DynamoBuildStore::new(clients.dynamodb.clone(), TABLE);
        store.create_table().await.expect("moto creates the table");
        let group =
            ScheduleGroup::with_static_credentials(&endpoint, REGION, "testing", "testing", GROUP).await;
        group.create_group().await.expect("moto creates the group");
        // A stack with the outputs the template declares (and one resource, which CloudFormation requires).
        let cloudformation = aws_sdk_cloudformation::Client::new(
            &load_static_sdk_config(&endpoint, REGION, "testing", "testing").await,
        );
        let template = json!({
            "Resources": {"Notices": {"Type": "AWS::SNS::Topic"}},
            "Outputs": {
                "BuildTableName": {"Value": TABLE},
                "ScheduleTargetArn": {"Value": TARGET},
                "ScheduleRoleArn": {"Value": ROLE},
                "ScheduleGroupName": {"Value": GROUP}
            }
        });
        cloudformation
            .create_stack()
            .stack_name("kiln-prod")
            .template_body(template.to_string())
            .send()
            .await
            .expect("moto creates the stack");
        let dir = tempfile::tempdir().expect("a temp dir");
        let file = dir.path().join("kiln.yaml");
        std::fs::write(&file, FIRST).expect("write kiln.yaml");

        let out = apply_command(&endpoint, &file, "kiln-prod", &[]);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(stdout.contains("project web: created"), "{stdout}");
        assert_projects_stored(&store, FIRST).await;
        let created = schedules(&group).await;
        assert_eq!(
            created.len(),
            3,
            "the schedules are in the group the outputs name"
        );
        assert!(
            created
                .iter()
                .all(|s| s.target_arn == TARGET && s.role_arn == ROLE)
        );

        // A stack that does not exist: a clear error naming it, and nothing written.
        let out = apply_command(&endpoint, &file, "no-such-stack", &[]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success());
        assert!(
            stderr.contains("\"no-such-stack\"") && stderr.contains("AWS_REGION"),
            "{stderr}"
        );
    });
}
