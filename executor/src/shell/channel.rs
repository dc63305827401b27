//! The status channel between a build's shell and the executor: a FIFO the shell writes (on fd 9, or by path
//! from its `EXIT` trap) and the executor reads into memory. Everything the executor learns from the shell
//! comes this way, so no value of the build's environment is ever written to a file.
//!
//! Each message starts with one line that says what follows:
//!
//! | first line | then | sent |
//! |---|---|---|
//! | `<status>` | nothing | after each command |
//! | `x<status>` | the shell's state | by the `EXIT` trap: the shell is ending |
//! | `s` | the shell's state | on request, before a `run-as` switch |
//! | `v` | `NAME=VALUE\0` entries, then `\0` | on request, for `exported-variables` |
//! | `e` | `VALUE\0` | on request, a shell word evaluated |
//!
//! A shell's state is its working directory (`pwd`) and its exported variables (`export -p`), each ended by a
//! NUL byte (a byte no shell value can hold). It stays in memory ([`SavedState`]) until the next shell of the
//! build re-applies it, sent on that shell's standard input.

use std::path::Path;
use std::time::Duration;

use tokio::io::{AsyncBufRead, AsyncBufReadExt};

use super::quote;

/// How long the executor waits for the rest of a message once its first line has arrived.
const REST_WAIT: Duration = Duration::from_secs(5);

/// Writes the shell's state (working directory, exported variables), each part ended by a NUL byte.
const STATE: &str = "pwd; printf '\\0'; export -p; printf '\\0'";

/// What a shell had when it ended or handed over to another: its working directory and exported variables.
/// Kept in memory only; its `Debug` shows sizes, never values.
#[derive(Clone, PartialEq, Eq)]
pub struct SavedState {
    cwd: Vec<u8>,
    exports: Vec<u8>,
}

impl std::fmt::Debug for SavedState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SavedState")
            .field("cwd", &String::from_utf8_lossy(&self.cwd))
            .field("exports", &format_args!("<{} bytes>", self.exports.len()))
            .finish()
    }
}

impl SavedState {
    /// The script that re-applies this state in a new shell (read from its standard input, never a file):
    /// the variables in a group whose output is discarded, then the directory; it reports its status.
    pub fn restore_script(&self) -> Vec<u8> {
        let cwd = String::from_utf8_lossy(&self.cwd);
        let mut script = b"{ :\n".to_vec();
        script.extend_from_slice(&self.exports);
        script.extend_from_slice(
            format!(
                "\n}} >/dev/null 2>&1 </dev/null 9>&-; cd {} 2>/dev/null; echo \"$?\" >&9\n",
                quote(Path::new(cwd.as_ref()))
            )
            .as_bytes(),
        );
        script
    }
}

/// One message from the shell.
#[derive(Debug, PartialEq, Eq)]
pub enum Reply {
    /// A command ended with this status.
    Status(i32),
    /// The shell is ending with this status, having saved its state (if it could).
    Exit(i32, Option<SavedState>),
    /// The state asked for.
    State(SavedState),
    /// The variables asked for that are set.
    Vars(Vec<(String, String)>),
    /// The evaluated word asked for.
    Text(String),
    /// Something this protocol does not know (the shell is no longer following it).
    Unknown,
}

/// The `EXIT` trap's body: reports `x<status>` and the state on the FIFO at `status` (fd 9 may be closed).
pub fn exit_trap(status: &str) -> String {
    format!(
        "__kiln_exit() {{ __kiln_s=$?; {{ echo \"x$__kiln_s\"; {STATE}; }} >{status} 2>/dev/null; }}\n\
         trap __kiln_exit EXIT\n"
    )
}

/// The request for the shell's state.
pub fn state_request() -> String {
    format!("{{ echo s; {STATE}; }} >&9 2>/dev/null\n")
}

/// The request for the values of `names` (shell identifiers) that are set.
pub fn vars_request(names: &[&String]) -> String {
    let mut script = String::from("{ echo v");
    for name in names {
        script.push_str(&format!(
            "; if [ \"${{{name}+x}}\" = x ]; then printf '%s=%s\\0' {name} \"${name}\"; fi"
        ));
    }
    script.push_str("; printf '\\0'; } >&9 2>/dev/null\n");
    script
}

