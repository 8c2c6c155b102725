//! Every path the tool reads or writes, and the rules it keeps for them
//! (docs/threat-model.md says what each rule is against):
//!
//! - **Outputs are private regular files.** The ledger, the passwords file,
//!   the summary and an export are never opened through a symbolic link
//!   (`O_NOFOLLOW`), never a FIFO or a device (opened non-blocking, then
//!   checked to be a regular file, so a FIFO with no reader cannot hang
//!   the tool and `/dev/full` cannot feed it without end), and never a file
//!   another user owns. They are created mode 0600. An existing passwords
//!   file others may read is refused; an existing ledger with a looser
//!   mode is made 0600 (and the tool says so) once its first line shows it
//!   is a ledger, so a stray file is left exactly as it was.
//! - **Whole files are replaced atomically.** The summary is written to a
//!   temporary file beside it, synced, and renamed over the path; an export
//!   is linked into place only if nothing is there (it never overwrites).
//! - **No two paths of a run are one file.** Input, ledger, passwords file,
//!   summary and config are compared by device and inode (and, for
//!   outputs that do not exist yet, by their directory and name), not by
//!   the strings given.
//! - **Inputs have a size.** The input is a regular file, a pipe or a
//!   terminal, never another device; a config file is a regular file of at
//!   most [`MAX_CONFIG_BYTES`].

use std::fs::{File, Metadata, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::error::UsageError;

/// A config file's size, at most.
pub const MAX_CONFIG_BYTES: u64 = 1 << 20;

/// What a path is for in this run, for messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Input,
    /// An exclusion list (`--exclude`).
    Exclude,
    Ledger,
    PasswordsOut,
    SummaryJson,
    Config,
    Export,
    /// This host's claim on a pool (`ledger::claim`).
    PoolClaim,
}

impl Role {
    pub fn flag(self) -> &'static str {
        match self {
            Role::Input => "--input",
            Role::Exclude => "--exclude",
            Role::Ledger => "--ledger",
            Role::PasswordsOut => "--passwords-out",
            Role::SummaryJson => "--summary-json",
            Role::Config => "--config",
            Role::Export => "--output",
            Role::PoolClaim => "pool claim",
        }
    }
}

/// A file's identity: its device and inode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileId {
    dev: u64,
    ino: u64,
}

impl FileId {
    fn of(meta: &Metadata) -> FileId {
        FileId {
            dev: meta.dev(),
            ino: meta.ino(),
        }
    }
}

/// What a path names, for comparing: an existing file's identity, or for
/// a path that does not exist yet, its directory's identity and its name.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Names {
    File(FileId),
    New(FileId, std::ffi::OsString),
    Unknown,
}

fn names(path: &Path) -> Names {
    if let Ok(meta) = std::fs::metadata(path) {
        return Names::File(FileId::of(&meta));
    }
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    match (std::fs::metadata(dir), path.file_name()) {
        (Ok(meta), Some(name)) => Names::New(FileId::of(&meta), name.to_owned()),
        _ => Names::Unknown,
    }
}

/// Refuses a run in which two of `paths` are one file (compared by device
/// and inode), or two outputs would be created as one.
pub fn check_distinct(paths: &[(Role, &Path)]) -> Result<(), UsageError> {
    let named: Vec<(Role, &Path, Names)> = paths
        .iter()
        .filter(|(_, p)| p.as_os_str() != "-")
        .map(|(r, p)| (*r, *p, names(p)))
        .collect();
    for (i, (ra, pa, na)) in named.iter().enumerate() {
        for (rb, pb, nb) in &named[i + 1..] {
            if *na != Names::Unknown && na == nb {
                return Err(UsageError::SameFile {
                    first: ra.flag(),
                    first_path: pa.to_path_buf(),
                    second: rb.flag(),
                    second_path: pb.to_path_buf(),
                });
            }
        }
    }
    Ok(())
}

fn value_error(role: Role, path: &Path, reason: impl std::fmt::Display) -> UsageError {
    UsageError::Path {
        flag: role.flag(),
        path: path.to_path_buf(),
        reason: reason.to_string(),
    }
}

