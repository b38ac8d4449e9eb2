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

/// Which file a handle or path is: device, inode and the time of its last
/// change, so that removing a file found bad does not remove another one
/// renamed there since (even one that got the freed inode back).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FileId {
    dev: u64,
    ino: u64,
    changed: (i64, i64),
}

impl FileId {
    /// The id of the file `meta` describes (always equal elsewhere than on
    /// unix, where callers check by other means).
    pub(crate) fn of(meta: &std::fs::Metadata) -> FileId {
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            FileId {
                dev: meta.dev(),
                ino: meta.ino(),
                changed: (meta.ctime(), meta.ctime_nsec()),
            }
        }
        #[cfg(not(unix))]
        {
            let _ = meta;
            FileId {
                dev: 0,
                ino: 0,
                changed: (0, 0),
            }
        }
    }

    /// Whether both are the same inode, whatever changed on it since (a
    /// file whose times are set is still the same file).
    pub(crate) fn same_inode(&self, other: &FileId) -> bool {
        (self.dev, self.ino) == (other.dev, other.ino)
    }
}
