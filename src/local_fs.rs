//! Opening local files a hostile tree may have planted: the cache's entries
//! and an OCI layout's files are opened without following a symlink or
//! waiting on a FIFO, and the caller checks what it got on the handle.

use std::fs::File;
use std::io;
use std::path::Path;

/// Opens `path` for reading without following a symlink (`O_NOFOLLOW`) or
/// blocking on a FIFO (`O_NONBLOCK`). A symlink at `path` is an error that
/// [`is_symlink_refusal`] recognizes. Elsewhere than on unix, a plain open
/// (the callers check the file type on the handle).
pub(crate) fn open_no_follow(path: &Path) -> io::Result<File> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(
        &mut options,
        libc::O_NOFOLLOW | libc::O_NONBLOCK,
    );
    options.open(path)
}

/// Whether an error of [`open_no_follow`] says the path is a symlink.
pub(crate) fn is_symlink_refusal(e: &io::Error) -> bool {
    #[cfg(unix)]
    return e.raw_os_error() == Some(libc::ELOOP);
    #[cfg(not(unix))]
    {
        let _ = e;
        false
    }
}
