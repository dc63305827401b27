//! The HTTP client the `kiln` client commands share: where the server is, how requests are signed, and the
//! CodeBuild API calls, logs and events endpoints — the same against `kiln serve` and a deployed stack.
//!
//! - **Where**: `--endpoint` (or `KILN_ENDPOINT`), else the `ApiUrl` output of `--stack NAME` (read with
//!   CloudFormation's DescribeStacks), else `http://127.0.0.1:8950`. HTTPS is rustls, trusting the system's CA
//!   certificates and those in `SSL_CERT_FILE` (a private CA, a TLS-inspecting proxy).
//! - **How signed** (`--auth`, default `auto`): `key` signs for service `codebuild` with a Kiln access key
//!   (`KILN_ACCESS_KEY_ID` / `KILN_SECRET_ACCESS_KEY`, from `kiln keys create`, or the server's own pair);
//!   `iam` signs for service `execute-api` with the AWS default credential chain (environment, profiles, SSO,
//!   web identity, container and instance roles; session tokens included) and sends requests to the deployed
//!   API's IAM door (`<endpoint>/iam`); `none` sends them unsigned (a local server without credentials). `auto`
//!   is `key` when the Kiln variables are set, `iam` for `--stack` or an `execute-api` endpoint, else `none`.
//!
//! A refusal names the credentials that were tried and what to change.

use std::time::{Duration, SystemTime};

use anyhow::{Context, bail};
use kiln_core::sigv4::{AmzDate, Credentials, HttpRequest, SigningParams, sign};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// The default endpoint: a local `kiln serve`.
const LOCAL_ENDPOINT: &str = "http://127.0.0.1:8950";

/// How requests are signed (`--auth`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Auth {
    /// A Kiln key when KILN_ACCESS_KEY_ID is set; IAM for --stack or an execute-api endpoint; else unsigned.
    Auto,
    /// A Kiln access key (KILN_ACCESS_KEY_ID / KILN_SECRET_ACCESS_KEY), service codebuild.
    Key,
    /// IAM credentials from the AWS default chain, service execute-api, through the API's /iam routes.
    Iam,
    /// Unsigned (a local server with no credentials).
    None,
}

/// Where the server is and how to talk to it (flags shared by every client command).
#[derive(Debug, Clone, clap::Args)]
pub struct Connection {
    /// The Kiln server's URL (default: the stack's ApiUrl with --stack, else http://127.0.0.1:8950).
    #[arg(long, env = "KILN_ENDPOINT", global = true)]
    pub endpoint: Option<String>,
    /// A deployed Kiln stack: its ApiUrl output is the endpoint, and calls are signed with IAM credentials
    /// unless a Kiln key is set.
    #[arg(long, env = "KILN_STACK", global = true)]
    pub stack: Option<String>,
    /// How to sign requests.
    #[arg(long, env = "KILN_AUTH", value_enum, default_value_t = Auth::Auto, global = true)]
    pub auth: Auth,
    /// The region to sign for (default: the endpoint's, else the AWS configuration's, else us-east-1).
    #[arg(long, env = "KILN_REGION", global = true)]
    pub region: Option<String>,
    /// Print JSON instead of a table.
    #[arg(long, global = true)]
    pub json: bool,
}

/// An API error as the server answers it: `{"__type": "...Exception", "message": "..."}`.
#[derive(Debug, Default, serde::Deserialize)]
struct ApiError {
    #[serde(rename = "__type", default)]
    kind: Option<String>,
    #[serde(default)]
    message: Option<String>,
}

/// The credentials a client signs with, and how it says so in errors.
enum Signer {
    Unsigned,
    Key(Credentials),
    Iam {
        credentials: Credentials,
        source: String,
    },
}