/// The running user's id.
fn euid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

/// Checks an opened output: a regular file the running user owns.
fn check_private(role: Role, path: &Path, meta: &Metadata) -> Result<(), UsageError> {
    let t = meta.file_type();
    if !t.is_file() {
        let what = if t.is_fifo() {
            "a FIFO"
        } else if t.is_char_device() || t.is_block_device() {
            "a device"
        } else if t.is_socket() {
            "a socket"
        } else {
            "not a regular file"
        };
        return Err(value_error(
            role,
            path,
            format!("it is {what}; name a regular file"),
        ));
    }
    if meta.uid() != euid() {
        return Err(value_error(
            role,
            path,
            format!(
                "it belongs to another user (uid {}); name a file of your own",
                meta.uid()
            ),
        ));
    }
    Ok(())
}

/// What to do with an existing file others may read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Loose {
    /// Leave it for now: the ledger, made private by [`tighten`] once its
    /// first line shows that it is a ledger (a stray file is left as it
    /// was found).
    Keep,
    /// Refuse it: a file of secrets others could already have read.
    Refuse,
}

/// Opens `path` for reading and appending, creating it (mode 0600) if
/// missing: never through a symbolic link, never a FIFO or a device, never
/// another user's file; a looser mode is kept (for [`tighten`] to fix once
/// the file is known) or refused.
pub fn open_private(role: Role, path: &Path, loose: Loose) -> Result<File, UsageError> {
    let refuse_link = |e: &io::Error| e.raw_os_error() == Some(libc::ELOOP);
    let mut options = OpenOptions::new();
    options
        .read(true)
        .append(true)
        .create(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK);
    let existed = std::fs::symlink_metadata(path).is_ok();
    let file = options.open(path).map_err(|e| {
        if refuse_link(&e) {
            value_error(
                role,
                path,
                "it is a symbolic link; name the file itself (the tool never writes through a link)",
            )
        } else if e.raw_os_error() == Some(libc::ENXIO) {
            value_error(role, path, "it is a FIFO; name a regular file")
        } else if matches!(
            e.raw_os_error(),
            Some(libc::EACCES | libc::EPERM | libc::EROFS)
        ) {
            value_error(
                role,
                path,
                format!("it cannot be opened for writing ({e}); the tool appends to it, so it must be writable by this user: fix its permissions or its directory's, or name another path"),
            )
        } else {
            value_error(role, path, e)
        }
    })?;
    let meta = file.metadata().map_err(|e| value_error(role, path, e))?;
    check_private(role, path, &meta)?;
    set_blocking(&file).map_err(|e| value_error(role, path, e))?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 && loose == Loose::Refuse {
        return Err(value_error(
            role,
            path,
            format!("others may read it (mode {mode:o}) and it holds secrets: chmod 600 it, or name a new file"),
        ));
    }
    if !existed {
        sync_dir(path).map_err(|e| value_error(role, path, e))?;
    }
    Ok(file)
}

/// Makes an open file 0600 if others may read or write it; returns the mode
/// it had then.
pub fn tighten(file: &File) -> io::Result<Option<u32>> {
    let mode = file.metadata()?.permissions().mode() & 0o777;
    if mode & 0o077 == 0 {
        return Ok(None);
    }
    file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    Ok(Some(mode))
}

/// Clears `O_NONBLOCK`, set only so that opening a FIFO cannot hang.
fn set_blocking(file: &File) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let fd = file.as_raw_fd();
    // SAFETY: fd is an open descriptor owned by `file` for this call.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    if flags < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: as above; only the O_NONBLOCK bit changes.
    if unsafe { libc::fcntl(fd, libc::F_SETFL, flags & !libc::O_NONBLOCK) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Makes a directory entry created under `path`'s directory durable.
pub fn sync_dir(path: &Path) -> io::Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    File::open(dir)?.sync_all()
}

