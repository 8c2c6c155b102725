//! The one reader of ledger lines, for replay, `export`, adoption, the lock
//! holder's message and the tests: complete lines only (a torn last line,
//! which a crash mid-write leaves, is no record), blank lines passed over,
//! no line read past [`MAX_LINE`], so a file that is no ledger cannot make
//! the tool read without end. Opening a ledger to read it never waits on a
//! FIFO and refuses what is not a regular file ([`open`]).

use std::fs::File;
use std::io::{self, BufRead, Read};
use std::path::Path;

use crate::error::UsageError;

/// The longest ledger line read: far beyond any record (a username is
/// kept to 200 characters).
pub const MAX_LINE: u64 = 1024 * 1024;

/// Why reading stopped short of the end.
#[derive(Debug)]
pub enum LineError {
    Io(io::Error),
    /// Line `line` is longer than [`MAX_LINE`].
    TooLong {
        line: u64,
    },
}

/// Complete lines of a ledger, one at a time.
pub struct Lines<R> {
    reader: R,
    buf: Vec<u8>,
    number: u64,
    valid_len: u64,
    torn_bytes: u64,
}

impl<R: BufRead> Lines<R> {
    pub fn new(reader: R) -> Lines<R> {
        Lines {
            reader,
            buf: Vec::with_capacity(256),
            number: 0,
            valid_len: 0,
            torn_bytes: 0,
        }
    }

    /// The next complete line that is not blank, with its number (from 1)
    /// and without its newline; `None` at the end, or at a torn last line
    /// (see [`Lines::torn_bytes`]).
    pub fn next_line(&mut self) -> Result<Option<(u64, &[u8])>, LineError> {
        loop {
            self.buf.clear();
            let n = Read::take(&mut self.reader, MAX_LINE)
                .read_until(b'\n', &mut self.buf)
                .map_err(LineError::Io)?;
            if n == 0 {
                return Ok(None);
            }
            self.number += 1;
            if self.buf.last() != Some(&b'\n') {
                if n as u64 == MAX_LINE {
                    return Err(LineError::TooLong { line: self.number });
                }
                self.torn_bytes = n as u64;
                return Ok(None);
            }
            self.valid_len += n as u64;
            let text = &self.buf[..n - 1];
            if !text.iter().all(u8::is_ascii_whitespace) {
                return Ok(Some((self.number, &self.buf[..n - 1])));
            }
        }
    }

    /// Bytes of complete lines read so far.
    pub fn valid_len(&self) -> u64 {
        self.valid_len
    }

    /// The length of a torn last line, once reached (0 if none).
    pub fn torn_bytes(&self) -> u64 {
        self.torn_bytes
    }
}

/// Opens a ledger to read it: non-blocking (a FIFO with no writer cannot
/// hang the tool), and only a regular file. `None` if it does not exist.
pub fn open(path: &Path) -> Result<Option<File>, UsageError> {
    use std::os::unix::fs::OpenOptionsExt;
    let read_err = |reason: String| UsageError::LedgerRead {
        path: path.to_owned(),
        reason,
    };
    let file = match std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(read_err(e.to_string())),
    };
    let meta = file.metadata().map_err(|e| read_err(e.to_string()))?;
    if !meta.file_type().is_file() {
        return Err(read_err("it is not a regular file".into()));
    }
    Ok(Some(file))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(text: &[u8]) -> (Vec<(u64, String)>, u64, u64) {
        let mut lines = Lines::new(text);
        let mut out = Vec::new();
        while let Some((n, l)) = lines.next_line().unwrap() {
            out.push((n, String::from_utf8_lossy(l).into_owned()));
        }
        (out, lines.valid_len(), lines.torn_bytes())
    }

    /// Complete lines with their numbers; blank lines passed over; a torn last line is no line, and its length is kept.
    #[test]
    fn complete_lines_only() {
        let (lines, valid, torn) = all(b"a\n\n  \nb\r\n{\"tor");
        assert_eq!(lines, [(1, "a".into()), (4, "b\r".into())]);
        assert_eq!((valid, torn), (9, 5));
    }

    /// A line over the cap is an error naming it, not an allocation without end.
    #[test]
    fn long_lines_are_refused() {
        let mut text = b"ok\n".to_vec();
        text.extend(std::iter::repeat_n(b'x', MAX_LINE as usize + 10));
        let mut lines = Lines::new(&text[..]);
        assert!(lines.next_line().unwrap().is_some());
        assert!(matches!(
            lines.next_line(),
            Err(LineError::TooLong { line: 2 })
        ));
    }
}