impl Signer {
    /// What was tried, for an error message.
    fn tried(&self) -> String {
        match self {
            Signer::Unsigned => {
                "the request was sent unsigned; set KILN_ACCESS_KEY_ID and KILN_SECRET_ACCESS_KEY \
                                 to a key from `kiln keys create`, or use --auth iam with AWS credentials"
                    .to_owned()
            }
            Signer::Key(c) => format!(
                "signed for service codebuild with Kiln access key {} (KILN_ACCESS_KEY_ID); check it is this \
                 deployment's, not revoked (`kiln keys list`), and its scope allows the call",
                c.access_key_id()
            ),
            Signer::Iam { credentials, source } => format!(
                "signed for service execute-api with IAM credentials {} ({source}); the principal needs \
                 execute-api:Invoke on the API",
                credentials.access_key_id()
            ),
        }
    }
}

/// A client for one server.
pub struct Client {
    endpoint: String,
    http: reqwest::blocking::Client,
    signer: Signer,
    region: String,
}

impl Client {
    /// A client for `connection`: its endpoint, its signer and an HTTPS-capable HTTP client.
    pub fn new(connection: &Connection) -> anyhow::Result<Client> {
        let endpoint = endpoint(connection)?;
        let kiln_key = match (
            std::env::var("KILN_ACCESS_KEY_ID").ok().filter(|v| !v.is_empty()),
            std::env::var("KILN_SECRET_ACCESS_KEY")
                .ok()
                .filter(|v| !v.is_empty()),
        ) {
            (Some(id), Some(secret)) => Some(Credentials::new(id, secret)),
            (Some(_), None) | (None, Some(_)) => {
                bail!("set both KILN_ACCESS_KEY_ID and KILN_SECRET_ACCESS_KEY, or neither")
            }
            (None, None) => None,
        };
        let auth = match connection.auth {
            Auth::Auto if kiln_key.is_some() => Auth::Key,
            Auth::Auto if connection.stack.is_some() || endpoint_region(&endpoint).is_some() => Auth::Iam,
            Auth::Auto => Auth::None,
            other => other,
        };
        let mut region = connection.region.clone().or_else(|| endpoint_region(&endpoint));
        let signer = match auth {
            Auth::Key => Signer::Key(kiln_key.context(
                "--auth key needs KILN_ACCESS_KEY_ID and KILN_SECRET_ACCESS_KEY (make a key with `kiln keys create`)",
            )?),
            Auth::Iam => {
                let (credentials, source, chain_region) = iam_credentials()?;
                region = region.or(chain_region);
                Signer::Iam { credentials, source }
            }
            Auth::None | Auth::Auto => Signer::Unsigned,
        };
        Ok(Client {
            endpoint,
            http: http_client()?,
            signer,
            region: region.unwrap_or_else(|| "us-east-1".to_owned()),
        })
    }

    /// The URL of `path` on the server (under `/iam` for IAM callers).
    fn url(&self, path: &str) -> String {
        match (&self.signer, path) {
            (Signer::Iam { .. }, "/") => format!("{}/iam", self.endpoint),
            (Signer::Iam { .. }, _) => format!("{}/iam{path}", self.endpoint),
            _ => format!("{}{path}", self.endpoint),
        }
    }

    /// The signature headers of a request to `url`, if the client signs.
    fn signature(
        &self,
        method: &str,
        url: &str,
        extra: &[(&str, &str)],
        body: &[u8],
    ) -> anyhow::Result<Vec<(&'static str, String)>> {
        let (credentials, service) = match &self.signer {
            Signer::Unsigned => return Ok(Vec::new()),
            Signer::Key(c) => (c, "codebuild"),
            Signer::Iam { credentials, .. } => (credentials, "execute-api"),
        };
        let parsed = url::Url::parse(url).with_context(|| format!("{url} is not a URL"))?;
        let host = match parsed.port() {
            Some(port) => format!("{}:{port}", parsed.host_str().unwrap_or_default()),
            None => parsed.host_str().unwrap_or_default().to_owned(),
        };
        let mut headers = vec![("host", host.as_str())];
        headers.extend_from_slice(extra);
        let time = AmzDate::from_system_time(SystemTime::now()).context("the clock is before 1970")?;
        let request = HttpRequest {
            method,
            path: parsed.path(),
            query: parsed.query().unwrap_or(""),
            headers: &headers,
            body,
        };
        let params = SigningParams {
            credentials,
            region: &self.region,
            service,
            time,
        };
        let signed = sign(&request, &params)?;
        Ok(signed
            .pairs()
            .into_iter()
            .map(|(name, value)| (name, value.to_owned()))
            .collect())
    }

