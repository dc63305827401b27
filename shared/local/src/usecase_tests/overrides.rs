//! StartBuild's overrides are checked before anything is stored: each refusal is invalid input naming the
//! member, and the project's builds are unchanged.

use kiln_core::ports::build_store::SortOrder;
use kiln_core::usecases::UseCaseError;
use kiln_core::usecases::start::{EnvVar, Origin, StartBuildInput};

use super::{at, fixture, input, web};

fn secret(value: &str, var_type: &str) -> StartBuildInput {
    StartBuildInput {
        environment_variables_override: vec![
            EnvVar {
                name: "STAGE".into(),
                value: "prod".into(),
                var_type: "PLAINTEXT".into(),
            },
            EnvVar {
                name: "DB_PASSWORD".into(),
                value: value.into(),
                var_type: var_type.into(),
            },
        ],
        ..input()
    }
}

#[tokio::test]
async fn a_secrets_manager_override_takes_the_four_part_reference_and_a_malformed_one_is_refused() {
    let f = fixture("exit 0").await;
    let good = f
        .services
        .start_build(
            secret("db:password:AWSPREVIOUS", "SECRETS_MANAGER"),
            Origin::default(),
            at(0),
        )
        .await
        .unwrap();
    let vars = &good.build.environment.as_ref().unwrap().environment_variables;
    assert!(
        vars.iter()
            .any(|v| v.name == "DB_PASSWORD" && v.value == "db:password:AWSPREVIOUS"),
        "{vars:?}"
    );
    for (value, var_type, expected) in [
        (
            "db:k:s:v:extra",
            "SECRETS_MANAGER",
            "environmentVariablesOverride[1].value: invalid value \"db:k:s:v:extra\": SECRETS_MANAGER variable \
             DB_PASSWORD is not secret-id:json-key:version-stage:version-id",
        ),
        (
            "db",
            "SECRET",
            "environmentVariablesOverride[1].type: unknown value \"SECRET\"; expected one of PLAINTEXT",
        ),
    ] {
        let err = f
            .services
            .start_build(secret(value, var_type), Origin::default(), at(0))
            .await
            .unwrap_err();
        assert!(matches!(err, UseCaseError::InvalidInput(_)), "{err}");
        assert!(err.to_string().contains(expected), "{err}");
    }
    let builds = f
        .store
        .list_sync(Some(&web()), SortOrder::Descending, None, 10)
        .unwrap();
    assert_eq!(builds.ids.len(), 1, "nothing stored for the refused requests");
}

#[tokio::test]
async fn a_buildspec_override_is_checked_as_the_projects_buildspec_is() {
    let f = fixture("exit 0").await;
    let with = |spec: &str| StartBuildInput {
        buildspec_override: Some(spec.into()),
        ..input()
    };
    let inline = "version: 0.2\nphases:\n  build:\n    commands: [make]\n";
    let started = f
        .services
        .start_build(with(inline), Origin::default(), at(0))
        .await
        .unwrap();
    let source = started.build.source.as_ref().unwrap();
    assert_eq!(source.buildspec.as_value(), Some(inline));
    let deep = format!("version: 0.2\nx: {}{}\n", "[".repeat(10_000), "]".repeat(10_000));
    for (spec, expected) in [
        (
            "ci/buildspec.yml",
            "buildspecOverride: missing; NO_SOURCE projects need an inline buildspec",
        ),
        (
            deep.as_str(),
            "buildspecOverride: the inline buildspec is refused: (document): nesting is deeper than 64 levels",
        ),
    ] {
        let err = f
            .services
            .start_build(with(spec), Origin::default(), at(0))
            .await
            .unwrap_err();
        assert!(matches!(err, UseCaseError::InvalidInput(_)), "{err}");
        assert!(err.to_string().starts_with(expected), "{err}");
    }
    let builds = f
        .store
        .list_sync(Some(&web()), SortOrder::Descending, None, 10)
        .unwrap();
    assert_eq!(builds.ids.len(), 1, "nothing stored for the refused requests");
}
