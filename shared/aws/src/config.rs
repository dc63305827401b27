//! Every AWS client Kiln uses, built in one place from one `SdkConfig`.
//!
//! Region and credentials come from the usual environment chain (`AWS_REGION`, `AWS_PROFILE`, the ECS/Lambda
//! container credentials). An endpoint override (moto in tests, LocalStack-like servers, VPC endpoints) applies
//! to every client, and turns S3 path-style addressing on, since `bucket.localhost` does not resolve.
//! The HTTP client is rustls with ring (no aws-lc build).

use aws_config::{BehaviorVersion, ConfigLoader, Region, SdkConfig};
use aws_sdk_s3::config::Credentials;
use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};

/// The clients of every AWS service the adapters call; cheap to clone (each client is an `Arc` inside).
#[derive(Debug, Clone)]
pub struct AwsClients {
    pub s3: aws_sdk_s3::Client,
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub sns: aws_sdk_sns::Client,
    pub ecs: aws_sdk_ecs::Client,
    pub ssm: aws_sdk_ssm::Client,
    pub secrets_manager: aws_sdk_secretsmanager::Client,
    pub scheduler: aws_sdk_scheduler::Client,
}

impl AwsClients {
    /// Builds every client from the environment's region and credentials, sending all requests to
    /// `endpoint_override` when given (then S3 uses path-style URLs).
    pub async fn from_env(endpoint_override: Option<&str>) -> AwsClients {
        let config = load(loader(endpoint_override)).await;
        AwsClients::from_sdk_config(&config, endpoint_override.is_some())
    }

    /// Builds every client for an explicit endpoint, region and static credentials: for tests against moto and
    /// for "AWS in a box" setups where the process environment must not be touched.
    pub async fn with_static_credentials(
        endpoint: &str,
        region: &str,
        access_key_id: &str,
        secret_access_key: &str,
    ) -> AwsClients {
        let credentials = Credentials::new(access_key_id, secret_access_key, None, None, "kiln-static");
        let loader = loader(Some(endpoint))
            .region(Region::new(region.to_owned()))
            .credentials_provider(credentials);
        let config = load(loader).await;
        AwsClients::from_sdk_config(&config, true)
    }

    /// Builds every client from an already loaded `SdkConfig`; `path_style` forces S3 path-style addressing.
    pub fn from_sdk_config(config: &SdkConfig, path_style: bool) -> AwsClients {
        let s3_config = aws_sdk_s3::config::Builder::from(config)
            .force_path_style(path_style)
            .build();
        AwsClients {
            s3: aws_sdk_s3::Client::from_conf(s3_config),
            dynamodb: aws_sdk_dynamodb::Client::new(config),
            sqs: aws_sdk_sqs::Client::new(config),
            sns: aws_sdk_sns::Client::new(config),
            ecs: aws_sdk_ecs::Client::new(config),
            ssm: aws_sdk_ssm::Client::new(config),
            secrets_manager: aws_sdk_secretsmanager::Client::new(config),
            scheduler: aws_sdk_scheduler::Client::new(config),
        }
    }
}

/// The `SdkConfig` every client is built from (for clients `AwsClients` does not hold, such as Scheduler's).
pub async fn load_sdk_config(endpoint_override: Option<&str>) -> SdkConfig {
    load(loader(endpoint_override)).await
}

/// The `SdkConfig` of [`AwsClients::with_static_credentials`], for clients `AwsClients` does not hold.
pub async fn load_static_sdk_config(
    endpoint: &str,
    region: &str,
    access_key_id: &str,
    secret_access_key: &str,
) -> SdkConfig {
    let credentials = Credentials::new(access_key_id, secret_access_key, None, None, "kiln-static");
    let loader = loader(Some(endpoint))
        .region(Region::new(region.to_owned()))
        .credentials_provider(credentials);
    load(loader).await
}

fn loader(endpoint_override: Option<&str>) -> ConfigLoader {
    let http_client = aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https();
    let loader = aws_config::defaults(BehaviorVersion::latest()).http_client(http_client);
    match endpoint_override {
        Some(endpoint) => loader.endpoint_url(endpoint),
        None => loader,
    }
}

async fn load(loader: ConfigLoader) -> SdkConfig {
    loader.load().await
}