/// The request to evaluate `text` as the inside of a double-quoted word: the expansion runs like a command
/// (no status channel, no standard input; a failing substitution does not end a `set -e` shell), then its
/// value is reported.
pub fn eval_request(text: &str) -> String {
    let escaped = text.replace('\\', "\\\\").replace('"', "\\\"");
    format!(
        "{{ __kiln_v=\"{escaped}\" || :; }} </dev/null 9>&-; {{ echo e; printf '%s\\0' \"$__kiln_v\"; }} >&9 2>/dev/null; \
         unset __kiln_v\n"
    )
}

/// Reads the rest of a message whose first line was `line` (without its newline).
pub async fn rest<R: AsyncBufRead + Unpin>(line: &str, reader: &mut R) -> Reply {
    if let Some(code) = line.strip_prefix('x') {
        return Reply::Exit(code.parse().unwrap_or(1), state(reader).await);
    }
    match line {
        "s" => state(reader).await.map_or(Reply::Unknown, Reply::State),
        "v" => vars(reader).await.map_or(Reply::Unknown, Reply::Vars),
        "e" => match field(reader).await {
            Some(value) => Reply::Text(String::from_utf8_lossy(&value).into_owned()),
            None => Reply::Unknown,
        },
        _ => line.parse().map_or(Reply::Unknown, Reply::Status),
    }
}

async fn state<R: AsyncBufRead + Unpin>(reader: &mut R) -> Option<SavedState> {
    let mut cwd = field(reader).await?;
    if cwd.last() == Some(&b'\n') {
        cwd.pop();
    }
    let exports = field(reader).await?;
    Some(SavedState { cwd, exports })
}

async fn vars<R: AsyncBufRead + Unpin>(reader: &mut R) -> Option<Vec<(String, String)>> {
    let mut vars = Vec::new();
    loop {
        let entry = field(reader).await?;
        if entry.is_empty() {
            return Some(vars);
        }
        let text = String::from_utf8_lossy(&entry);
        if let Some((name, value)) = text.split_once('=') {
            vars.push((name.to_owned(), value.to_owned()));
        }
    }
}

/// One NUL-ended field, without its NUL; `None` if it does not arrive in time.
async fn field<R: AsyncBufRead + Unpin>(reader: &mut R) -> Option<Vec<u8>> {
    let mut bytes = Vec::new();
    match tokio::time::timeout(REST_WAIT, reader.read_until(0, &mut bytes)).await {
        Ok(Ok(_)) if bytes.last() == Some(&0) => {
            bytes.pop();
            Some(bytes)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn parse(bytes: &[u8]) -> Reply {
        let mut reader = bytes;
        let mut line = String::new();
        reader.read_line(&mut line).await.unwrap();
        rest(line.trim_end_matches('\n'), &mut reader).await
    }

    #[tokio::test]
    async fn every_message_is_read_whole_and_values_may_hold_newlines() {
        assert_eq!(parse(b"3\n").await, Reply::Status(3));
        let state = SavedState {
            cwd: b"/w/d".to_vec(),
            exports: b"export A='x\ny'\n".to_vec(),
        };
        assert_eq!(
            parse(b"x7\n/w/d\n\0export A='x\ny'\n\0").await,
            Reply::Exit(7, Some(state.clone()))
        );
        assert_eq!(
            parse(b"s\n/w/d\n\0export A='x\ny'\n\0").await,
            Reply::State(state)
        );
        assert_eq!(
            parse(b"v\nA=1\0B=x=\ny\0\0").await,
            Reply::Vars(vec![("A".into(), "1".into()), ("B".into(), "x=\ny".into())])
        );
        assert_eq!(parse(b"e\nvalue\0").await, Reply::Text("value".into()));
        assert_eq!(parse(b"x2\n/w").await, Reply::Exit(2, None));
        assert_eq!(parse(b"hello\n").await, Reply::Unknown);
    }

    #[test]
    fn a_state_shows_no_values_when_debugged() {
        let state = SavedState {
            cwd: b"/w".to_vec(),
            exports: b"export TOKEN='hunter2'\n".to_vec(),
        };
        let shown = format!("{state:?}");
        assert!(
            !shown.contains("hunter2") && shown.contains("23 bytes"),
            "{shown}"
        );
    }
}