/// Checks, before anything is sent, that a whole-file output can be written
/// at `path`: if something is there it is a regular file of the running
/// user (not a link), and its directory takes a new file.
pub fn check_output(role: Role, path: &Path, may_exist: bool) -> Result<(), UsageError> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() => return Err(value_error(
            role,
            path,
            "it is a symbolic link; name the file itself (the tool never writes through a link)",
        )),
        Ok(_) if !may_exist => {
            return Err(value_error(
                role,
                path,
                "it exists, and this output never overwrites; name a new file",
            ))
        }
        Ok(meta) => check_private(role, path, &meta)?,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(value_error(role, path, e)),
    }
    // The directory takes a new file: try one.
    let probe = temp_path(path);
    let f = new_private(&probe, 0o600).map_err(|e| {
        value_error(
            role,
            path,
            format!("its directory does not take a new file ({e})"),
        )
    })?;
    drop(f);
    let _ = std::fs::remove_file(&probe);
    Ok(())
}

/// A temporary name beside `path`.
fn temp_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".into());
    let nonce: u64 = fastrand::u64(..);
    path.with_file_name(format!(".{name}.{}.{nonce:016x}.tmp", std::process::id()))
}

/// Creates a new file (never an existing one, never through a link).
fn new_private(path: &Path, mode: u32) -> io::Result<File> {
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
}

/// Writes `bytes` as the whole content of `path`, atomically: a temporary
/// file beside it, synced, then renamed over `path` (`replace`) or linked
/// into place only if nothing is there (not `replace`: an existing file is
/// an error). Refuses a symbolic link or a non-regular file at `path`.
pub fn write_atomically(path: &Path, bytes: &[u8], mode: u32, replace: bool) -> io::Result<()> {
    if let Ok(meta) = std::fs::symlink_metadata(path) {
        if meta.file_type().is_symlink() || !meta.file_type().is_file() {
            return Err(io::Error::other(format!(
                "{} is not a regular file; the tool never writes through a link or into a device",
                path.display()
            )));
        }
    }
    let temp = temp_path(path);
    let result = (|| {
        let mut f = new_private(&temp, mode)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        if replace {
            std::fs::rename(&temp, path)?;
        } else {
            std::fs::hard_link(&temp, path)?;
            std::fs::remove_file(&temp)?;
        }
        sync_dir(path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    result
}

/// A new file written whole and then put in place at `path` only if
/// nothing is there (see [`write_atomically`]), for outputs too large to
/// hold in memory (an export).
pub struct NewFile {
    path: PathBuf,
    temp: PathBuf,
    file: io::BufWriter<File>,
}

impl NewFile {
    pub fn create(path: &Path, mode: u32) -> io::Result<NewFile> {
        let temp = temp_path(path);
        let file = io::BufWriter::new(new_private(&temp, mode)?);
        Ok(NewFile {
            path: path.to_owned(),
            temp,
            file,
        })
    }

    /// Syncs the file and links it into place; fails if `path` exists.
    pub fn commit(mut self) -> io::Result<()> {
        self.file.flush()?;
        self.file.get_ref().sync_all()?;
        std::fs::hard_link(&self.temp, &self.path)?;
        sync_dir(&self.path)
        // Drop removes the temporary name.
    }
}

impl Write for NewFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.file.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

impl Drop for NewFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.temp);
    }
}

