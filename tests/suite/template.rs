//! The SAM template: both linters pass (run offline from the test venvs), and our own checks pass where the
//! linters look away (inside serverless functions): every reference names something, every IAM statement is
//! least privilege, every schedule expression parses with Kiln's parser. The checks are themselves tested on a
//! small inline template with one mistake of each kind. Every function crate has its function, built the way
//! Kiln builds them. The runner Dockerfile passes hadolint.

mod cfn;
mod checks;
mod foreach;
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

/// Two CodeCommit repositories stand for the deployer's `CodeCommitRepositories` (one with characters that
/// `&{}` drops from logical ids).
const SAMPLE_REPOSITORIES: [&str; 2] = ["web-app", "infra.tools"];

/// template.yaml in JSON form with its `Fn::ForEach` loops expanded (list parameters take the sample items).
fn template() -> Value {
    let path = workspace_root().join("template.yaml");
    let text = std::fs::read_to_string(&path).expect("template.yaml is readable");
    let mut t = cfn::parse(&text).unwrap_or_else(|err| panic!("template.yaml: {err}"));
    let samples = |parameter: &str| -> Vec<String> {
        assert_eq!(
            parameter, "CodeCommitRepositories",
            "a loop over an unexpected parameter"
        );
        SAMPLE_REPOSITORIES.iter().map(|r| r.to_string()).collect()
    };
    foreach::expand(&mut t, &samples).unwrap_or_else(|err| panic!("template.yaml: {err}"));
    t
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
fn the_runner_dockerfiles_pass_hadolint() {
    for dockerfile in ["infra/runner/Dockerfile", "examples/docker-on-fargate/Dockerfile"] {
        let out = run_offline(
            &lint_tool(".venv", "hadolint"),
            &["--failure-threshold", "info", dockerfile],
        );
        assert!(
            out.status.success(),
            "hadolint found problems in {dockerfile}:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
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
    // The check looked at the roles and function policies the template has (a renamed property would make it
    // look at nothing).
    assert!(
        resources_of_type(&t, "AWS::IAM::Role").len() >= 3,
        "the task, execution and schedule-invoke roles"
    );
    let functions = resources_of_type(&t, "AWS::Serverless::Function");
    assert_eq!(functions.len(), 7, "the seven functions");
    for (name, function) in functions {
        assert!(
            function["Properties"]["Policies"][0]["Statement"].is_array(),
            "{name} has an inline Statement list the check read"
        );
    }
    assert_eq!(
        resources_of_type(&t, "AWS::IAM::Policy").len(),
        SAMPLE_REPOSITORIES.len(),
        "one GitPull policy per CodeCommit repository"
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
    assert_eq!(checked, 1, "the reaper's rate(5 minutes)");
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
            - Sid: OneRepository
              Effect: Allow
              Action: codecommit:GitPull
              Resource: !Sub "arn:${AWS::Partition}:codecommit:${AWS::Region}:${AWS::AccountId}:web"
            - Sid: AnyRepository
              Effect: Allow
              Action: codecommit:GitPull
              Resource: !Sub "arn:${AWS::Partition}:codecommit:${AWS::Region}:${AWS::AccountId}:*"
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
            &format!("{statements}[7] (Sid AnyRepository): Resource"),
        ],
    );
    assert!(
        !violations.iter().any(|v| v.contains("Fine")
            || v.contains("TlsOnly")
            || v.contains("OneRepository")
            || v.contains("Policies[1]")),
        "a star-only action, a Deny, one named resource and a scoped SAM template are allowed; violations:\n{}",
        violations.join("\n")
    );
    assert_eq!(violations.len(), 9, "violations:\n{}", violations.join("\n"));
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
    // The names and keys of `DynamoBuildStore::create_table` (shared/aws/src/dynamodb).
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
fn the_runner_image_runs_kiln_executor_as_a_non_root_user_and_gives_a_reason_for_each_package() {
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
  Api:
    Type: AWS::Serverless::Function
    Metadata: { BuildMethod: rust-cargolambda, BuildProperties: { Binary: api } }
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
            "Resources.Api: Metadata.BuildProperties.Binary \"api\" is no [[bin]] of a crate in functions/",
        ],
    );
    assert_eq!(violations.len(), 6, "violations:\n{}", violations.join("\n"));
}

#[test]
fn a_function_crates_binaries_are_its_bin_targets_or_else_its_package_name_if_it_has_a_main() {
    let cases: [(&str, bool, &[&str]); 4] = [
        (
            "[package]\nname = \"kiln-fn-webhook\"\n",
            true,
            &["kiln-fn-webhook"],
        ),
        ("[package]\nname = \"kiln-lambda\"\n", false, &[]),
        (
            "[package]\nname = \"fns\"\n[[bin]]\nname = \"webhook\"\n[[bin]]\nname = \"api\"\n",
            false,
            &["webhook", "api"],
        ),
        ("[dependencies]\nname = \"not-a-package\"\n", true, &[]),
    ];
    for (manifest, has_main, expected) in cases {
        assert_eq!(
            functions::binary_names(manifest, has_main),
            expected,
            "{manifest}"
        );
    }
}

#[test]
fn for_each_expands_one_copy_per_item_with_alphanumeric_ids_and_resolves_get_att_of_a_sub() {
    let mut t = cfn::parse(
        r#"
Parameters:
  Names: { Type: CommaDelimitedList }
Resources:
  Fn::ForEach::Repo:
    - Name
    - !Ref Names
    - Rule&{Name}:
        Type: AWS::Events::Rule
        Properties: { Description: !Sub "pushes to ${Name}", Value: !Ref Name }
      Permission&{Name}:
        Type: AWS::Lambda::Permission
        Properties: { SourceArn: !GetAtt [!Sub "Rule&{Name}", Arn] }
"#,
    )
    .expect("the inline template parses");
    let items = |_: &str| vec!["web-app".to_owned(), "infra.tools".to_owned()];
    foreach::expand(&mut t, &items).expect("the loop expands");
    let resources = t["Resources"].as_object().expect("Resources");
    let mut names: Vec<&String> = resources.keys().collect();
    names.sort();
    assert_eq!(
        names,
        [
            "Permissioninfratools",
            "Permissionwebapp",
            "Ruleinfratools",
            "Rulewebapp"
        ]
    );
    assert_eq!(
        t["Resources"]["Rulewebapp"]["Properties"],
        serde_json::json!({"Description": {"Fn::Sub": "pushes to web-app"}, "Value": "web-app"})
    );
    assert_eq!(
        t["Resources"]["Permissioninfratools"]["Properties"]["SourceArn"],
        serde_json::json!({"Fn::GetAtt": ["Ruleinfratools", "Arn"]})
    );
    assert!(checks::reference_violations(&t).is_empty());

    let mut bad = cfn::parse("Resources:\n  Fn::ForEach::X: [Name, [a], {Fixed: {Type: T}}]\n")
        .expect("the inline template parses");
    let err = foreach::expand(&mut bad, &items).expect_err("an output key without the identifier");
    assert!(err.contains("\"Fixed\" does not use ${Name}"), "{err}");
}

#[test]
fn every_codecommit_repository_gets_a_rule_to_the_codecommit_function_and_a_pull_permission() {
    let t = template();
    for repository in SAMPLE_REPOSITORIES {
        let id: String = repository.chars().filter(char::is_ascii_alphanumeric).collect();
        let arn = serde_json::json!({"Fn::Sub": format!(
            "arn:${{AWS::Partition}}:codecommit:${{AWS::Region}}:${{AWS::AccountId}}:{repository}"
        )});
        let rule = &t["Resources"][format!("CodeCommitRule{id}")];
        assert_eq!(rule["Type"], "AWS::Events::Rule", "{repository}");
        assert_eq!(rule["Condition"], "HasCodeCommitRepositories");
        let pattern = &rule["Properties"]["EventPattern"];
        assert_eq!(pattern["source"], serde_json::json!(["aws.codecommit"]));
        assert_eq!(
            pattern["detail-type"],
            serde_json::json!(["CodeCommit Repository State Change"])
        );
        assert_eq!(pattern["resources"], serde_json::json!([arn]), "{repository}");
        assert_eq!(
            rule["Properties"]["Targets"][0]["Arn"],
            serde_json::json!({"Fn::GetAtt": ["CodeCommitFunction", "Arn"]})
        );
        let permission = &t["Resources"][format!("CodeCommitPermission{id}")]["Properties"];
        assert_eq!(permission["Principal"], "events.amazonaws.com");
        assert_eq!(
            permission["SourceArn"],
            serde_json::json!({"Fn::GetAtt": [format!("CodeCommitRule{id}"), "Arn"]})
        );
        let pull = &t["Resources"][format!("CodeCommitPull{id}")]["Properties"];
        assert_eq!(pull["Roles"], serde_json::json!([{"Ref": "RunnerTaskRole"}]));
        let statement = &pull["PolicyDocument"]["Statement"][0];
        assert_eq!(statement["Action"], "codecommit:GitPull");
        assert_eq!(statement["Resource"], arn, "{repository}");
    }
}

/// `(function, binary)` of the seven functions the comment of issue 7 lists.
const FUNCTIONS: [(&str, &str); 7] = [
    ("WebhookFunction", "webhook"),
    ("ApiFunction", "api"),
    ("ScheduleFunction", "schedule"),
    ("DispatchFunction", "dispatch"),
    ("TaskEventsFunction", "task-events"),
    ("ReaperFunction", "reaper"),
    ("CodeCommitFunction", "codecommit"),
];

/// The `Statement` list of a function's inline policy, with each statement's actions.
fn function_actions(t: &Value, function: &str) -> Vec<(String, Vec<String>)> {
    let policies = &t["Resources"][function]["Properties"]["Policies"];
    let statements = policies[0]["Statement"]
        .as_array()
        .expect("an inline Statement list");
    assert_eq!(
        policies.as_array().map(Vec::len),
        Some(1),
        "{function}: one inline policy"
    );
    statements
        .iter()
        .map(|s| {
            let actions = match &s["Action"] {
                Value::String(one) => vec![one.clone()],
                Value::Array(many) => many
                    .iter()
                    .filter_map(|a| a.as_str().map(str::to_owned))
                    .collect(),
                _ => Vec::new(),
            };
            (s["Sid"].as_str().unwrap_or_default().to_owned(), actions)
        })
        .collect()
}

#[test]
fn every_function_is_built_from_its_binary_with_the_stack_settings_in_its_environment() {
    let t = template();
    for (function, binary) in FUNCTIONS {
        let resource = &t["Resources"][function];
        assert_eq!(resource["Type"], "AWS::Serverless::Function", "{function}");
        assert_eq!(
            resource["Metadata"]["BuildProperties"]["Binary"], binary,
            "{function}"
        );
    }
    let variables = &t["Globals"]["Function"]["Environment"]["Variables"];
    for name in [
        "KILN_TABLE",
        "KILN_DISPATCH_QUEUE_URL",
        "KILN_NOTICE_QUEUE_URL",
        "KILN_NOTICE_TOPIC_ARN",
        "KILN_CLUSTER",
        "KILN_TASK_DEFINITION",
        "KILN_SUBNETS",
        "KILN_SECURITY_GROUPS",
        "KILN_ASSIGN_PUBLIC_IP",
        "KILN_ARTIFACTS_BUCKET",
        "KILN_LOGS_BUCKET",
        "KILN_CACHE_BUCKET",
        "KILN_SECRETS_PREFIX",
        "KILN_CAPACITY",
        "KILN_GLOBAL_LIMIT",
    ] {
        assert!(variables[name].is_object(), "{name} is set from the stack");
    }
    // The container the runner's task definition names.
    assert_eq!(variables["KILN_CONTAINER"], "runner");
    assert_eq!(
        t["Resources"]["RunnerTaskDefinition"]["Properties"]["ContainerDefinitions"][0]["Name"],
        "runner"
    );
    // The lists are comma-joined, as the settings parse them.
    assert_eq!(
        variables["KILN_SUBNETS"],
        serde_json::json!({"Fn::Join": [",", {"Ref": "SubnetIds"}]})
    );
}

#[test]
fn every_function_has_its_event_source() {
    let t = template();
    let r = &t["Resources"];
    assert_eq!(
        r["WebhookFunction"]["Properties"]["FunctionUrlConfig"]["AuthType"], "NONE",
        "webhooks are authenticated by their signatures"
    );
    let api = &r["ApiFunction"]["Properties"]["Events"]["CodeBuildApi"];
    assert_eq!(api["Type"], "HttpApi");
    assert_eq!(
        api["Properties"]["ApiId"],
        serde_json::json!({"Ref": "KilnHttpApi"})
    );
    assert_eq!(
        api["Properties"]["Auth"]["Authorizer"], "NONE",
        "the $default route takes Kiln access keys, checked by the function"
    );
    assert_eq!(
        r["KilnHttpApi"]["Properties"]["Auth"]["DefaultAuthorizer"],
        "AWS_IAM"
    );
    let events = &r["ApiFunction"]["Properties"]["Events"];
    for (event, path) in [("IamApi", "/iam"), ("IamApiPaths", "/iam/{proxy+}")] {
        assert_eq!(events[event]["Properties"]["Path"], path);
        assert_eq!(
            events[event]["Properties"]["Auth"]["Authorizer"], "AWS_IAM",
            "{event}: IAM callers come in through the IAM authoriser"
        );
    }
    let queue = &r["DispatchFunction"]["Properties"]["Events"]["Queue"];
    assert_eq!(queue["Type"], "SQS");
    assert_eq!(
        queue["Properties"]["Queue"],
        serde_json::json!({"Fn::GetAtt": ["DispatchQueue", "Arn"]})
    );
    assert_eq!(queue["Properties"]["BatchSize"], "10");
    let stopped = &r["TaskEventsFunction"]["Properties"]["Events"]["TaskStopped"];
    assert_eq!(stopped["Type"], "EventBridgeRule");
    assert_eq!(
        stopped["Properties"]["Pattern"],
        serde_json::json!({
            "source": ["aws.ecs"],
            "detail-type": ["ECS Task State Change"],
            "detail": {
                "clusterArn": [{"Fn::GetAtt": ["RunnerCluster", "Arn"]}],
                "lastStatus": ["STOPPED"]
            }
        })
    );
    let reaper = &r["ReaperFunction"]["Properties"]["Events"]["Every5Minutes"];
    assert_eq!(reaper["Type"], "Schedule");
    assert_eq!(reaper["Properties"]["Schedule"], "rate(5 minutes)");
    assert!(
        r["ScheduleFunction"]["Properties"]["Events"].is_null(),
        "only Scheduler calls it"
    );
    for output in [
        "WebhookUrl",
        "ApiUrl",
        "DispatchQueueUrl",
        "NoticeQueueUrl",
        "NoticeTopicArn",
    ] {
        assert!(t["Outputs"][output]["Value"].is_object(), "output {output}");
    }
}

#[test]
fn eventbridge_scheduler_may_invoke_the_schedule_function_and_nothing_else() {
    let t = template();
    let role = &t["Resources"]["ScheduleInvokeRole"]["Properties"];
    let trust = &role["AssumeRolePolicyDocument"]["Statement"][0];
    assert_eq!(trust["Principal"]["Service"], "scheduler.amazonaws.com");
    assert_eq!(
        trust["Condition"]["StringEquals"]["aws:SourceAccount"],
        serde_json::json!({"Ref": "AWS::AccountId"})
    );
    let statements = role["Policies"][0]["PolicyDocument"]["Statement"]
        .as_array()
        .expect("statements");
    assert_eq!(statements.len(), 1);
    assert_eq!(statements[0]["Action"], "lambda:InvokeFunction");
    assert_eq!(
        statements[0]["Resource"],
        serde_json::json!({"Fn::GetAtt": ["ScheduleFunction", "Arn"]})
    );
    assert_eq!(
        t["Resources"]["ScheduleGroup"]["Properties"]["Name"],
        serde_json::json!({"Ref": "AWS::StackName"})
    );
}

#[test]
fn every_function_policy_grants_exactly_what_its_function_calls() {
    let t = template();
    let item_actions = [
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
        "dynamodb:ConditionCheckItem",
        "dynamodb:Query",
    ];
    let expected: [(&str, &[&str]); 7] = [
        (
            "WebhookFunction",
            &[
                "sqs:SendMessage",
                "sqs:SendMessage",
                "sns:Publish",
                "ssm:GetParameter",
                "secretsmanager:GetSecretValue",
            ],
        ),
        (
            "ApiFunction",
            &[
                "sqs:SendMessage",
                "sqs:SendMessage",
                "sns:Publish",
                "s3:GetObject",
                "ecs:StopTask",
                "scheduler:CreateSchedule",
                "scheduler:UpdateSchedule",
                "scheduler:DeleteSchedule",
                "scheduler:GetSchedule",
                "iam:PassRole",
                "secretsmanager:GetSecretValue",
            ],
        ),
        (
            "ScheduleFunction",
            &["sqs:SendMessage", "sqs:SendMessage", "sns:Publish"],
        ),
        (
            "DispatchFunction",
            &[
                "sqs:ReceiveMessage",
                "sqs:DeleteMessage",
                "sqs:ChangeMessageVisibility",
                "sqs:GetQueueAttributes",
                "ecs:RunTask",
                "ecs:TagResource",
                "iam:PassRole",
                "sqs:SendMessage",
                "sns:Publish",
            ],
        ),
        ("TaskEventsFunction", &["sqs:SendMessage", "sns:Publish"]),
        (
            "ReaperFunction",
            &[
                "ecs:StopTask",
                "ecs:DescribeTasks",
                "sqs:SendMessage",
                "sns:Publish",
            ],
        ),
        (
            "CodeCommitFunction",
            &["sqs:SendMessage", "sqs:SendMessage", "sns:Publish"],
        ),
    ];
    for (function, extra) in expected {
        let statements = function_actions(&t, function);
        assert_eq!(statements[0].0, "BuildTable", "{function}");
        assert_eq!(statements[0].1, item_actions, "{function}");
        let mut rest: Vec<String> = statements[1..].iter().flat_map(|(_, a)| a.clone()).collect();
        let mut extra: Vec<String> = extra.iter().map(|a| a.to_string()).collect();
        rest.sort();
        extra.sort();
        assert_eq!(rest, extra, "{function}");
    }
    // Passing a role is limited to the service it is for.
    for (function, service) in [
        ("ApiFunction", "scheduler.amazonaws.com"),
        ("DispatchFunction", "ecs-tasks.amazonaws.com"),
    ] {
        let statements = t["Resources"][function]["Properties"]["Policies"][0]["Statement"]
            .as_array()
            .expect("statements");
        let pass = statements
            .iter()
            .find(|s| s["Action"] == "iam:PassRole")
            .expect("a PassRole statement");
        assert_eq!(
            pass["Condition"]["StringEquals"]["iam:PassedToService"], service,
            "{function}"
        );
    }
}
