//! The log pipeline of one build: the commands' merged stdout and stderr (one pipe, so their order holds) and
//! the executor's own `[Container]` lines, masked, cut into lines, and streamed to the terminal and a
//! [`LogSink`].
//!
//! One task owns the read end of the output pipe. Every executor line is acknowledged only after all output
//! already in the pipe has been drained ahead of it, so "Running command" lines and command output interleave
//! in the order they happened. Memory is bounded: a fixed read buffer, the masker's tail, one partial line of
//! at most [`MAX_LINE`] bytes (longer lines are cut), and a sink buffer flushed at [`SINK_BATCH`] bytes or
//! every [`FLUSH_EVERY`].

use std::io::{PipeWriter, Write};
use std::os::fd::OwnedFd;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use kiln_core::ports::logs::{LogSink, LogSinkError};
use tokio::net::unix::pipe;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use super::format::container_line;
use super::mask::Masker;

/// Longest line kept whole; longer output without a newline is cut into lines of this size.
pub const MAX_LINE: usize = 16 * 1024;
/// Sink buffer size that triggers an append.
pub const SINK_BATCH: usize = 256 * 1024;
/// Longest time output waits in the sink buffer.
pub const FLUSH_EVERY: Duration = Duration::from_millis(200);
const READ_CHUNK: usize = 64 * 1024;

