//! Checks on the files a config or a command names (videos, pictures, backgrounds, cameras),
//! shared by `source`, `compose` and `devices`.

use std::path::Path;

/// Why `path` cannot be read as a media file, as the end of a sentence starting with the path
/// ("is a folder, not a file"), or `None` for a regular file (or a link to one). A device such as
/// `/dev/zero` would be read without end, a folder or a symlink loop gives a puzzling decoder
/// error: each is named for what it is.
pub fn not_a_file(path: &Path) -> Option<String> {
    match std::fs::metadata(path) {
        Ok(m) if m.is_file() => None,
        Ok(m) => {
            use std::os::unix::fs::FileTypeExt;
            let t = m.file_type();
            Some(
                if t.is_dir() {
                    "is a folder, not a file"
                } else if t.is_char_device() || t.is_block_device() {
                    "is a device, not a file"
                } else if t.is_fifo() {
                    "is a named pipe (FIFO), not a file"
                } else if t.is_socket() {
                    "is a socket, not a file"
                } else {
                    "is not a regular file"
                }
                .into(),
            )
        }
        Err(e) => Some(match e.raw_os_error() {
            Some(libc::ELOOP) => {
                "is a symbolic link loop (links that point at each other), not a file".into()
            }
            Some(libc::ENOENT) => match std::fs::read_link(path) {
                Ok(target) => format!(
                    "is a symbolic link to {}, which does not exist",
                    target.display()
                ),
                Err(_) => "does not exist".into(),
            },
            Some(libc::ENOTDIR) => {
                "does not exist (a part of the path is a file, not a folder)".into()
            }
            Some(libc::EACCES) => "cannot be read: permission denied".into(),
            _ => format!("cannot be read: {e}"),
        }),
    }
}
