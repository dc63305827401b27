//! The secret resolver against moto: Parameter Store SecureStrings, Secrets Manager whole secrets, JSON keys,
//! version stages and ids, not-found errors that name the reference, the per-resolver cache of a build and the
//! time-to-live cache of a function, and a project's own secret references as a function resolves them.

use aws_sdk_ssm::types::ParameterType;
use kiln_aws::{AwsClients, AwsSecretResolver};
use kiln_core::ports::secrets::{SecretError, SecretRef, SecretResolver};
use kiln_core::project::SecretRef as ProjectSecret;

use crate::aws_support::with_moto;

fn secret(id: &str, json_key: Option<&str>, stage: Option<&str>, version: Option<&str>) -> SecretRef {
    SecretRef::Secret {
        secret_id: id.to_owned(),
        json_key: json_key.map(str::to_owned),
        version_stage: stage.map(str::to_owned),
        version_id: version.map(str::to_owned),
    }
}

fn resolver(clients: &AwsClients) -> AwsSecretResolver {
    AwsSecretResolver::new(clients.ssm.clone(), clients.secrets_manager.clone())
}

#[test]
fn a_secure_string_parameter_is_returned_decrypted_and_a_missing_one_is_not_found() {
    with_moto(|clients, _| async move {
        clients
            .ssm
            .put_parameter()
            .name("/ci/token")
            .value("s3cr3t")
            .r#type(ParameterType::SecureString)
            .send()
            .await
            .expect("put parameter");
        let resolver = resolver(&clients);
        let value = resolver
            .resolve(&SecretRef::Parameter("/ci/token".to_owned()))
            .await
            .expect("resolve");
        assert_eq!(value, "s3cr3t");
        let err = resolver
            .resolve(&SecretRef::Parameter("/ci/missing".to_owned()))
            .await
            .unwrap_err();
        assert!(matches!(err, SecretError::NotFound { .. }), "{err}");
        assert!(err.to_string().contains("/ci/missing"), "{err}");
    });
}

