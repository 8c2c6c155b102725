//! The guard below the CSV parser: it bounds what one line and one row may
//! cost, and counts what passes.

use std::io::{self, BufRead, Read};

use super::{Line, MAX_LINE, MAX_ROW};

/// Why the guard stopped handing out bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum CutKind {
    /// A line over [`MAX_LINE`]; the rest of it was skipped.
    Line,
    /// A row over [`MAX_ROW`].
    Row,
}

#[derive(Debug, Clone, Copy)]
pub(super) struct Cut {
    pub(super) kind: CutKind,
    /// The line where it happened.
    pub(super) line: u64,
}

/// Sits below the parser: never hands out more of a line than
/// [`MAX_LINE`], nor more of a row than [`MAX_ROW`], and counts what
/// passes, so that the line a record starts on can be told from where it
/// ends (csv reports a record's start *before* skipping the blank lines
/// ahead of it) and a last line with no newline can be seen.
///
/// At a line over the cap it skips the rest of that line and reads as the
/// end of the input until the cut is cleared; the source records the row
/// invalid and starts a fresh parser.
pub(super) struct Guard<R> {
    pub(super) inner: R,
    /// At most [`MAX_LINE`] bytes (see `fill_buf`).
    pub(super) buf: Box<[u8]>,
    pub(super) pos: usize,
    pub(super) filled: usize,
    /// Bytes handed out.
    pub(super) delivered: u64,
    /// Newlines passed, handed out or skipped.
    pub(super) lines: u64,
    /// Bytes handed out of the current line.
    pub(super) line_len: usize,
    pub(super) last: Option<u8>,
    pub(super) eof: bool,
    /// Where (in bytes handed out) the row being read began; set by the
    /// source after each row.
    pub(super) row_start: u64,
    pub(super) cut: Option<Cut>,
}

impl<R: Read> Guard<R> {
    pub(super) fn new(inner: R) -> Self {
        Guard {
            inner,
            buf: vec![0; MAX_LINE].into_boxed_slice(),
            pos: 0,
            filled: 0,
            delivered: 0,
            lines: 0,
            line_len: 0,
            last: None,
            eof: false,
            row_start: 0,
            cut: None,
        }
    }

    /// Refills the buffer when it is used up; false at the end.
    pub(super) fn refill(&mut self) -> io::Result<bool> {
        if self.pos < self.filled {
            return Ok(true);
        }
        self.pos = 0;
        self.filled = 0;
        loop {
            match self.inner.read(&mut self.buf) {
                Ok(n) => {
                    self.filled = n;
                    self.eof = n == 0;
                    return Ok(n > 0);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Skips through the end of the current line and reads as the end of
    /// the input until the cut is cleared.
    pub(super) fn cut(&mut self, kind: CutKind) -> io::Result<()> {
        let line = self.lines + 1;
        while self.refill()? {
            let avail = &self.buf[self.pos..self.filled];
            match memchr::memchr(b'\n', avail) {
                Some(i) => {
                    self.pos += i + 1;
                    self.lines += 1;
                    break;
                }
                None => self.pos = self.filled,
            }
        }
        self.line_len = 0;
        self.last = Some(b'\n');
        self.cut = Some(Cut { kind, line });
        Ok(())
    }

    /// The number of the line `text` (just read, newline included if any)
    /// is.
    pub(super) fn line_of(&self, text: &[u8]) -> u64 {
        self.lines + u64::from(text.last() != Some(&b'\n'))
    }

    /// Reads one line (newline included, if any) into `buf`; an empty
    /// line at the end of the input.
    pub(super) fn next_line(&mut self, mut buf: Vec<u8>) -> io::Result<Line> {
        buf.clear();
        self.row_start = self.delivered;
        self.read_until(b'\n', &mut buf)?;
        let cut = self.cut.take();
        Ok(Line {
            number: cut.map_or_else(|| self.line_of(&buf), |c| c.line),
            bytes: buf,
            cut: cut.is_some(),
        })
    }
}

impl<R: Read> BufRead for Guard<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.cut.is_some() || !self.refill()? {
            return Ok(&[]);
        }
        // The buffer holds at most MAX_LINE bytes, so only the line it
        // starts in can be over the cap: every later line in it is whole
        // and shorter, or continues into the next fill (and is checked
        // then, from `line_len`).
        let avail = &self.buf[self.pos..self.filled];
        let head = memchr::memchr(b'\n', avail).unwrap_or(avail.len());
        let n = avail.len();
        if self.line_len + head > MAX_LINE {
            self.cut(CutKind::Line)?;
            return Ok(&[]);
        }
        if self.delivered + n as u64 - self.row_start > MAX_ROW {
            self.cut(CutKind::Row)?;
            return Ok(&[]);
        }
        Ok(&self.buf[self.pos..self.pos + n])
    }

    fn consume(&mut self, n: usize) {
        let taken = &self.buf[self.pos..self.pos + n];
        if let Some(&b) = taken.last() {
            self.last = Some(b);
        }
        match memchr::memrchr(b'\n', taken) {
            Some(i) => {
                self.lines += memchr::memchr_iter(b'\n', taken).count() as u64;
                self.line_len = n - i - 1;
            }
            None => self.line_len += n,
        }
        self.delivered += n as u64;
        self.pos += n;
    }
}

impl<R: Read> Read for Guard<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        crate::bufio::read_from_buf(self, out)
    }
}
