//! moto, the AWS double the box runs on: started from the repository's `.venv` (or `PATH`) on a free loopback
//! port and killed when the box stops — or an endpoint the user already runs — plus the two things the box
//! asks of it besides AWS APIs: the default VPC's subnets and security group (for the template's network
//! parameters; moto's RunTask needs a subnet it knows), and turning its ECS task state machine to `manual`
//! so tasks stay RUNNING until the box stops them.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

/// The environment variable naming the `moto_server` executable.
pub const MOTO_VARIABLE: &str = "KILN_MOTO_SERVER";

/// Why moto could not be started or asked.
#[derive(Debug, thiserror::Error)]
pub enum MotoError {
    #[error(
        "moto_server was not found (looked for {looked}); run scripts/setup, which installs it into .venv, set \
         {MOTO_VARIABLE}, or pass --moto-endpoint"
    )]
    NotFound { looked: String },
    #[error("could not start {binary}: {source}")]
    Spawn { binary: String, source: std::io::Error },
    #[error("moto_server did not answer on {addr} within {waited:?}; its log is {log}")]
    NotReady {
        addr: SocketAddr,
        waited: Duration,
        log: String,
    },
    #[error("moto at {endpoint}: {message}")]
    Request { endpoint: String, message: String },
}

/// A moto server the box started; killed on drop.
#[derive(Debug)]
pub struct MotoProcess {
    child: std::process::Child,
    endpoint: String,
}

impl MotoProcess {
    /// Starts `binary` on a free loopback port, logging to `log`, and waits until it answers.
    pub fn start(binary: &Path, log: &Path) -> Result<MotoProcess, MotoError> {
        let spawn_error = |source| MotoError::Spawn {
            binary: binary.display().to_string(),
            source,
        };
        let port = TcpListener::bind(("127.0.0.1", 0))
            .and_then(|l| l.local_addr())
            .map_err(spawn_error)?
            .port();
        let file = std::fs::File::create(log).map_err(spawn_error)?;
        let child = std::process::Command::new(binary)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(file.try_clone().map_err(spawn_error)?)
            .stderr(file)
            .spawn()
            .map_err(spawn_error)?;
        let process = MotoProcess {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
        };
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let started = Instant::now();
        let limit = Duration::from_secs(30);
        while started.elapsed() < limit {
            if TcpStream::connect_timeout(&addr, Duration::from_millis(100)).is_ok() {
                return Ok(process);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err(MotoError::NotReady {
            addr,
            waited: limit,
            log: log.display().to_string(),
        })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }
}

impl Drop for MotoProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The `moto_server` to start: `$KILN_MOTO_SERVER`, else `.venv/bin/moto_server` beside the template or in a
/// parent directory, else on `PATH`.
pub fn find(template: &Path) -> Result<PathBuf, MotoError> {
    if let Some(binary) = std::env::var_os(MOTO_VARIABLE).filter(|b| !b.is_empty()) {
        return Ok(PathBuf::from(binary));
    }
    let start = template
        .canonicalize()
        .ok()
        .and_then(|p| p.parent().map(Path::to_path_buf))
        .unwrap_or_default();
    let in_venvs = start
        .ancestors()
        .map(|d| d.join(".venv").join("bin").join("moto_server"));
    let on_path = std::env::var_os("PATH")
        .map(|p| {
            std::env::split_paths(&p)
                .map(|d| d.join("moto_server"))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    let candidates: Vec<PathBuf> = in_venvs.chain(on_path).collect();
    candidates
        .iter()
        .find(|c| c.is_file())
        .cloned()
        .ok_or_else(|| MotoError::NotFound {
            looked: candidates
                .iter()
                .take(3)
                .map(|c| c.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
                + ", and PATH",
        })
}

/// The default VPC's subnet ids and its default security group, through EC2's query API.
pub async fn default_network(
    endpoint: &str,
    region: &str,
    key: &str,
) -> Result<(Vec<String>, Vec<String>), MotoError> {
    let subnets = ec2_query(endpoint, region, key, "DescribeSubnets").await?;
    let groups = ec2_query(endpoint, region, key, "DescribeSecurityGroups").await?;
    Ok((
        tags(&subnets, "subnetId"),
        tags(&groups, "groupId").into_iter().take(1).collect(),
    ))
}

async fn ec2_query(endpoint: &str, region: &str, key: &str, action: &str) -> Result<String, MotoError> {
    // moto reads the region from the credential scope and checks no signature.
    let authorization = format!(
        "AWS4-HMAC-SHA256 Credential={key}/20260101/{region}/ec2/aws4_request, SignedHeaders=host, Signature=0"
    );
    let response = reqwest::Client::new()
        .post(endpoint)
        .header("Authorization", authorization)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(format!("Action={action}&Version=2016-11-15"))
        .send()
        .await
        .map_err(|e| request_error(endpoint, &e))?;
    response.text().await.map_err(|e| request_error(endpoint, &e))
}

/// The text of every `<name>` element, in order (the query API's XML is flat enough for this).
fn tags(xml: &str, name: &str) -> Vec<String> {
    let (open, close) = (format!("<{name}>"), format!("</{name}>"));
    xml.split(open.as_str())
        .skip(1)
        .filter_map(|rest| {
            rest.split_once(close.as_str())
                .map(|(value, _)| value.trim().to_owned())
        })
        .collect()
}

/// Keeps ECS tasks in their state until stopped (moto advances them on every DescribeTasks by default).
pub async fn keep_tasks_running(endpoint: &str) -> Result<(), MotoError> {
    let body = serde_json::json!({
        "model_name": "ecs::task",
        "transition": {"progression": "manual", "times": 1_000_000_000_u64}
    });
    reqwest::Client::new()
        .post(format!("{endpoint}/moto-api/state-manager/set-transition"))
        .json(&body)
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .map_err(|e| request_error(endpoint, &e))?;
    Ok(())
}

fn request_error(endpoint: &str, err: &reqwest::Error) -> MotoError {
    MotoError::Request {
        endpoint: endpoint.to_owned(),
        message: err.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn element_texts_are_read_in_order() {
        let xml = "<a><subnetId>subnet-1</subnetId><x/><subnetId> subnet-2 </subnetId></a>";
        assert_eq!(tags(xml, "subnetId"), ["subnet-1", "subnet-2"]);
        assert!(tags(xml, "groupId").is_empty());
    }
}
