//! The SAM template: both linters pass (run offline from the test venvs), and our own checks pass where the
//! linters look away (inside serverless functions): every reference names something, every IAM statement is
//! least privilege, every schedule expression parses with Kiln's parser. The checks are themselves tested on a
//! small inline template with one mistake of each kind. Every function crate has its function, built the way
//! Kiln builds them. The runner Dockerfile passes hadolint.

mod cfn;
mod checks;
mod functions;
mod iam;

use std::path::Path;
use std::process::Command;

use kiln_tests::paths::workspace_root;
use serde_json::Value;

fn lint_tool(venv: &str, tool: &str) -> std::path::PathBuf {
    let path = workspace_root().join(venv).join("bin").join(tool);
    assert!(
        path.is_file(),
        "{} is missing: run ./scripts/test (or ./scripts/setup), which installs it",
        path.display()
    );
    path
}

fn run_offline(program: &Path, args: &[&str]) -> std::process::Output {
    Command::new(program)
        .args(args)
        .current_dir(workspace_root())
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("SAM_CLI_TELEMETRY", "0")
        .output()
        .unwrap_or_else(|err| panic!("could not run {}: {err}", program.display()))
}

fn template() -> Value {
    let path = workspace_root().join("template.yaml");
    let text = std::fs::read_to_string(&path).expect("template.yaml is readable");
    cfn::parse(&text).unwrap_or_else(|err| panic!("template.yaml: {err}"))
}

fn resources_of_type<'a>(template: &'a Value, kind: &str) -> Vec<(&'a String, &'a Value)> {
    template["Resources"]
        .as_object()
        .expect("Resources")
        .iter()
        .filter(|(_, r)| r["Type"] == kind)
        .collect()
}

