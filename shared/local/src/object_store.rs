//! The local object store: a directory on disk where each key is a relative path. Writes are atomic (a temp
//! file in the same directory, then a rename), and the SHA-256 of each object is computed while it is copied.

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use kiln_core::ports::BoxFuture;
use kiln_core::ports::object_store::{ObjectInfo, ObjectStore, ObjectStoreError};

/// An [`ObjectStore`] kept in a directory: key `a/b.zip` is the file `<root>/a/b.zip`.
#[derive(Debug, Clone)]
pub struct DirObjectStore {
    root: PathBuf,
}

impl DirObjectStore {
    /// A store rooted at `root` (created on first write if missing).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// The directory that holds the objects.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The file a key maps to, refusing empty, absolute and `..` keys.
    pub fn path_of(&self, key: &str) -> Result<PathBuf, ObjectStoreError> {
        let invalid = |reason: &str| ObjectStoreError::InvalidKey {
            key: key.to_owned(),
            reason: reason.to_owned(),
        };
        if key.is_empty() || key.ends_with('/') {
            return Err(invalid(
                "a key names an object and cannot be empty or end with '/'",
            ));
        }
        if key.starts_with('/') || key.contains('\\') || key.contains('\0') {
            return Err(invalid("keys are relative, '/'-separated, without '\\' or NUL"));
        }
        if key
            .split('/')
            .any(|seg| seg.is_empty() || seg == "." || seg == "..")
        {
            return Err(invalid("'.', '..' and empty segments are not allowed"));
        }
        let rel = Path::new(key);
        Ok(self.root.join(rel))
    }

    fn location_of(path: &Path) -> String {
        format!("file://{}", path.display())
    }

    fn put_blocking(&self, key: &str, src: &Path) -> Result<ObjectInfo, ObjectStoreError> {
        let dest = self.path_of(key)?;
        let io = |source| ObjectStoreError::Io {
            key: key.to_owned(),
            source,
        };
        let parent = dest.parent().unwrap_or(&self.root);
        std::fs::create_dir_all(parent).map_err(io)?;
        let mut input = File::open(src).map_err(io)?;
        let mut tmp = tempfile::NamedTempFile::new_in(parent).map_err(io)?;
        let (size, sha256) = copy_hashing(&mut input, tmp.as_file_mut()).map_err(io)?;
        tmp.as_file().sync_data().map_err(io)?;
        tmp.persist(&dest).map_err(|e| io(e.error))?;
        Ok(ObjectInfo {
            key: key.to_owned(),
            size,
            sha256: Some(sha256),
            location: Self::location_of(&dest),
        })
    }

    fn get_blocking(&self, key: &str, dest: &Path) -> Result<Option<ObjectInfo>, ObjectStoreError> {
        let src = self.path_of(key)?;
        let io = |source| ObjectStoreError::Io {
            key: key.to_owned(),
            source,
        };
        let mut input = match File::open(&src) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io(e)),
        };
        if input.metadata().map_err(io)?.is_dir() {
            return Ok(None);
        }
        let mut out = File::create(dest).map_err(io)?;
        let (size, sha256) = copy_hashing(&mut input, &mut out).map_err(io)?;
        Ok(Some(ObjectInfo {
            key: key.to_owned(),
            size,
            sha256: Some(sha256),
            location: Self::location_of(&src),
        }))
    }

    fn head_blocking(&self, key: &str) -> Result<Option<ObjectInfo>, ObjectStoreError> {
        let path = self.path_of(key)?;
        match std::fs::metadata(&path) {
            Ok(meta) if meta.is_file() => Ok(Some(ObjectInfo {
                key: key.to_owned(),
                size: meta.len(),
                sha256: None,
                location: Self::location_of(&path),
            })),
            Ok(_) => Ok(None),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(ObjectStoreError::Io {
                key: key.to_owned(),
                source,
            }),
        }
    }
}