    /// Calls a CodeBuild API operation and reads its output as `T`; an API error becomes an error naming its
    /// `__type` (and, for a refusal, the credentials tried).
    pub fn api<T: DeserializeOwned>(&self, operation: &str, input: &impl Serialize) -> anyhow::Result<T> {
        let body = serde_json::to_string(input)?;
        let target = format!("CodeBuild_20161006.{operation}");
        let url = self.url("/");
        let headers = [
            ("content-type", "application/x-amz-json-1.1"),
            ("x-amz-target", target.as_str()),
        ];
        let mut request = self.http.post(&url);
        for (name, value) in headers {
            request = request.header(name, value);
        }
        for (name, value) in self.signature("POST", &url, &headers, body.as_bytes())? {
            request = request.header(name, value);
        }
        let response = request
            .body(body)
            .send()
            .with_context(|| format!("calling {}", self.endpoint))?;
        let status = response.status();
        let bytes = response.bytes()?;
        if !status.is_success() {
            let error: ApiError = serde_json::from_slice(&bytes).unwrap_or_default();
            let kind = error.kind.as_deref().unwrap_or("Error");
            let message = error
                .message
                .unwrap_or_else(|| String::from_utf8_lossy(&bytes).chars().take(300).collect());
            if status == reqwest::StatusCode::FORBIDDEN || status == reqwest::StatusCode::UNAUTHORIZED {
                bail!(
                    "{operation} was refused ({status}): {kind}: {message}\n  {}",
                    self.signer.tried()
                );
            }
            bail!("{operation} failed ({status}): {kind}: {message}");
        }
        serde_json::from_slice(&bytes).with_context(|| format!("reading the answer to {operation}"))
    }

    /// GETs a path of the server and returns the response.
    pub fn get(&self, path: &str) -> anyhow::Result<reqwest::blocking::Response> {
        let url = self.url(path);
        let mut request = self.http.get(&url);
        for (name, value) in self.signature("GET", &url, &[], b"")? {
            request = request.header(name, value);
        }
        let response = request
            .send()
            .with_context(|| format!("calling {}", self.endpoint))?;
        let status = response.status();
        if !status.is_success() {
            let text = response.text().unwrap_or_default();
            if status == reqwest::StatusCode::FORBIDDEN {
                bail!(
                    "GET {path} was refused: {status} {text}\n  {}",
                    self.signer.tried()
                );
            }
            bail!("GET {path} failed: {status} {text}");
        }
        Ok(response)
    }
}

/// The endpoint: `--endpoint`, else the stack's `ApiUrl` output, else a local server.
fn endpoint(connection: &Connection) -> anyhow::Result<String> {
    if let Some(endpoint) = connection.endpoint.as_deref().filter(|e| !e.is_empty()) {
        return Ok(endpoint.trim_end_matches('/').to_owned());
    }
    let Some(stack) = &connection.stack else {
        return Ok(LOCAL_ENDPOINT.to_owned());
    };
    let outputs = block_on(async {
        let client = kiln_aws::stack::client(None).await;
        kiln_aws::stack::stack_outputs(&client, stack).await
    })??;
    let url = outputs.get("ApiUrl").with_context(|| {
        format!("stack {stack:?} has no output ApiUrl (is it a Kiln stack?); pass --endpoint")
    })?;
    Ok(url.trim_end_matches('/').to_owned())
}