/// A text made safe for a CSV cell a spreadsheet may open (OWASP, "CSV
/// Injection"): a cell beginning with `=`, `+`, `-`, `@`, a tab, a carriage
/// return or `'` gets a `'` in front, so no spreadsheet evaluates it as a
/// formula; control characters anywhere are written as `\u{..}` escapes.
/// To recover a value, drop the one leading `'` of a cell that begins with
/// one (valid usernames hold no control characters).
pub fn safe_cell(value: &str) -> std::borrow::Cow<'_, str> {
    let risky_start = matches!(
        value.chars().next(),
        Some('=' | '+' | '-' | '@' | '\t' | '\r' | '\'')
    );
    let controls = value.chars().any(char::is_control);
    if !risky_start && !controls {
        return std::borrow::Cow::Borrowed(value);
    }
    let mut out = String::with_capacity(value.len() + 8);
    if risky_start {
        out.push('\'');
    }
    for c in value.chars() {
        if c.is_control() {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

/// Reads a config file: a regular file of at most [`MAX_CONFIG_BYTES`].
pub fn read_config(path: &Path) -> Result<String, String> {
    let mut file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| e.to_string())?;
    let meta = file.metadata().map_err(|e| e.to_string())?;
    if !meta.file_type().is_file() {
        return Err("it is not a regular file".into());
    }
    if meta.len() > MAX_CONFIG_BYTES {
        return Err(format!(
            "it is {} bytes; a config file is at most {MAX_CONFIG_BYTES}",
            meta.len()
        ));
    }
    let mut text = String::new();
    (&mut file)
        .take(MAX_CONFIG_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(|e| e.to_string())?;
    Ok(text)
}

/// Opens the input file: a regular file, a pipe or a terminal, never
/// another device (`/dev/zero` would feed the tool without end). Returns
/// the file and whether it is a regular file (whose last line may end
/// without a newline; a pipe's may not: see the CSV source).
pub fn open_input(path: &Path) -> Result<(File, bool), UsageError> {
    let err = |reason: String| UsageError::Input {
        path: path.display().to_string(),
        reason,
    };
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| err(e.to_string()))?;
    let meta = file.metadata().map_err(|e| err(e.to_string()))?;
    let t = meta.file_type();
    use std::os::fd::AsRawFd;
    // SAFETY: isatty only inspects the open descriptor.
    let tty = unsafe { libc::isatty(file.as_raw_fd()) } == 1;
    if !(t.is_file() || t.is_fifo() || tty) {
        return Err(err(
            "it is a device, not a file, a pipe or a terminal; name the user list itself".into(),
        ));
    }
    set_blocking(&file).map_err(|e| err(e.to_string()))?;
    Ok((file, t.is_file()))
}

/// Whether standard input is a regular file (redirected from one); an
/// error when it is closed (`<&-`), which is not the same as empty.
pub fn stdin_is_regular() -> Result<bool, UsageError> {
    use std::os::fd::AsRawFd;
    let fd = io::stdin().as_raw_fd();
    // SAFETY: fstat on fd 0 with a zeroed stat buffer it fills.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    if unsafe { libc::fstat(fd, &mut st) } != 0 {
        let e = io::Error::last_os_error();
        return Err(UsageError::Input {
            path: "stdin".into(),
            reason: if e.raw_os_error() == Some(libc::EBADF) {
                "standard input is closed; give the list on it (e.g. < users.csv), or name the file with --input".into()
            } else {
                e.to_string()
            },
        });
    }
    let t = st.st_mode & libc::S_IFMT;
    // A device feeds the tool without end (`< /dev/zero`); a terminal and
    // /dev/null (empty) are the devices stdin may be.
    // SAFETY: isatty only inspects the descriptor.
    let tty = unsafe { libc::isatty(fd) } == 1;
    let null = std::fs::metadata("/dev/null").is_ok_and(|m| {
        use std::os::unix::fs::MetadataExt;
        m.rdev() == st.st_rdev as u64
    });
    // SAFETY: F_GETFL only reads the descriptor's flags.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    if null && flags >= 0 && flags & libc::O_ACCMODE == libc::O_RDWR {
        // The Rust runtime puts /dev/null, read-write, in place of a
        // standard descriptor that was closed at start: a shell's `<&-`.
        return Err(UsageError::Input {
            path: "stdin".into(),
            reason: "standard input was closed when the tool started (`<&-`); give the list on it (e.g. < users.csv), or name the file with --input".into(),
        });
    }
    let device = t == libc::S_IFCHR || t == libc::S_IFBLK;
    if device && !tty && !null {
        return Err(UsageError::Input {
            path: "stdin".into(),
            reason: "standard input is a device, not a file, a pipe or a terminal; give the user list itself".into(),
        });
    }
    Ok(t == libc::S_IFREG)
}

#[cfg(test)]
mod tests;