/// Copies `input` to `out`, returning the byte count and the lowercase hex SHA-256 of what was copied.
fn copy_hashing(input: &mut impl Read, out: &mut impl Write) -> std::io::Result<(u64, String)> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut size = 0u64;
    loop {
        let n = match input.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        let chunk = buf.get(..n).unwrap_or_default();
        hasher.update(chunk);
        out.write_all(chunk)?;
        size += n as u64;
    }
    out.flush()?;
    Ok((size, hex::encode(hasher.finalize())))
}

/// Runs blocking file work off the async executor when a Tokio runtime is present, inline otherwise.
async fn blocking<T: Send + 'static>(
    key: &str,
    f: impl FnOnce() -> Result<T, ObjectStoreError> + Send + 'static,
) -> Result<T, ObjectStoreError> {
    if tokio::runtime::Handle::try_current().is_err() {
        return f();
    }
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ObjectStoreError::Backend {
            key: key.to_owned(),
            message: format!("blocking task failed: {e}"),
            retryable: false,
        })?
}

impl ObjectStore for DirObjectStore {
    fn put_file<'a>(
        &'a self,
        key: &'a str,
        path: &'a Path,
    ) -> BoxFuture<'a, Result<ObjectInfo, ObjectStoreError>> {
        let (this, k, p) = (self.clone(), key.to_owned(), path.to_owned());
        Box::pin(blocking(key, move || this.put_blocking(&k, &p)))
    }

    fn get_file<'a>(
        &'a self,
        key: &'a str,
        path: &'a Path,
    ) -> BoxFuture<'a, Result<Option<ObjectInfo>, ObjectStoreError>> {
        let (this, k, p) = (self.clone(), key.to_owned(), path.to_owned());
        Box::pin(blocking(key, move || this.get_blocking(&k, &p)))
    }

    fn head<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<ObjectInfo>, ObjectStoreError>> {
        let (this, k) = (self.clone(), key.to_owned());
        Box::pin(blocking(key, move || this.head_blocking(&k)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run<T>(f: impl std::future::Future<Output = T>) -> T {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
    }

    #[test]
    fn a_put_object_can_be_fetched_back_with_its_sha256() {
        let dir = tempfile::tempdir().unwrap();
        let store = DirObjectStore::new(dir.path().join("store"));
        let src = dir.path().join("in.txt");
        std::fs::write(&src, b"abc").unwrap();
        let info = run(store.put_file("a/b/c.txt", &src)).unwrap();
        assert_eq!(info.size, 3);
        assert_eq!(
            info.sha256.as_deref(),
            Some("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        );
        let out = dir.path().join("out.txt");
        let got = run(store.get_file("a/b/c.txt", &out)).unwrap().unwrap();
        assert_eq!(got.sha256, info.sha256);
        assert_eq!(std::fs::read(&out).unwrap(), b"abc");
        assert_eq!(run(store.head("a/b/c.txt")).unwrap().unwrap().size, 3);
    }

    #[test]
    fn a_missing_object_is_none_not_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let store = DirObjectStore::new(dir.path());
        assert!(run(store.head("nope")).unwrap().is_none());
        assert!(
            run(store.get_file("nope", &dir.path().join("x")))
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn keys_that_would_escape_the_root_are_refused() {
        let store = DirObjectStore::new("/tmp/kiln-store");
        for key in ["../etc/passwd", "a/../../b", "/abs", "", "a/./b", "dir/"] {
            assert!(
                matches!(store.path_of(key), Err(ObjectStoreError::InvalidKey { .. })),
                "{key:?} accepted"
            );
        }
    }

    #[test]
    fn put_replaces_an_existing_object_atomically() {
        let dir = tempfile::tempdir().unwrap();
        let store = DirObjectStore::new(dir.path().join("s"));
        let src = dir.path().join("in");
        std::fs::write(&src, b"one").unwrap();
        run(store.put_file("k", &src)).unwrap();
        std::fs::write(&src, b"two!").unwrap();
        assert_eq!(run(store.put_file("k", &src)).unwrap().size, 4);
        assert_eq!(std::fs::read(dir.path().join("s/k")).unwrap(), b"two!");
        let leftovers = std::fs::read_dir(dir.path().join("s")).unwrap().count();
        assert_eq!(leftovers, 1, "no temp files left behind");
    }
}