#[test]
fn secrets_manager_references_resolve_whole_by_json_key_by_stage_and_by_version_id() {
    with_moto(|clients, _| async move {
        let sm = &clients.secrets_manager;
        sm.create_secret()
            .name("db")
            .secret_string(r#"{"user":"admin","password":"old","port":5432}"#)
            .send()
            .await
            .expect("create secret");
        let current = sm
            .put_secret_value()
            .secret_id("db")
            .secret_string(r#"{"user":"admin","password":"new","port":5432}"#)
            .send()
            .await
            .expect("rotate");
        let current_id = current.version_id().expect("a version id").to_owned();

        let resolver = resolver(&clients);
        let cases = [
            (secret("db", Some("password"), None, None), "new"),
            (secret("db", Some("password"), Some("AWSPREVIOUS"), None), "old"),
            (secret("db", Some("password"), None, Some(&current_id)), "new"),
            (secret("db", Some("port"), None, None), "5432"),
            (
                secret("db", None, Some("AWSPREVIOUS"), None),
                r#"{"user":"admin","password":"old","port":5432}"#,
            ),
        ];
        for (reference, expected) in cases {
            let value = resolver.resolve(&reference).await.expect("resolve");
            assert_eq!(value, expected, "{reference:?}");
        }
        let err = resolver
            .resolve(&secret("db", Some("nope"), None, None))
            .await
            .unwrap_err();
        assert!(matches!(err, SecretError::MissingJsonKey { .. }), "{err}");
        let err = resolver
            .resolve(&secret("absent", None, None, None))
            .await
            .unwrap_err();
        assert!(matches!(err, SecretError::NotFound { .. }), "{err}");
    });
}

#[test]
fn a_json_key_of_a_plain_text_secret_says_it_is_not_json() {
    with_moto(|clients, _| async move {
        clients
            .secrets_manager
            .create_secret()
            .name("plain")
            .secret_string("just text")
            .send()
            .await
            .expect("create secret");
        let err = resolver(&clients)
            .resolve(&secret("plain", Some("k"), None, None))
            .await
            .unwrap_err();
        assert!(matches!(err, SecretError::NotJson { .. }), "{err}");
        assert!(
            !err.to_string().contains("just text"),
            "errors never show the value: {err}"
        );
    });
}

#[test]
fn values_are_cached_per_resolver_so_one_build_sees_one_value() {
    with_moto(|clients, _| async move {
        let sm = &clients.secrets_manager;
        sm.create_secret()
            .name("token")
            .secret_string("v1")
            .send()
            .await
            .expect("create");
        let build_one = resolver(&clients);
        let reference = secret("token", None, None, None);
        assert_eq!(build_one.resolve(&reference).await.expect("resolve"), "v1");
        sm.put_secret_value()
            .secret_id("token")
            .secret_string("v2")
            .send()
            .await
            .expect("rotate");
        assert_eq!(build_one.resolve(&reference).await.expect("cached"), "v1");
        assert_eq!(resolver(&clients).resolve(&reference).await.expect("fresh"), "v2");
    });
}

#[test]
fn a_functions_resolver_reuses_a_value_for_its_time_to_live_and_then_sees_the_rotation() {
    with_moto(|clients, _| async move {
        let sm = &clients.secrets_manager;
        sm.create_secret()
            .name("hook")
            .secret_string("v1")
            .send()
            .await
            .expect("create");
        let ttl = std::time::Duration::from_millis(300);
        let function = AwsSecretResolver::cached(&clients).with_ttl(ttl);
        let reference = secret("hook", None, None, None);
        assert_eq!(function.resolve(&reference).await.expect("resolve"), "v1");
        sm.put_secret_value()
            .secret_id("hook")
            .secret_string("v2")
            .send()
            .await
            .expect("rotate");
        assert_eq!(function.resolve(&reference).await.expect("within the ttl"), "v1");
        tokio::time::sleep(ttl + std::time::Duration::from_millis(50)).await;
        assert_eq!(function.resolve(&reference).await.expect("after the ttl"), "v2");
    });
}

#[test]
fn a_projects_secret_resolves_from_ssm_secrets_manager_and_values_and_a_file_is_refused_with_a_hint() {
    with_moto(|clients, _| async move {
        clients
            .ssm
            .put_parameter()
            .name("/kiln/web/webhook")
            .value("from-ssm")
            .r#type(ParameterType::SecureString)
            .send()
            .await
            .expect("put parameter");
        clients
            .secrets_manager
            .create_secret()
            .name("kiln/hook")
            .secret_string(r#"{"hmac": "from-json-key"}"#)
            .send()
            .await
            .expect("create");
        let function = AwsSecretResolver::cached(&clients);
        let cases = [
            (ProjectSecret::Parameter("/kiln/web/webhook".into()), "from-ssm"),
            (
                ProjectSecret::SecretsManager("kiln/hook:hmac".into()),
                "from-json-key",
            ),
            (ProjectSecret::Value("inline".into()), "inline"),
        ];
        for (reference, expected) in cases {
            let value = function
                .resolve_project_secret(&reference)
                .await
                .unwrap_or_else(|e| panic!("{reference:?}: {e}"));
            assert_eq!(value, expected, "{reference:?}");
        }
        let file = function
            .resolve_project_secret(&ProjectSecret::File("/etc/hook".into()))
            .await
            .expect_err("a function reads no files");
        assert!(matches!(file, SecretError::Unavailable { .. }), "{file}");
        assert!(file.to_string().contains("{parameter: name}"), "{file}");
        let unset = function
            .resolve_project_secret(&ProjectSecret::Env("KILN_TEST_NO_SUCH_VARIABLE".into()))
            .await
            .expect_err("not set");
        assert!(matches!(unset, SecretError::NotFound { .. }), "{unset}");
        let bad = function
            .resolve_project_secret(&ProjectSecret::SecretsManager("id:a:b:c:d".into()))
            .await
            .expect_err("does not split");
        assert!(matches!(bad, SecretError::Invalid { .. }), "{bad}");
    });
}