#[test]
fn the_template_passes_cfn_lint() {
    let out = run_offline(&lint_tool(".venv", "cfn-lint"), &["template.yaml"]);
    assert!(
        out.status.success(),
        "cfn-lint found problems:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_template_passes_sam_validate_lint() {
    let out = run_offline(
        &lint_tool(".venv-sam", "sam"),
        &["validate", "--lint", "--template", "template.yaml"],
    );
    assert!(
        out.status.success(),
        "sam validate --lint failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_runner_dockerfile_passes_hadolint() {
    let out = run_offline(
        &lint_tool(".venv", "hadolint"),
        &["--failure-threshold", "info", "infra/runner/Dockerfile"],
    );
    assert!(
        out.status.success(),
        "hadolint found problems:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_template_reads_short_form_tags_as_their_long_form() {
    let t = template();
    assert_eq!(
        t["Outputs"]["BuildTableName"]["Value"],
        serde_json::json!({"Ref": "BuildTable"})
    );
    assert_eq!(
        t["Outputs"]["NoticeQueueArn"]["Value"],
        serde_json::json!({"Fn::GetAtt": ["NoticeQueue", "Arn"]})
    );
    assert_eq!(
        t["Conditions"]["HasNoticeEmail"],
        serde_json::json!({"Fn::Not": [{"Fn::Equals": [{"Ref": "NoticeEmail"}, ""]}]})
    );
}

#[test]
fn every_reference_in_the_template_names_something_that_exists() {
    let violations = checks::reference_violations(&template());
    assert!(
        violations.is_empty(),
        "dangling references:\n{}",
        violations.join("\n")
    );
}

#[test]
fn every_iam_statement_in_the_template_is_least_privilege() {
    let t = template();
    let violations = checks::iam_violations(&t);
    assert!(
        violations.is_empty(),
        "IAM statements that are not least privilege:\n{}",
        violations.join("\n")
    );
    // The check looked at the roles the template has (a renamed property would make it look at nothing).
    assert!(
        resources_of_type(&t, "AWS::IAM::Role").len() >= 2,
        "the task and execution roles"
    );
}

#[test]
fn every_schedule_expression_in_the_template_parses_with_kilns_parser() {
    let t = template();
    let (checked, violations) = checks::schedule_violations(&t);
    assert_eq!(
        checked,
        checks::schedule_expressions(&t).len(),
        "every expression found was checked"
    );
    // None yet: the reaper's schedule arrives with the functions (see the comment block in template.yaml).
    eprintln!("schedule expressions checked in template.yaml: {checked}");
    assert!(
        violations.is_empty(),
        "schedule expressions that do not parse:\n{}",
        violations.join("\n")
    );
}

/// One mistake of each kind, inside a serverless function where cfn-lint and `sam validate` do not look.
const FLAWED: &str = r#"
Transform: AWS::Serverless-2016-10-31
Parameters:
  Prefix: { Type: String, Default: kiln }
Conditions:
  IsProd: !Equals [!Ref Prefix, prod]
Resources:
  Table:
    Type: AWS::DynamoDB::Table
  Reaper:
    Type: AWS::Serverless::Function
    Properties:
      Environment:
        Variables:
          TABLE: !Ref Tabel
          NAME: !GetAtt Missing.Arn
          URL: !Sub "https://${ReaperUrl}/${Nowhere}/${!Literal}"
          MODE: !If [IsStaging, a, b]
      Events:
        Every5: { Type: Schedule, Properties: { Schedule: rate(5 minute) } }
        Nightly: { Type: Schedule, Properties: { Schedule: cron(0 3 * * ? *) } }
      Policies:
        - AmazonS3FullAccess
        - DynamoDBCrudPolicy: { TableName: !Ref Table }
        - AdministratorAccessPolicyTemplate: {}
        - Statement:
            - Sid: Everything
              Effect: Allow
              Action: "*"
              Resource: "*"
            - Sid: AllOfS3
              Effect: Allow
              Action: s3:*
              Resource: !Sub "${Table.Arn}"
            - Sid: WholeAccount
              Effect: Allow
              Action: ecr:BatchGetImage
              Resource: !Sub "arn:${AWS::Partition}:ecr:${AWS::Region}:${AWS::AccountId}:repository/*"
            - Sid: LiteralArn
              Effect: Allow
              Action: sqs:SendMessage
              Resource: arn:aws:sqs:us-east-1:123456789012:other
            - Sid: Fine
              Effect: Allow
              Action: [ecr:GetAuthorizationToken]
              Resource: "*"
            - Sid: AlsoFine
              Effect: Allow
              Action: ssm:GetParameter
              Resource: !Sub "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter/${Prefix}/*"
  Bucket:
    Type: AWS::S3::Bucket
  BucketPolicy:
    Type: AWS::S3::BucketPolicy
    Properties:
      Bucket: !Ref Bucket
      PolicyDocument:
        Statement:
          - Sid: TlsOnly
            Effect: Deny
            Principal: "*"
            Action: s3:*
            Resource: !Sub "${Bucket.Arn}/*"
            Condition: { Bool: { "aws:SecureTransport": "false" } }
          - Sid: World
            Effect: Allow
            Principal: "*"
            Action: s3:GetObject
            Resource: !Sub "${Bucket.Arn}/*"
  Rule:
    Type: AWS::Events::Rule
    DependsOn: [Reaper, Ghost]
    Properties:
      ScheduleExpression: rate(1 hours)
      Targets: [{ Id: reaper, Arn: !GetAtt Reaper.Arn }]
  ReaperUrlUser:
    Type: AWS::SSM::Parameter
    Properties:
      Value: !GetAtt ReaperRole.Arn
Outputs:
  Gone: { Value: !Ref Vanished, Condition: IsStaging }
"#;

fn flawed() -> Value {
    cfn::parse(FLAWED).expect("the inline template parses")
}

fn assert_caught(violations: &[String], cases: &[&str]) {
    for case in cases {
        assert!(
            violations.iter().any(|v| v.contains(case)),
            "no violation mentions {case:?}; violations:\n{}",
            violations.join("\n")
        );
    }
}

#[test]
fn the_reference_check_catches_every_dangling_name_inside_a_function() {
    let violations = checks::reference_violations(&flawed());
    assert_caught(
        &violations,
        &[
            "Resources.Reaper.Properties.Environment.Variables.TABLE: !Ref Tabel names no",
            "Resources.Reaper.Properties.Environment.Variables.NAME: !GetAtt Missing.. names no resource",
            "${Nowhere} in !Sub",
            "condition \"IsStaging\" is not in Conditions",
            "Resources.Rule: DependsOn Ghost names no resource",
            "Outputs.Gone.Value: !Ref Vanished",
            "Outputs.Gone: condition \"IsStaging\"",
        ],
    );
    // SAM-generated names (`<Function>Role`), `${!Literal}` escapes and real names are not reported: this is
    // all of it (ReaperUrl is reported: the function has no FunctionUrlConfig).
    assert_eq!(violations.len(), 8, "violations:\n{}", violations.join("\n"));
    assert_caught(&violations, &["${ReaperUrl}"]);
}

#[test]
fn the_iam_check_catches_wildcards_unscoped_resources_and_managed_policies() {
    let violations = checks::iam_violations(&flawed());
    let statements = "Resources.Reaper.Policies[3].Statement";
    assert_caught(
        &violations,
        &[
            "Resources.Reaper.Policies[0]: managed policy AmazonS3FullAccess",
            "Resources.Reaper.Policies[2]: SAM policy template AdministratorAccessPolicyTemplate",
            &format!("{statements}[0] (Sid Everything): wildcard action \"*\""),
            &format!("{statements}[0] (Sid Everything): Resource \"*\""),
            &format!("{statements}[1] (Sid AllOfS3): wildcard action \"s3:*\""),
            &format!("{statements}[2] (Sid WholeAccount): Resource"),
            &format!("{statements}[3] (Sid LiteralArn): literal Resource"),
            "Resources.BucketPolicy.Statement[1] (Sid World): Principal \"*\" without a Condition",
        ],
    );
    assert!(
        !violations
            .iter()
            .any(|v| v.contains("Fine") || v.contains("TlsOnly") || v.contains("Policies[1]")),
        "a star-only action, a Deny and a scoped SAM template are allowed; violations:\n{}",
        violations.join("\n")
    );
    assert_eq!(violations.len(), 8, "violations:\n{}", violations.join("\n"));
}

#[test]
fn the_schedule_check_parses_every_expression_with_kilns_parser() {
    let (checked, violations) = checks::schedule_violations(&flawed());
    assert_eq!(checked, 3, "two SAM schedule events and one rule");
    assert_caught(
        &violations,
        &[
            "Resources.Reaper.Properties.Events.Every5.Properties.Schedule: \"rate(5 minute)\" does not parse",
            "Resources.Rule.Properties.ScheduleExpression: \"rate(1 hours)\" does not parse",
        ],
    );
    assert_eq!(
        violations.len(),
        2,
        "cron(0 3 * * ? *) is valid; violations:\n{}",
        violations.join("\n")
    );
}

#[test]
fn the_architecture_parameter_defaults_to_arm64_and_sets_the_task_platform() {
    let t = template();
    let architecture = &t["Parameters"]["Architecture"];
    assert_eq!(architecture["Default"], "arm64");
    assert_eq!(
        architecture["AllowedValues"],
        serde_json::json!(["arm64", "x86_64"])
    );
    let platform = &t["Resources"]["RunnerTaskDefinition"]["Properties"]["RuntimePlatform"];
    assert_eq!(
        platform["CpuArchitecture"],
        serde_json::json!({"Fn::If": ["IsArm64", "ARM64", "X86_64"]})
    );
    assert_eq!(
        t["Conditions"]["IsArm64"],
        serde_json::json!({"Fn::Equals": [{"Ref": "Architecture"}, "arm64"]})
    );
}

#[test]
fn every_bucket_is_encrypted_private_tls_only_and_expires_by_a_parameter() {
    let t = template();
    let buckets = resources_of_type(&t, "AWS::S3::Bucket");
    assert_eq!(buckets.len(), 3, "artifacts, logs and cache");
    let policies = resources_of_type(&t, "AWS::S3::BucketPolicy");
    for (name, bucket) in buckets {
        let props = &bucket["Properties"];
        let sse = &props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0];
        assert_eq!(
            sse["ServerSideEncryptionByDefault"]["SSEAlgorithm"], "AES256",
            "{name}"
        );
        let block = &props["PublicAccessBlockConfiguration"];
        for key in [
            "BlockPublicAcls",
            "BlockPublicPolicy",
            "IgnorePublicAcls",
            "RestrictPublicBuckets",
        ] {
            assert_eq!(block[key], "true", "{name}.{key}");
        }
        let expiry = &props["LifecycleConfiguration"]["Rules"][0]["ExpirationInDays"];
        let param = expiry["Ref"]
            .as_str()
            .unwrap_or_else(|| panic!("{name}: expiry is not a parameter"));
        assert!(t["Parameters"][param].is_object(), "{name}: {param}");
        let tls_only = policies.iter().any(|(_, p)| {
            let props = &p["Properties"];
            props["Bucket"]["Ref"] == name.as_str()
                && props["PolicyDocument"]["Statement"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|s| {
                        s["Effect"] == "Deny"
                            && s["Action"] == "s3:*"
                            && s["Condition"]["Bool"]["aws:SecureTransport"] == "false"
                    })
        });
        assert!(tls_only, "{name} has no TLS-only bucket policy");
    }
}

#[test]
fn every_queue_has_a_dead_letter_queue_with_an_alarm_on_its_depth() {
    let t = template();
    let queues = resources_of_type(&t, "AWS::SQS::Queue");
    let alarms = resources_of_type(&t, "AWS::CloudWatch::Alarm");
    let mut with_redrive = 0;
    for (name, queue) in &queues {
        let redrive = &queue["Properties"]["RedrivePolicy"];
        if redrive.is_null() {
            continue;
        }
        with_redrive += 1;
        assert!(
            redrive["maxReceiveCount"].is_string() || redrive["maxReceiveCount"].is_object(),
            "{name}"
        );
        let dlq = redrive["deadLetterTargetArn"]["Fn::GetAtt"][0]
            .as_str()
            .expect("a DLQ of this stack");
        let watched = alarms.iter().any(|(_, a)| {
            a["Properties"]["Dimensions"][0]["Value"]["Fn::GetAtt"][0] == dlq
                && a["Properties"]["MetricName"] == "ApproximateNumberOfMessagesVisible"
        });
        assert!(watched, "{name}'s dead-letter queue {dlq} has no depth alarm");
    }
    assert_eq!(with_redrive, 2, "the dispatch and notice queues");
}

#[test]
fn the_table_has_the_indexes_and_ttl_the_dynamodb_store_uses() {
    let t = template();
    let props = &t["Resources"]["BuildTable"]["Properties"];
    assert_eq!(props["BillingMode"], "PAY_PER_REQUEST");
    assert_eq!(
        props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"],
        "true"
    );
    assert_eq!(props["TimeToLiveSpecification"]["AttributeName"], "expiresAt");
    // The names and keys of `DynamoBuildStore::create_table` (shared/src/adapters/aws/dynamodb).
    let indexes: Vec<(String, String, String)> = props["GlobalSecondaryIndexes"]
        .as_array()
        .expect("GSIs")
        .iter()
        .map(|gsi| {
            let key = |i: usize| {
                gsi["KeySchema"][i]["AttributeName"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned()
            };
            (
                gsi["IndexName"].as_str().unwrap_or_default().to_owned(),
                key(0),
                key(1),
            )
        })
        .collect();
    let expected = [
        ("byProject", "project", "number"),
        ("byCreation", "kind", "seq"),
        ("active", "activeKind", "activeSeq"),
    ];
    let expected: Vec<(String, String, String)> = expected
        .iter()
        .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
        .collect();
    assert_eq!(indexes, expected);
}

#[test]
fn the_runner_image_runs_kiln_runner_as_a_non_root_user_and_gives_a_reason_for_each_package() {
    let path = workspace_root().join("infra/runner/Dockerfile");
    let text = std::fs::read_to_string(&path).expect("infra/runner/Dockerfile is readable");
    let final_stage = text
        .rsplit_once("\nFROM ")
        .map(|(_, stage)| stage)
        .expect("a multi-stage build");
    assert!(
        text.matches("\nFROM ").count() >= 2,
        "a build stage and a final stage"
    );
    let user = final_stage
        .lines()
        .find_map(|l| l.strip_prefix("USER "))
        .expect("a USER in the final stage");
    assert!(
        !user.starts_with("0") && !user.starts_with("root"),
        "the build user is not root: {user}"
    );
    let entrypoint = final_stage
        .lines()
        .find_map(|l| l.strip_prefix("ENTRYPOINT "))
        .expect("an ENTRYPOINT");
    assert!(
        entrypoint.contains("\"kiln\", \"runner\"") || entrypoint.contains("/kiln\", \"runner\""),
        "{entrypoint}"
    );
    let install = final_stage
        .lines()
        .find(|l| l.contains("apt-get install"))
        .expect("the final stage installs packages");
    let packages: Vec<&str> = install
        .split_whitespace()
        .skip_while(|w| *w != "install")
        .filter(|w| !w.starts_with('-') && !matches!(*w, "install" | "&&" | "\\"))
        .collect();
    assert!(
        packages.contains(&"git") && packages.contains(&"ca-certificates"),
        "{packages:?}"
    );
    for package in packages {
        assert!(
            final_stage.contains(&format!("# - {package}: ")),
            "no `# - {package}: <reason>` comment"
        );
    }
}

#[test]
fn every_function_crate_has_a_function_built_by_cargo_lambda_for_the_stack_architecture() {
    let binaries = functions::function_binaries(&workspace_root().join("functions"));
    // None yet: the function crates come after the AWS adapters (see the comment block in template.yaml).
    eprintln!("function binaries in functions/: {binaries:?}");
    let violations = functions::function_violations(&template(), &binaries);
    assert!(violations.is_empty(), "functions:\n{}", violations.join("\n"));
}

#[test]
fn the_function_check_catches_a_missing_function_a_wrong_build_and_a_whole_batch_retry() {
    let template = cfn::parse(
        r#"
Globals:
  Function: { Runtime: provided.al2023, Handler: bootstrap, Architectures: [!Ref Architecture] }
Resources:
  Dispatch:
    Type: AWS::Serverless::Function
    Metadata: { BuildMethod: rust-cargolambda, BuildProperties: { Binary: dispatch } }
    Properties:
      Events:
        Queue: { Type: SQS, Properties: { Queue: !GetAtt Q.Arn, BatchSize: 10 } }
  Webhook:
    Type: AWS::Serverless::Function
    Metadata: { BuildMethod: makefile }
    Properties:
      Architectures: [x86_64]
      Events:
        Queue: { Type: SQS, Properties: { Queue: !GetAtt Q.Arn, FunctionResponseTypes: [ReportBatchItemFailures] } }
"#,
    )
    .expect("the inline template parses");
    let binaries = ["dispatch".to_owned(), "reaper".to_owned()];
    let violations = functions::function_violations(&template, &binaries);
    assert_caught(
        &violations,
        &[
            "Resources.Dispatch.Events.Queue: SQS source without ReportBatchItemFailures",
            "Resources.Webhook: Architectures [\"x86_64\"] is not [!Ref Architecture]",
            "Resources.Webhook: Metadata.BuildMethod is not rust-cargolambda",
            "Resources.Webhook: Metadata.BuildProperties.Binary names no binary",
            "functions/: binary reaper has no AWS::Serverless::Function",
        ],
    );
    assert_eq!(violations.len(), 5, "violations:\n{}", violations.join("\n"));
}

#[test]
fn a_function_crates_binaries_are_its_bin_targets_or_else_its_package_name() {
    let cases: [(&str, &[&str]); 3] = [
        ("[package]\nname = \"kiln-fn-webhook\"\n", &["kiln-fn-webhook"]),
        (
            "[package]\nname = \"fns\"\n[[bin]]\nname = \"webhook\"\n[[bin]]\nname = \"api\"\n",
            &["webhook", "api"],
        ),
        ("[dependencies]\nname = \"not-a-package\"\n", &[]),
    ];
    for (manifest, expected) in cases {
        assert_eq!(functions::binary_names(manifest), expected, "{manifest}");
    }
}