/// Why the log pipeline failed.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error("could not create the build's output pipe: {0}")]
    Pipe(#[source] std::io::Error),
    #[error(transparent)]
    Sink(#[from] LogSinkError),
    #[error("the log pipeline stopped unexpectedly")]
    Gone,
}

/// Where the terminal copy of the log goes (stdout for `kiln run`, nothing for the server).
pub type Terminal = Box<dyn Write + Send>;

enum Control {
    Line(String, oneshot::Sender<()>),
    Secrets(Vec<String>, oneshot::Sender<()>),
    Finish(Duration, oneshot::Sender<()>),
    Capture(bool, oneshot::Sender<Vec<u8>>),
}

/// How much of a phase's output is kept for `on-failure: RETRY-<regex>` matching.
pub const TAIL_BYTES: usize = 64 * 1024;

/// A running log pipeline; see the module docs.
pub struct LogPipeline {
    tx: mpsc::UnboundedSender<Control>,
    writer: PipeWriter,
    task: JoinHandle<Result<String, LogError>>,
}

impl LogPipeline {
    /// Starts the pipeline task; output written to [`Self::output_writer`] clones is logged.
    pub fn start(sink: Arc<dyn LogSink>, terminal: Option<Terminal>) -> Result<Self, LogError> {
        let (reader, writer) = std::io::pipe().map_err(LogError::Pipe)?;
        // A second handle on the same (non-blocking) pipe: draining must really read, whatever readiness the
        // runtime has cached for the async handle.
        let direct = reader.try_clone().map_err(LogError::Pipe)?;
        let receiver = pipe::Receiver::from_owned_fd(OwnedFd::from(reader)).map_err(LogError::Pipe)?;
        let (tx, rx) = mpsc::unbounded_channel();
        let state = State {
            masker: Masker::default(),
            partial: Vec::new(),
            batch: Vec::with_capacity(SINK_BATCH),
            sink,
            terminal,
            error: None,
            tail: None,
        };
        let task = tokio::spawn(run(receiver, direct, rx, state));
        Ok(Self { tx, writer, task })
    }

    /// A write end of the output pipe, for a child's stdout or stderr.
    pub fn output_writer(&self) -> std::io::Result<PipeWriter> {
        self.writer.try_clone()
    }

    /// Sets the secret values to mask from now on (call before any command runs).
    pub async fn set_secrets(&self, secrets: Vec<String>) -> Result<(), LogError> {
        self.request(|ack| Control::Secrets(secrets, ack)).await
    }

    /// Writes one `[Container]` line after all output produced so far.
    pub async fn line(&self, message: &str) -> Result<(), LogError> {
        let text = container_line(SystemTime::now(), message);
        self.request(|ack| Control::Line(text, ack)).await
    }

    /// Drains what is left (waiting at most `drain` for writers still open), flushes, and closes the sink.
    pub async fn finish(self, drain: Duration) -> Result<String, LogError> {
        let Self { tx, writer, task } = self;
        drop(writer);
        let (ack, done) = oneshot::channel();
        if tx.send(Control::Finish(drain, ack)).is_ok() {
            let _ = done.await;
        }
        drop(tx);
        task.await.map_err(|_| LogError::Gone)?
    }

    /// Starts (or stops) keeping the last [`TAIL_BYTES`] of output; returns what was kept so far and clears it.
    pub async fn capture(&self, on: bool) -> Result<Vec<u8>, LogError> {
        let (ack, done) = oneshot::channel();
        self.tx
            .send(Control::Capture(on, ack))
            .map_err(|_| LogError::Gone)?;
        done.await.map_err(|_| LogError::Gone)
    }

    async fn request(&self, make: impl FnOnce(oneshot::Sender<()>) -> Control) -> Result<(), LogError> {
        let (ack, done) = oneshot::channel();
        self.tx.send(make(ack)).map_err(|_| LogError::Gone)?;
        done.await.map_err(|_| LogError::Gone)
    }
}

struct State {
    masker: Masker,
    partial: Vec<u8>,
    batch: Vec<u8>,
    sink: Arc<dyn LogSink>,
    terminal: Option<Terminal>,
    error: Option<LogSinkError>,
    tail: Option<Vec<u8>>,
}

async fn run(
    receiver: pipe::Receiver,
    direct: std::io::PipeReader,
    mut rx: mpsc::UnboundedReceiver<Control>,
    mut state: State,
) -> Result<String, LogError> {
    let mut buf = vec![0u8; READ_CHUNK];
    let mut tick = tokio::time::interval(FLUSH_EVERY);
    let mut open = true;
    loop {
        tokio::select! {
            biased;
            msg = rx.recv() => match msg {
                Some(Control::Line(text, ack)) => {
                    drain_now(&direct, &mut buf, &mut state);
                    state.end_output();
                    let line = state.masker.mask_str(&text);
                    state.emit_line(line.as_bytes()).await;
                    state.flush_terminal();
                    let _ = ack.send(());
                }
                Some(Control::Secrets(secrets, ack)) => {
                    drain_now(&direct, &mut buf, &mut state);
                    state.end_output();
                    state.masker = Masker::new(&secrets);
                    let _ = ack.send(());
                }
                Some(Control::Finish(drain, ack)) => {
                    if open {
                        let _ = tokio::time::timeout(drain, drain_to_eof(&receiver, &mut buf, &mut state)).await;
                    }
                    drain_now(&direct, &mut buf, &mut state);
                    state.end_output();
                    state.flush_sink().await;
                    let _ = ack.send(());
                    break;
                }
                Some(Control::Capture(on, ack)) => {
                    drain_now(&direct, &mut buf, &mut state);
                    state.end_output();
                    let kept = state.tail.take().unwrap_or_default();
                    state.tail = on.then(Vec::new);
                    let _ = ack.send(kept);
                }
                None => break,
            },
            ready = receiver.readable(), if open => {
                if ready.is_err() { open = false; continue; }
                match receiver.try_read(&mut buf) {
                    Ok(0) => open = false,
                    Ok(n) => state.output(&buf[..n]).await,
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                    Err(_) => open = false,
                }
            }
            _ = tick.tick() => {
                state.flush_sink().await;
                state.flush_terminal();
            }
        }
    }
    state.flush_sink().await;
    if let Some(err) = state.error.take() {
        return Err(err.into());
    }
    Ok(state.sink.finish().await?)
}

/// Reads everything already in the pipe without waiting.
fn drain_now(mut direct: &std::io::PipeReader, buf: &mut [u8], state: &mut State) {
    use std::io::Read;
    while let Ok(n) = direct.read(buf) {
        if n == 0 {
            break;
        }
        state.output_sync(&buf[..n]);
    }
}

/// Reads until every writer has closed the pipe.
async fn drain_to_eof(receiver: &pipe::Receiver, buf: &mut [u8], state: &mut State) {
    loop {
        if receiver.readable().await.is_err() {
            return;
        }
        match receiver.try_read(buf) {
            Ok(0) => return,
            Ok(n) => state.output(&buf[..n]).await,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(_) => return,
        }
    }
}

impl State {
    /// Command output: mask, cut into lines, buffer; appends to the sink when the batch is full.
    async fn output(&mut self, chunk: &[u8]) {
        self.output_sync(chunk);
        if self.batch.len() >= SINK_BATCH {
            self.flush_sink().await;
        }
    }

    fn output_sync(&mut self, chunk: &[u8]) {
        let mut masked = Vec::with_capacity(chunk.len() + 16);
        self.masker.push(chunk, &mut masked);
        self.take_lines(&masked);
    }

    /// Ends the current output (a command finished): flushes the masker and any partial line.
    fn end_output(&mut self) {
        let mut rest = Vec::new();
        self.masker.flush(&mut rest);
        self.take_lines(&rest);
        if !self.partial.is_empty() {
            let mut line = std::mem::take(&mut self.partial);
            line.push(b'\n');
            self.push_out(&line);
        }
    }

    fn take_lines(&mut self, data: &[u8]) {
        if let Some(last) = memchr::memrchr(b'\n', data) {
            let (mut complete, rest) = data.split_at(last + 1);
            if !self.partial.is_empty() {
                let first = memchr::memchr(b'\n', complete).unwrap_or(last);
                self.partial.extend_from_slice(&complete[..=first]);
                let whole = std::mem::take(&mut self.partial);
                self.push_out(&whole);
                complete = &complete[first + 1..];
            }
            self.push_out(complete);
            self.partial.extend_from_slice(rest);
        } else {
            self.partial.extend_from_slice(data);
        }
        while self.partial.len() >= MAX_LINE {
            let mut line: Vec<u8> = self.partial.drain(..MAX_LINE).collect();
            line.push(b'\n');
            self.push_out(&line);
        }
    }

    fn push_out(&mut self, lines: &[u8]) {
        if let Some(term) = &mut self.terminal {
            let _ = term.write_all(lines);
        }
        self.batch.extend_from_slice(lines);
        if let Some(tail) = &mut self.tail {
            tail.extend_from_slice(lines);
            if tail.len() > 2 * TAIL_BYTES {
                tail.drain(..tail.len() - TAIL_BYTES);
            }
        }
    }

    async fn emit_line(&mut self, line: &[u8]) {
        let mut owned = line.to_vec();
        owned.push(b'\n');
        self.push_out(&owned);
        self.flush_sink().await;
    }

    async fn flush_sink(&mut self) {
        if self.batch.is_empty() {
            return;
        }
        if let Err(err) = self.sink.append(&self.batch).await {
            tracing::warn!(error = %err, "log sink append failed");
            self.error.get_or_insert(err);
        }
        self.batch.clear();
    }

    fn flush_terminal(&mut self) {
        if let Some(term) = &mut self.terminal {
            let _ = term.flush();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kiln_local::FileLogSink;

    async fn pipeline(secrets: &[&str]) -> (LogPipeline, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let sink = Arc::new(FileLogSink::create(dir.path().join("log")).unwrap());
        let log = LogPipeline::start(sink, None).unwrap();
        log.set_secrets(secrets.iter().map(|s| s.to_string()).collect())
            .await
            .unwrap();
        (log, dir)
    }

    #[tokio::test]
    async fn long_output_without_newlines_is_cut_into_bounded_lines() {
        let (log, dir) = pipeline(&[]).await;
        let mut writer = log.output_writer().unwrap();
        let blob = vec![b'x'; MAX_LINE * 3 + 10];
        let writing = std::thread::spawn(move || writer.write_all(&blob));
        log.line("after").await.unwrap();
        writing.join().unwrap().unwrap();
        let location = log.finish(Duration::from_millis(500)).await.unwrap();
        let text = std::fs::read_to_string(location).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert!(
            lines.iter().all(|l| l.len() <= MAX_LINE + 60),
            "a line is longer than MAX_LINE"
        );
        assert_eq!(text.matches('x').count(), MAX_LINE * 3 + 10);
        drop(dir);
    }

    #[tokio::test]
    async fn executor_lines_follow_all_output_written_before_them_and_secrets_are_masked() {
        let (log, _dir) = pipeline(&["hunter2"]).await;
        let mut writer = log.output_writer().unwrap();
        for i in 0..100 {
            writer.write_all(format!("out {i} hun").as_bytes()).unwrap();
            writer.write_all(b"ter2\n").unwrap();
            log.line(&format!("mark {i}")).await.unwrap();
        }
        drop(writer);
        let location = log.finish(Duration::from_millis(500)).await.unwrap();
        let text = std::fs::read_to_string(location).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        for i in 0..100 {
            assert_eq!(lines[2 * i], format!("out {i} ***"));
            assert!(lines[2 * i + 1].ends_with(&format!("mark {i}")));
        }
    }
}
