//! A moto server (the AWS test double, `moto[server]` from PyPI) on a free loopback port for one test.
//!
//! [`MotoServer::start`] spawns `moto_server` from the test venv (or `PATH`), waits until it answers, and kills
//! it when the value is dropped. A test that needs moto calls [`MotoServer::require`], which fails the test
//! with a message that says how to install moto: a missing moto is a failure, never a skip.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Why moto could not be started.
#[derive(Debug, thiserror::Error)]
pub enum MotoError {
    #[error(
        "moto_server was not found (looked for {looked}): run ./scripts/test (or ./scripts/setup), which installs \
         moto[server] into .venv"
    )]
    NotFound { looked: String },
    #[error("could not start {binary}: {source}")]
    Spawn { binary: String, source: std::io::Error },
    #[error("could not find a free loopback port: {0}")]
    Port(std::io::Error),
    #[error("moto_server exited before it was ready ({status}); its output: {output}")]
    Exited { status: String, output: String },
    #[error("moto_server did not answer on {addr} within {waited:?}")]
    NotReady { addr: SocketAddr, waited: Duration },
}

/// A running moto server; killed on drop.
#[derive(Debug)]
pub struct MotoServer {
    child: Child,
    addr: SocketAddr,
    log: PathBuf,
}

impl MotoServer {
    /// Starts moto from the test venv or `PATH`, or fails the calling test with a clear message.
    pub fn require() -> MotoServer {
        match Self::start() {
            Ok(server) => server,
            Err(err) => panic!("this test needs moto server and it could not be started: {err}"),
        }
    }

    /// Starts moto from the test venv (`.venv/bin/moto_server`) or, failing that, from `PATH`.
    pub fn start() -> Result<MotoServer, MotoError> {
        let binary = find_moto()?;
        Self::start_with(&binary)
    }

    /// Starts the given `moto_server` executable on a free loopback port and waits until it answers.
    pub fn start_with(binary: &Path) -> Result<MotoServer, MotoError> {
        let port = free_port().map_err(MotoError::Port)?;
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let log = std::env::temp_dir().join(format!("kiln-moto-{port}-{}.log", std::process::id()));
        let log_file = std::fs::File::create(&log).map_err(|source| spawn_error(binary, source))?;
        let log_err = log_file
            .try_clone()
            .map_err(|source| spawn_error(binary, source))?;
        let child = Command::new(binary)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(log_file)
            .stderr(log_err)
            .spawn()
            .map_err(|source| spawn_error(binary, source))?;
        let mut server = MotoServer { child, addr, log };
        server.wait_ready(Duration::from_secs(30))?;
        Ok(server)
    }

    /// The `http://127.0.0.1:PORT` endpoint to give SDK clients as their endpoint override.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Forgets every resource moto holds (`POST /moto-api/reset`).
    pub fn reset(&self) -> Result<(), reqwest::Error> {
        reqwest::blocking::Client::new()
            .post(format!("{}/moto-api/reset", self.endpoint()))
            .send()?
            .error_for_status()?;
        Ok(())
    }

    fn wait_ready(&mut self, limit: Duration) -> Result<(), MotoError> {
        let started = Instant::now();
        while started.elapsed() < limit {
            if let Ok(Some(status)) = self.child.try_wait() {
                let output = std::fs::read_to_string(&self.log).unwrap_or_default();
                return Err(MotoError::Exited {
                    status: status.to_string(),
                    output,
                });
            }
            if TcpStream::connect_timeout(&self.addr, Duration::from_millis(100)).is_ok() && self.answers() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err(MotoError::NotReady {
            addr: self.addr,
            waited: limit,
        })
    }

    fn answers(&self) -> bool {
        let url = format!("{}/moto-api/data.json", self.endpoint());
        reqwest::blocking::get(url)
            .map(|r| r.status().is_success())
            .unwrap_or(false)
    }
}

impl Drop for MotoServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log);
    }
}

fn spawn_error(binary: &Path, source: std::io::Error) -> MotoError {
    MotoError::Spawn {
        binary: binary.display().to_string(),
        source,
    }
}

fn find_moto() -> Result<PathBuf, MotoError> {
    let in_venv = crate::paths::venv_dir().join("bin").join("moto_server");
    if in_venv.is_file() {
        return Ok(in_venv);
    }
    let on_path = std::env::var_os("PATH").into_iter().flat_map(|p| {
        std::env::split_paths(&p)
            .map(|dir| dir.join("moto_server"))
            .collect::<Vec<_>>()
    });
    for candidate in on_path {
        if candidate.is_file() {
            return Ok(candidate);
        }
    }
    Err(MotoError::NotFound {
        looked: format!("{} and PATH", in_venv.display()),
    })
}

fn free_port() -> std::io::Result<u16> {
    let listener = TcpListener::bind(("127.0.0.1", 0))?;
    Ok(listener.local_addr()?.port())
}
