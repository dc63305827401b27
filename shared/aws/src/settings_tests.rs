//! Unit tests of [`super::AwsSettings`]: what the template's environment turns into, and which error names
//! which missing or bad variable.

use std::collections::HashMap;

use super::*;

fn settings(pairs: &[(&str, &str)]) -> Result<AwsSettings, SettingsError> {
    let map: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    AwsSettings::from_lookup(|name| map.get(name).cloned())
}

const RUNNER_ENV: &[(&str, &str)] = &[
    ("KILN_TABLE", "kiln-builds"),
    ("AWS_REGION", "eu-west-1"),
    ("KILN_ARTIFACTS_BUCKET", "arts"),
    ("KILN_LOGS_BUCKET", "logs"),
    ("KILN_CACHE_BUCKET", "cache"),
    ("KILN_NOTICE_QUEUE_URL", "https://sqs/123456789012/notices"),
    (
        "KILN_NOTICE_TOPIC_ARN",
        "arn:aws-cn:sns:eu-west-1:123456789012:notices",
    ),
    ("KILN_SECRETS_PREFIX", "kiln"),
];

#[test]
fn the_runner_environment_reads_with_defaults_and_the_account_from_the_topic_arn() {
    let s = settings(RUNNER_ENV).expect("valid");
    assert_eq!(s.table, "kiln-builds");
    assert_eq!(s.account_id, "123456789012");
    assert_eq!(s.partition, "aws-cn");
    assert_eq!(s.capacity, Capacity::OnDemand);
    assert_eq!(s.global_limit, DEFAULT_GLOBAL_LIMIT);
    assert_eq!(s.container, "runner");
    assert!(!s.assign_public_ip);
    assert_eq!(s.logs_bucket(), Ok("logs"));
    assert_eq!(s.notice_source().account, "123456789012");
    assert_eq!(
        s.cluster(),
        Err(SettingsError::Missing {
            name: "KILN_CLUSTER",
            needed_for: "starting and stopping build tasks needs the ECS cluster",
        })
    );
    assert!(s.ecs_settings().is_err(), "no cluster, no ECS settings");
}

#[test]
fn the_dispatch_environment_gives_ecs_settings_with_lists_split_on_commas() {
    let s = settings(&[
        ("KILN_TABLE", "t"),
        ("AWS_DEFAULT_REGION", "us-east-1"),
        ("KILN_CLUSTER", "kiln"),
        ("KILN_TASK_DEFINITION", "kiln-runner:3"),
        ("KILN_SUBNETS", "subnet-1, subnet-2,"),
        ("KILN_SECURITY_GROUPS", "sg-1"),
        ("KILN_ASSIGN_PUBLIC_IP", "ENABLED"),
        ("KILN_CAPACITY", "FARGATE_SPOT"),
        ("KILN_GLOBAL_LIMIT", "7"),
        ("KILN_ACCOUNT_ID", "210987654321"),
        ("AWS_ENDPOINT_URL", "http://127.0.0.1:5000"),
    ])
    .expect("valid");
    let ecs = s.ecs_settings().expect("complete");
    assert_eq!(ecs.subnets, vec!["subnet-1", "subnet-2"]);
    assert_eq!(ecs.security_groups, vec!["sg-1"]);
    assert!(ecs.assign_public_ip);
    assert_eq!(ecs.capacity, Capacity::Spot { fallback: true });
    assert_eq!(s.global_limit, 7);
    assert_eq!(s.account_id, "210987654321");
    assert_eq!(s.region, "us-east-1");
    assert_eq!(s.endpoint_url.as_deref(), Some("http://127.0.0.1:5000"));
    assert!(s.artifacts_bucket().is_err(), "functions need no buckets");
}

#[test]
fn a_missing_table_or_region_and_bad_values_name_the_variable() {
    let cases: &[(&[(&str, &str)], &str)] = &[
        (&[("AWS_REGION", "eu-west-1")], "KILN_TABLE"),
        (&[("KILN_TABLE", "t"), ("AWS_REGION", " ")], "AWS_REGION"),
        (
            &[
                ("KILN_TABLE", "t"),
                ("AWS_REGION", "r"),
                ("KILN_CAPACITY", "SPOT"),
            ],
            "KILN_CAPACITY",
        ),
        (
            &[
                ("KILN_TABLE", "t"),
                ("AWS_REGION", "r"),
                ("KILN_GLOBAL_LIMIT", "0"),
            ],
            "KILN_GLOBAL_LIMIT",
        ),
        (
            &[
                ("KILN_TABLE", "t"),
                ("AWS_REGION", "r"),
                ("KILN_ASSIGN_PUBLIC_IP", "maybe"),
            ],
            "KILN_ASSIGN_PUBLIC_IP",
        ),
    ];
    for (env, variable) in cases {
        let err = settings(env).expect_err("refused");
        assert!(err.to_string().contains(variable), "{err} should name {variable}");
    }
}
