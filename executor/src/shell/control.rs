//! A shell's control directory: its status FIFO, its start-up script and the current command's text, and
//! nothing else (no value of the build's environment). It is made afresh for each shell, private to the
//! executor and the shell's user, and removed with the shell.

use std::path::Path;

use super::{RunAs, quote};

/// Creates the control directory afresh (mode 0700, or 0711 owned by the executor when the shell runs as
/// another user, who then owns only its files), its status FIFO and the start-up script (files 0600, created
/// new, so never through a link).
pub(super) fn prepare(ctl: &Path, user: Option<&RunAs>) -> std::io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
    match std::fs::symlink_metadata(ctl) {
        Ok(meta) if meta.is_dir() => std::fs::remove_dir_all(ctl)?,
        Ok(_) => std::fs::remove_file(ctl)?,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
        Err(err) => return Err(err),
    }
    if let Some(parent) = ctl.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::DirBuilder::new().mode(0o700).create(ctl)?;
    let fifo = ctl.join("status");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600))
        .map_err(std::io::Error::from)?;
    let init = super::channel::exit_trap(&quote(&fifo));
    let init = format!("exec 9>{}\n{init}", quote(&fifo));
    for (name, text) in [("init.sh", init.as_str()), ("cmd", "")] {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(ctl.join(name))?;
        std::io::Write::write_all(&mut file, text.as_bytes())?;
    }
    if let Some(user) = user {
        let owner = Some(nix::unistd::Uid::from_raw(user.uid));
        let group = Some(nix::unistd::Gid::from_raw(user.gid));
        for path in [fifo, ctl.join("init.sh"), ctl.join("cmd")] {
            nix::unistd::chown(&path, owner, group).map_err(std::io::Error::from)?;
        }
        // The user reaches its files through the control directory and the executor's work directory, but
        // can neither list nor change either.
        std::fs::set_permissions(ctl, std::fs::Permissions::from_mode(0o711))?;
        if let Some(parent) = ctl.parent() {
            std::fs::set_permissions(parent, std::fs::Permissions::from_mode(0o711))?;
        }
    }
    Ok(())
}

/// Removes a control directory (a link in its place is removed, not followed).
pub(super) fn remove(ctl: &Path) {
    let _ = std::fs::remove_dir_all(ctl);
}