/// The region of an API Gateway endpoint (`https://<id>.execute-api.<region>.amazonaws.com`).
fn endpoint_region(endpoint: &str) -> Option<String> {
    let host = url::Url::parse(endpoint).ok()?.host_str()?.to_owned();
    let rest = host.split_once(".execute-api.")?.1;
    Some(rest.split('.').next()?.to_owned()).filter(|r| !r.is_empty())
}

/// Credentials, where they came from, and the configured region, from the AWS default chain.
fn iam_credentials() -> anyhow::Result<(Credentials, String, Option<String>)> {
    let loaded = block_on(kiln_aws::credentials::load_default_credentials())?.map_err(|err| {
        anyhow::anyhow!(
            "--auth iam found no AWS credentials: {err}\n  tried, in order: AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY \
             (and AWS_SESSION_TOKEN), the profile {} in ~/.aws/config and ~/.aws/credentials (including SSO: run \
             `aws sso login`), web identity, the container and the instance role; or use a Kiln key \
             (KILN_ACCESS_KEY_ID / KILN_SECRET_ACCESS_KEY)",
            std::env::var("AWS_PROFILE").unwrap_or_else(|_| "default".to_owned())
        )
    })?;
    let source = if std::env::var_os("AWS_ACCESS_KEY_ID").is_some() {
        "from AWS_ACCESS_KEY_ID".to_owned()
    } else {
        format!(
            "from the AWS profile {}",
            std::env::var("AWS_PROFILE").unwrap_or_else(|_| "default".to_owned())
        )
    };
    Ok((loaded.credentials, source, loaded.region))
}

/// Runs one future to completion on a runtime of its own (the client is otherwise blocking).
fn block_on<F: std::future::Future>(future: F) -> anyhow::Result<F::Output> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    Ok(runtime.block_on(future))
}

/// System CA bundles, for when `SSL_CERT_FILE` replaces the system store in the TLS library.
const SYSTEM_BUNDLES: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/cert.pem",
    "/etc/ssl/ca-bundle.pem",
];

/// The HTTP client: rustls with the system's CA certificates and, when `SSL_CERT_FILE` is set, those in it too
/// (the TLS library then reads only that file, so the system bundle is added back).
fn http_client() -> anyhow::Result<reqwest::blocking::Client> {
    let mut builder = reqwest::blocking::Client::builder()
        .use_rustls_tls()
        .timeout(Duration::from_secs(30));
    if let Some(file) = std::env::var_os("SSL_CERT_FILE") {
        let shown = std::path::Path::new(&file).display().to_string();
        let pem = std::fs::read(&file).with_context(|| format!("reading SSL_CERT_FILE {shown}"))?;
        let extra = reqwest::Certificate::from_pem_bundle(&pem)
            .with_context(|| format!("SSL_CERT_FILE {shown} is not a PEM certificate bundle"))?;
        if extra.is_empty() {
            bail!("SSL_CERT_FILE {shown} holds no certificate");
        }
        for certificate in extra {
            builder = builder.add_root_certificate(certificate);
        }
        if let Some(system) = SYSTEM_BUNDLES.iter().find_map(|path| std::fs::read(path).ok()) {
            for certificate in reqwest::Certificate::from_pem_bundle(&system).unwrap_or_default() {
                builder = builder.add_root_certificate(certificate);
            }
        }
    }
    Ok(builder.build()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_region_is_read_from_an_api_gateway_endpoint() {
        assert_eq!(
            endpoint_region("https://q1w2e3r4t5.execute-api.eu-west-1.amazonaws.com").as_deref(),
            Some("eu-west-1")
        );
        assert_eq!(endpoint_region("http://127.0.0.1:8950"), None);
        assert_eq!(endpoint_region("not a url"), None);
    }
}
