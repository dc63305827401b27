//! The HTTP client the `kiln` client commands share: the server's endpoint (`--endpoint` or `KILN_ENDPOINT`),
//! CodeBuild API calls (SigV4-signed when `KILN_ACCESS_KEY_ID`/`KILN_SECRET_ACCESS_KEY` are set), and the
//! logs and events endpoints.

use std::time::{Duration, SystemTime};

use anyhow::{Context, bail};
use kiln_core::sigv4::{AmzDate, Credentials, HttpRequest, SigningParams, sign};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Where the server is and how to talk to it (flags shared by every client command).
#[derive(Debug, Clone, clap::Args)]
pub struct Connection {
    /// The Kiln server's URL.
    #[arg(
        long,
        env = "KILN_ENDPOINT",
        default_value = "http://127.0.0.1:8950",
        global = true
    )]
    pub endpoint: String,
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

/// A client for one server.
pub struct Client {
    endpoint: String,
    http: reqwest::blocking::Client,
    credentials: Option<Credentials>,
}

impl Client {
    /// A client for `connection`, signing with the environment's credentials if both are set.
    pub fn new(connection: &Connection) -> anyhow::Result<Client> {
        let credentials = match (
            std::env::var("KILN_ACCESS_KEY_ID"),
            std::env::var("KILN_SECRET_ACCESS_KEY"),
        ) {
            (Ok(id), Ok(secret)) => Some(Credentials::new(id, secret)),
            _ => None,
        };
        let http = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()?;
        Ok(Client {
            endpoint: connection.endpoint.trim_end_matches('/').to_owned(),
            http,
            credentials,
        })
    }

    /// Calls a CodeBuild API operation and reads its output as `T`; an API error becomes an error naming its
    /// `__type`.
    pub fn api<T: DeserializeOwned>(&self, operation: &str, input: &impl Serialize) -> anyhow::Result<T> {
        let body = serde_json::to_string(input)?;
        let target = format!("CodeBuild_20161006.{operation}");
        let host = self
            .endpoint
            .split("://")
            .nth(1)
            .unwrap_or(&self.endpoint)
            .to_owned();
        let mut request = self
            .http
            .post(format!("{}/", self.endpoint))
            .header("Content-Type", "application/x-amz-json-1.1")
            .header("X-Amz-Target", &target);
        if let Some(credentials) = &self.credentials {
            let headers = [
                ("host", host.as_str()),
                ("content-type", "application/x-amz-json-1.1"),
                ("x-amz-target", target.as_str()),
            ];
            let time = AmzDate::from_system_time(SystemTime::now()).context("the clock is before 1970")?;
            let http = HttpRequest {
                method: "POST",
                path: "/",
                query: "",
                headers: &headers,
                body: body.as_bytes(),
            };
            let params = SigningParams {
                credentials,
                region: "local",
                service: "codebuild",
                time,
            };
            let signed = sign(&http, &params)?;
            for (name, value) in signed.pairs() {
                request = request.header(name, value);
            }
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
            let message = error.message.as_deref().unwrap_or("no message");
            bail!("{operation} failed ({status}): {kind}: {message}");
        }
        serde_json::from_slice(&bytes).with_context(|| format!("reading the answer to {operation}"))
    }

    /// GETs a path of the server and returns the response.
    pub fn get(&self, path: &str) -> anyhow::Result<reqwest::blocking::Response> {
        let mut request = self.http.get(format!("{}{path}", self.endpoint));
        if let Some(credentials) = &self.credentials {
            // With credentials configured the server's logs and events need a signature too.
            let host = self.endpoint.split("://").nth(1).unwrap_or(&self.endpoint);
            let (path_only, query) = path.split_once('?').unwrap_or((path, ""));
            let headers = [("host", host)];
            let time = AmzDate::from_system_time(SystemTime::now()).context("the clock is before 1970")?;
            let http = HttpRequest {
                method: "GET",
                path: path_only,
                query,
                headers: &headers,
                body: b"",
            };
            let params = SigningParams {
                credentials,
                region: "local",
                service: "codebuild",
                time,
            };
            for (name, value) in sign(&http, &params)?.pairs() {
                request = request.header(name, value);
            }
        }
        let response = request
            .send()
            .with_context(|| format!("calling {}", self.endpoint))?;
        if !response.status().is_success() {
            bail!(
                "GET {path} failed: {} {}",
                response.status(),
                response.text().unwrap_or_default()
            );
        }
        Ok(response)
    }
}
