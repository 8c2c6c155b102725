//! The CSV user list: a header row names the columns (`--username-column`,
//! `--password-column`), or `--no-header` reads one username per line with no
//! CSV quoting at all (usernames may contain `,` and `"`).
//!
//! Handles a UTF-8 byte-order mark, CRLF line ends, quoted fields with
//! embedded newlines, and invalid UTF-8 (that row is invalid, the rest go on).
//! Blank lines carry no user and are passed over; a line holding only
//! whitespace, or an empty quoted field, is a row, and is reported invalid.
//!
//! Memory stays bounded whatever the input: no line is read past
//! [`MAX_LINE`] bytes (such a row is recorded invalid and reading goes on at
//! the next line, with fresh quoting), and no row past [`MAX_ROW`] (a quote
//! left open: reading stops there, since nothing after it can be split into
//! rows with confidence). A last line with no newline is a row only in a
//! regular file: from a pipe it is what a writer that died mid-line leaves,
//! and it is recorded invalid, never sent.

use std::io::{self, BufRead, Read};

use super::{excerpt, SourceItem, UserRow};
use crate::error::UsageError;
use crate::secret::Password;
use crate::validate::{check_password, check_username};

/// The longest line read, newline aside: far beyond any valid row (a
/// username is at most 128 characters, a password 256), small enough that
/// a line of a gigabyte, or `/dev/zero`, costs no memory.
pub const MAX_LINE: usize = 64 * 1024;
/// The most one row may span over several lines (quoted fields holding
/// newlines), give or take one buffer ([`MAX_LINE`]) of read-ahead.
pub const MAX_ROW: u64 = 1024 * 1024;

/// How to read the user list.
#[derive(Debug, Clone)]
pub struct CsvOptions {
    /// Name of the input for messages (a path, or "stdin").
    pub input_name: String,
    /// The first row names the columns. Without it, each line is a username.
    pub header: bool,
    pub username_column: String,
    /// Read a password from this column (the `set-password` action).
    pub password_column: Option<String>,
    /// The input is a regular file, whose last line may end without a
    /// newline. A pipe's unterminated last line is recorded invalid.
    pub regular_file: bool,
    /// With `--no-header`: refuse a first line that looks like a header (it
    /// names the username or the password column), and record invalid any
    /// later line that does. Off with `--no-header-check`.
    pub header_check: bool,
}

/// Streams [`SourceItem`]s out of CSV text.
pub struct CsvSource<R: Read> {
    inner: Inner<R>,
    password_wanted: bool,
    regular_file: bool,
}

enum Inner<R: Read> {
    Csv(CsvRows<R>),
    Lines {
        reader: Guard<R>,
        buf: Vec<u8>,
        /// The first line, read ahead to check that it is no header.
        first: Option<Line>,
        /// Column names (lowercase) a line must not hold, when checked.
        header_names: Option<[String; 2]>,
    },
    /// Reading stopped for good (a row over [`MAX_ROW`]).
    Done,
}

/// A CSV parser over the guarded input, and where it started.
struct CsvRows<R: Read> {
    reader: csv::Reader<Guard<R>>,
    record: csv::ByteRecord,
    username_idx: usize,
    password_idx: Option<usize>,
    username_column: String,
    password_column: String,
    /// Lines and bytes the guard had passed when this parser started (one
    /// starts again after each line over [`MAX_LINE`]).
    line_base: u64,
    byte_base: u64,
}

/// A line read in `--no-header` mode: its number, its bytes (newline
/// included), and whether it was cut at [`MAX_LINE`].
struct Line {
    number: u64,
    bytes: Vec<u8>,
    cut: bool,
}

impl<R: Read> CsvSource<R> {
    /// Reads the header (if any) and checks that the needed columns exist.
    pub fn new(reader: R, opts: &CsvOptions) -> Result<Self, UsageError> {
        let io_err = |e: io::Error| UsageError::Input {
            path: opts.input_name.clone(),
            reason: e.to_string(),
        };
        let refused = |reason: String| UsageError::InputRefused {
            input: opts.input_name.clone(),
            reason,
        };
        let mut reader = Guard::new(reader);
        skip_bom(&mut reader).map_err(io_err)?;
        let password_wanted = opts.password_column.is_some();
        if !opts.header {
            if password_wanted {
                return Err(UsageError::Value {
                    flag: "--no-header",
                    reason: "set-password reads passwords from a named column, so the input needs a header row (e.g. username,password)".into(),
                });
            }
            let header_names = opts.header_check.then(|| {
                [
                    opts.username_column.to_lowercase(),
                    opts.password_column
                        .as_deref()
                        .unwrap_or("password")
                        .to_lowercase(),
                ]
            });
            let mut first = reader.next_line(Vec::new()).map_err(io_err)?;
            while !first.cut && !first.bytes.is_empty() && is_blank(&first.bytes) {
                first = reader.next_line(first.bytes).map_err(io_err)?;
            }
            if let Some(names) = &header_names {
                if let Some(name) = names_a_column(&first.bytes, names).filter(|_| !first.cut) {
                    return Err(refused(format!(
                        "its first line names the column '{name}', so it looks like a header and the file like a CSV: drop --no-header (with --username-column if that column is not 'username'), or add --no-header-check if that line really is a username"
                    )));
                }
            }
            return Ok(CsvSource {
                inner: Inner::Lines {
                    reader,
                    buf: Vec::new(),
                    first: Some(first),
                    header_names,
                },
                password_wanted,
                regular_file: opts.regular_file,
            });
        }

        let byte_base = reader.delivered;
        let mut reader = csv_reader(reader, true);
        let headers = reader.byte_headers().cloned();
        if reader.get_ref().cut.is_some() {
            return Err(refused(format!(
                "its first line (the header) is longer than {} KiB: is this the list of users?",
                MAX_LINE / 1024
            )));
        }
        let headers = headers.map_err(|e| UsageError::Input {
            path: opts.input_name.clone(),
            reason: e.to_string(),
        })?;
        let names: Vec<String> = headers
            .iter()
            .map(|h| String::from_utf8_lossy(h).trim().to_string())
            .collect();
        if names.iter().all(String::is_empty) {
            return Err(UsageError::EmptyInput {
                input: opts.input_name.clone(),
                column: opts.username_column.clone(),
            });
        }
        let find = |column: &str, hint: &'static str| -> Result<usize, UsageError> {
            let mut hits = names.iter().enumerate().filter(|(_, n)| *n == column);
            let first = hits.next().map(|(i, _)| i);
            if hits.next().is_some() {
                return Err(UsageError::DuplicateColumn {
                    column: column.to_string(),
                    input: opts.input_name.clone(),
                });
            }
            first.ok_or_else(|| UsageError::MissingColumn {
                column: column.to_string(),
                input: opts.input_name.clone(),
                found: names
                    .iter()
                    .map(|n| format!("'{}'", excerpt(n)))
                    .collect::<Vec<_>>()
                    .join(", "),
                hint,
            })
        };
        let username_idx = find(
            &opts.username_column,
            "name the username column with --username-column, or use --no-header for a plain list",
        )?;
        let password_idx = match &opts.password_column {
            Some(p) => Some(find(p, "name the password column with --password-column")?),
            None => None,
        };
        let after_header = reader.position().byte();
        reader.get_mut().row_start = byte_base + after_header;
        Ok(CsvSource {
            inner: Inner::Csv(CsvRows {
                reader,
                record: csv::ByteRecord::new(),
                username_idx,
                password_idx,
                username_column: opts.username_column.clone(),
                password_column: opts.password_column.clone().unwrap_or_default(),
                line_base: 0,
                byte_base,
            }),
            password_wanted,
            regular_file: opts.regular_file,
        })
    }
}

/// The reason recorded for a line over [`MAX_LINE`].
fn too_long() -> String {
    format!(
        "row is longer than {} KiB, which no user's row can be; read on from the next line",
        MAX_LINE / 1024
    )
}

/// The reason recorded for a pipe's last line with no newline.
const CUT_OFF: &str = "last line has no newline and the input is a pipe, not a file: its writer may have stopped mid-line, leaving the value cut short; not sent";

impl<R: Read> Iterator for CsvSource<R> {
    /// An I/O error ends the stream; the pipeline reports it.
    type Item = io::Result<SourceItem>;

    fn next(&mut self) -> Option<Self::Item> {
        let regular_file = self.regular_file;
        let (item, then) = match &mut self.inner {
            Inner::Done => return None,
            Inner::Lines {
                reader,
                buf,
                first,
                header_names,
            } => return next_line(reader, buf, first, header_names.as_ref(), regular_file),
            Inner::Csv(rows) => rows.next(regular_file, self.password_wanted),
        };
        match then {
            Then::Continue => {}
            Then::Stop => self.inner = Inner::Done,
            Then::Restart => {
                if let Inner::Csv(rows) = std::mem::replace(&mut self.inner, Inner::Done) {
                    self.inner = Inner::Csv(rows.restart());
                }
            }
        }
        item
    }
}

/// What the CSV rows need after an item.
enum Then {
    Continue,
    /// A row over [`MAX_ROW`]: nothing more is read.
    Stop,
    /// A line over [`MAX_LINE`] was cut: parse afresh from the next line.
    Restart,
}

impl<R: Read> CsvRows<R> {
    fn next(
        &mut self,
        regular_file: bool,
        password_wanted: bool,
    ) -> (Option<io::Result<SourceItem>>, Then) {
        let CsvRows {
            reader,
            record,
            username_idx,
            password_idx,
            username_column,
            password_column,
            line_base,
            byte_base,
        } = self;
        loop {
            let read = reader.read_byte_record(record);
            if let Some(cut) = reader.get_ref().cut {
                let line = match read {
                    Ok(true) => *line_base + start_line(reader, record, *byte_base),
                    _ => cut.line,
                };
                if cut.kind == CutKind::Row {
                    let e = io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!(
                            "the row starting at line {line} runs past {} MiB: a quoted field left open? Nothing after it can be split into rows with confidence; fix the file and run again (finished rows are skipped)",
                            MAX_ROW / (1024 * 1024)
                        ),
                    );
                    return (Some(Err(e)), Then::Stop);
                }
                let user = field(record, *username_idx).unwrap_or_default();
                return (Some(Ok(invalid(line, user, too_long()))), Then::Restart);
            }
            match read {
                Ok(false) => return (None, Then::Continue),
                Ok(true) => {}
                Err(e) => {
                    let e = match e.into_kind() {
                        csv::ErrorKind::Io(e) => e,
                        other => io::Error::new(io::ErrorKind::InvalidData, format!("{other:?}")),
                    };
                    return (Some(Err(e)), Then::Continue);
                }
            }
            reader.get_mut().row_start = *byte_base + reader.position().byte();
            // Blank lines (LF or CRLF) are passed over; a row of one
            // empty field (`""`) is a row, and is reported invalid.
            if is_blank_crlf(record) {
                continue;
            }
            let line = *line_base + start_line(reader, record, *byte_base);
            let item = 'item: {
                if !regular_file && unterminated(reader, *byte_base) {
                    let user = field(record, *username_idx).unwrap_or_default();
                    break 'item invalid(line, user, CUT_OFF.into());
                }
                let Some(user) = field(record, *username_idx) else {
                    break 'item invalid(
                        line,
                        b"",
                        format!(
                            "row has {} field(s) and no '{username_column}' field",
                            record.len()
                        ),
                    );
                };
                if user == username_column.as_bytes() {
                    break 'item invalid(
                        line,
                        b"",
                        "the header line again (were two files joined?); not sent".into(),
                    );
                }
                let password = match password_idx {
                    Some(i) => match field(record, *i) {
                        Some(p) => Some(p),
                        None => {
                            break 'item invalid(
                                line,
                                user,
                                format!(
                                    "row has {} field(s) and no '{password_column}' field",
                                    record.len()
                                ),
                            )
                        }
                    },
                    None => None,
                };
                debug_assert_eq!(password.is_some(), password_wanted);
                user_item(line, user, password)
            };
            return (Some(Ok(item)), Then::Continue);
        }
    }

    /// A fresh parser from the line after a cut, so that the cut row's
    /// quoting cannot leak into the rows after it.
    fn restart(self) -> Self {
        let mut guard = self.reader.into_inner();
        guard.cut = None;
        guard.row_start = guard.delivered;
        CsvRows {
            line_base: guard.lines,
            byte_base: guard.delivered,
            reader: csv_reader(guard, false),
            ..self
        }
    }
}

/// The next item of a `--no-header` list.
fn next_line<R: Read>(
    reader: &mut Guard<R>,
    buf: &mut Vec<u8>,
    first: &mut Option<Line>,
    header_names: Option<&[String; 2]>,
    regular_file: bool,
) -> Option<io::Result<SourceItem>> {
    'lines: loop {
        let line = match first.take() {
            Some(line) => line,
            None => match reader.next_line(std::mem::take(buf)) {
                Ok(line) => line,
                Err(e) => return Some(Err(e)),
            },
        };
        let Line {
            number,
            bytes: mut text,
            cut,
        } = line;
        let item = 'item: {
            if cut {
                break 'item invalid(number, &text, too_long());
            }
            if text.is_empty() {
                return None;
            }
            let terminated = text.last() == Some(&b'\n');
            if is_blank(&text) {
                *buf = text;
                continue 'lines;
            }
            if terminated {
                text.pop();
            }
            if text.last() == Some(&b'\r') {
                text.pop();
            }
            if !terminated && !regular_file {
                break 'item invalid(number, &text, CUT_OFF.into());
            }
            if let Some(name) = header_names.and_then(|n| names_a_column(&text, n)) {
                break 'item invalid(
                    number,
                    b"",
                    format!("line names the column '{name}' like a header: a CSV with a header is read without --no-header; not sent, as its other fields may hold a password"),
                );
            }
            user_item(number, &text, None)
        };
        *buf = text;
        return Some(Ok(item));
    }
}

/// An invalid row; the username is kept only as an excerpt.
fn invalid(line: u64, user: &[u8], reason: String) -> SourceItem {
    SourceItem::Invalid {
        line,
        username: lossy(user),
        reason,
    }
}

/// Whether a line holds nothing but its end (LF, CRLF or CR).
fn is_blank(line: &[u8]) -> bool {
    matches!(line, b"\n" | b"\r\n" | b"\r")
}

/// Which of `names` (lowercase column names) a line holds as one of its
/// comma-separated fields (trimmed, quotes aside), if any.
fn names_a_column<'n>(line: &[u8], names: &'n [String; 2]) -> Option<&'n str> {
    let text = String::from_utf8_lossy(line);
    text.split(',')
        .map(|f| f.trim().trim_matches('"').trim().to_lowercase())
        .find_map(|f| names.iter().find(|n| **n == f).map(String::as_str))
}

fn lossy(bytes: &[u8]) -> String {
    excerpt(&String::from_utf8_lossy(bytes))
}

/// Validates one row's fields into a user or an invalid item.
fn user_item(line: u64, user: &[u8], password: Option<&[u8]>) -> SourceItem {
    let invalid = |reason: String| SourceItem::Invalid {
        line,
        username: lossy(user),
        reason,
    };
    let Ok(username) = std::str::from_utf8(user) else {
        return invalid("username is not valid UTF-8".into());
    };
    if let Err(reason) = check_username(username) {
        return invalid(reason);
    }
    let password = match password {
        None => None,
        Some(p) => {
            let Ok(p) = std::str::from_utf8(p) else {
                return invalid("password is not valid UTF-8".into());
            };
            if let Err(reason) = check_password(p) {
                return invalid(reason);
            }
            Some(Password::new(p.to_string()))
        }
    };
    SourceItem::User(UserRow {
        line,
        username: username.to_string(),
        password,
        identity: crate::identity::Identity::Unresolved,
    })
}

/// A CSV reader that ends records at `\n` only. (With csv's default
/// terminator a CRLF file reports each record one line early, because the
/// `\n` is consumed as the start of the next record.) The `\r` of a CRLF
/// line is then removed by [`field`].
fn csv_reader<R: io::Read>(reader: R, headers: bool) -> csv::Reader<R> {
    csv::ReaderBuilder::new()
        .has_headers(headers)
        .flexible(true)
        .terminator(csv::Terminator::Any(b'\n'))
        .from_reader(reader)
}

/// Why the guard stopped handing out bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CutKind {
    /// A line over [`MAX_LINE`]; the rest of it was skipped.
    Line,
    /// A row over [`MAX_ROW`].
    Row,
}

#[derive(Debug, Clone, Copy)]
struct Cut {
    kind: CutKind,
    /// The line where it happened.
    line: u64,
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
struct Guard<R> {
    inner: R,
    /// At most [`MAX_LINE`] bytes (see `fill_buf`).
    buf: Box<[u8]>,
    pos: usize,
    filled: usize,
    /// Bytes handed out.
    delivered: u64,
    /// Newlines passed, handed out or skipped.
    lines: u64,
    /// Bytes handed out of the current line.
    line_len: usize,
    last: Option<u8>,
    eof: bool,
    /// Where (in bytes handed out) the row being read began; set by the
    /// source after each row.
    row_start: u64,
    cut: Option<Cut>,
}

impl<R: Read> Guard<R> {
    fn new(inner: R) -> Self {
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
    fn refill(&mut self) -> io::Result<bool> {
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
    fn cut(&mut self, kind: CutKind) -> io::Result<()> {
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
    fn line_of(&self, text: &[u8]) -> u64 {
        self.lines + u64::from(text.last() != Some(&b'\n'))
    }

    /// Reads one line (newline included, if any) into `buf`; an empty
    /// line at the end of the input.
    fn next_line(&mut self, mut buf: Vec<u8>) -> io::Result<Line> {
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
        let avail = self.fill_buf()?;
        let n = avail.len().min(out.len());
        out[..n].copy_from_slice(&avail[..n]);
        self.consume(n);
        Ok(n)
    }
}

/// Whether the record just read is the input's last line, with no newline
/// (a real end, not a cut).
fn unterminated<R: Read>(reader: &csv::Reader<Guard<R>>, byte_base: u64) -> bool {
    let tail = reader.get_ref();
    tail.eof && tail.delivered - byte_base == reader.position().byte() && tail.last != Some(b'\n')
}

/// The line a record just read starts on, counted from the parser's start:
/// the line after it, less the newlines inside its fields, less its own
/// terminating newline (absent only for a last line with no newline, or a
/// cut one). csv's own start is a lower bound (taken before blank lines are
/// skipped), which settles a quoted field left open to the end of the
/// input; only that broken input, after a blank line, can be reported one
/// line early.
fn start_line<R: Read>(
    reader: &csv::Reader<Guard<R>>,
    record: &csv::ByteRecord,
    byte_base: u64,
) -> u64 {
    let after = reader.position();
    let inside = memchr::memchr_iter(b'\n', record.as_slice()).count() as u64;
    let tail = reader.get_ref();
    let open_end = (tail.eof || tail.cut.is_some())
        && tail.delivered - byte_base == after.byte()
        && (tail.cut.is_some() || tail.last != Some(b'\n'));
    let from_end = after.line().saturating_sub(inside + u64::from(!open_end));
    let reported = record.position().map_or(1, |p| p.line());
    from_end.max(reported)
}

/// The row of a CRLF file's blank line.
fn is_blank_crlf(record: &csv::ByteRecord) -> bool {
    record.len() == 1 && &record[0] == b"\r"
}

/// Field `i` of a record, without the `\r` a CRLF line leaves at the end
/// of its last field. No username or password may hold whitespace, so
/// nothing valid is lost.
fn field(record: &csv::ByteRecord, i: usize) -> Option<&[u8]> {
    let f = record.get(i)?;
    if i + 1 == record.len() {
        Some(f.strip_suffix(b"\r").unwrap_or(f))
    } else {
        Some(f)
    }
}

/// Consumes a UTF-8 byte-order mark at the start of the input, if any.
fn skip_bom<R: BufRead>(reader: &mut R) -> io::Result<()> {
    const BOM: &[u8] = b"\xEF\xBB\xBF";
    let buf = reader.fill_buf()?;
    if buf.starts_with(BOM) {
        reader.consume(BOM.len());
    }
    Ok(())
}

/// Counts the rows of an input, for the progress bar's total: what
/// [`CsvSource`] yields, under the same caps.
pub fn count_rows<R: Read>(reader: R, opts: &CsvOptions) -> io::Result<u64> {
    let source = CsvSource::new(reader, opts)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
    let mut n = 0;
    for item in source {
        item?;
        n += 1;
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(header: bool, password: bool) -> CsvOptions {
        CsvOptions {
            input_name: "users.csv".into(),
            header,
            username_column: "username".into(),
            password_column: password.then(|| "password".into()),
            regular_file: true,
            header_check: true,
        }
    }

    fn read(input: &[u8], header: bool, password: bool) -> Vec<SourceItem> {
        CsvSource::new(input, &opts(header, password))
            .expect("header accepted")
            .map(|r| r.expect("no io error"))
            .collect()
    }

    /// Compact view: "line:username" for users, "line!reason" for invalid rows.
    fn view(items: &[SourceItem]) -> Vec<String> {
        items
            .iter()
            .map(|i| match i {
                SourceItem::User(u) => format!("{}:{}", u.line, u.username),
                SourceItem::Invalid { line, reason, .. } => format!("{line}!{reason}"),
            })
            .collect()
    }

    /// A header names the username column wherever it is; other columns are ignored.
    #[test]
    fn header_picks_the_username_column() {
        let items = read(b"id,username,email\n1,alice,a@x\n2,bob,b@x\n", true, false);
        assert_eq!(view(&items), ["2:alice", "3:bob"]);
    }

    /// BOM, CRLF and quoted fields (with commas, quotes and newlines) are handled.
    #[test]
    fn bom_crlf_and_quotes() {
        let input = b"\xEF\xBB\xBFusername\r\nalice\r\n\"b,ob\"\r\n\"c\"\"d\"\r\n\"multi\nline\"\r\nzed\r\n";
        let v = view(&read(input, true, false));
        assert_eq!(v[0], "2:alice");
        assert_eq!(v[1], "3:b,ob");
        assert_eq!(v[2], "4:c\"d");
        assert!(
            v[3].starts_with("5!username contains whitespace (U+000A)"),
            "{v:?}"
        );
        assert_eq!(v[4], "7:zed", "line numbers count the embedded newline");
    }

    /// Line numbers stay exact after blank lines, quoted newlines and a last line with no newline.
    #[test]
    fn line_numbers_after_blank_lines() {
        let input = b"username\n\n\nalice\n\"a\nb\"\n\r\nzed";
        let v = view(&read(input, true, false));
        assert_eq!(v[0], "4:alice");
        assert!(v[1].starts_with("5!"), "{v:?}");
        assert_eq!(v[2], "8:zed", "{v:?}");
        let v = view(&read(b"username\n\nalice\n\nbob\n", true, false));
        assert_eq!(v, ["3:alice", "5:bob"]);
    }

    /// --no-header reads raw lines: no CSV quoting, CR stripped, empty lines passed over.
    #[test]
    fn plain_list() {
        let v = view(&read(
            b"\xEF\xBB\xBFalice\r\n\nb,\"ob\"\n \nlast",
            false,
            false,
        ));
        assert_eq!(v.len(), 4, "{v:?}");
        assert_eq!(v[0], "1:alice");
        assert_eq!(v[1], "3:b,\"ob\"");
        assert!(v[2].starts_with("4!username contains whitespace"));
        assert_eq!(v[3], "5:last");
    }

    /// Bad rows become invalid items with their line numbers; the stream goes on.
    #[test]
    fn bad_rows_are_items_not_errors() {
        let input = b"username,note\n,empty\ntwo words,x\n\xFF\xFE,utf8\nok,1\n\"\"\n";
        let v = view(&read(input, true, false));
        assert!(v[0].starts_with("2!username is empty"), "{v:?}");
        assert!(v[1].starts_with("3!username contains whitespace"), "{v:?}");
        assert!(v[2].starts_with("4!username is not valid UTF-8"), "{v:?}");
        assert_eq!(v[3], "5:ok");
        assert!(
            v[4].starts_with("6!username is empty"),
            "a quoted empty field is a row: {v:?}"
        );
    }

    /// set-password reads the password column; a short row or a bad password is an invalid row that does not echo the password.
    #[test]
    fn passwords_are_read_and_checked() {
        let input = b"username,password\nalice,Secret-123\nbob\ncarol,has space\n";
        let items = read(input, true, true);
        match &items[0] {
            SourceItem::User(u) => {
                assert_eq!(u.password.as_ref().unwrap().expose(), "Secret-123")
            }
            other => panic!("{other:?}"),
        }
        let v = view(&items);
        assert!(v[1].contains("no 'password' field"), "{v:?}");
        assert!(v[2].contains("password contains whitespace"), "{v:?}");
        assert!(!format!("{items:?}").contains("has space"));
        assert!(!format!("{items:?}").contains("Secret-123"));
    }

    /// A missing or duplicated column, or an empty input, is a usage error naming the fix.
    #[test]
    fn header_errors() {
        let err = |input: &[u8], o: CsvOptions| match CsvSource::new(input, &o) {
            Err(e) => e.to_string(),
            Ok(_) => panic!("accepted"),
        };
        let e = err(b"email,id\nx,1\n", opts(true, false));
        assert!(
            e.contains("'username' not found")
                && e.contains("'email', 'id'")
                && e.contains("--username-column"),
            "{e}"
        );
        let e = err(b"username,username\n", opts(true, false));
        assert!(e.contains("more than once"), "{e}");
        let e = err(b"", opts(true, false));
        assert!(e.contains("is empty"), "{e}");
        let e = err(b"username\n", opts(true, true));
        assert!(e.contains("'password' not found"), "{e}");
        let e = err(b"alice\n", opts(false, true));
        assert!(e.contains("needs a header"), "{e}");
    }

    fn read_with(input: &[u8], o: &CsvOptions) -> Vec<String> {
        view(
            &CsvSource::new(input, o)
                .expect("header accepted")
                .map(|r| r.expect("no io error"))
                .collect::<Vec<_>>(),
        )
    }

    /// A line over the cap is an invalid row with its line number, and reading goes on at the next line with fresh quoting; in both modes, and whether or not the cut line opened a quote.
    #[test]
    fn long_lines_are_cut_and_reading_goes_on() {
        let long = "x".repeat(MAX_LINE + 10);
        for quote in ["", "\""] {
            let input = format!("username\nalice\n{quote}{long}\nbob\n\"c,d\"\nzed");
            let v = read_with(input.as_bytes(), &opts(true, false));
            assert_eq!(v.len(), 5, "{v:?}");
            assert_eq!(v[0], "2:alice");
            assert!(v[1].starts_with("3!row is longer than 64 KiB"), "{v:?}");
            assert_eq!(v[2], "4:bob");
            assert_eq!(v[3], "5:c,d");
            assert_eq!(v[4], "6:zed");
        }
        let input = format!("alice\n{long}\nbob\n{long}");
        let v = read_with(input.as_bytes(), &opts(false, false));
        assert_eq!(v.len(), 4, "{v:?}");
        assert_eq!(v[0], "1:alice");
        assert!(v[1].starts_with("2!row is longer"), "{v:?}");
        assert_eq!(v[2], "3:bob");
        assert!(v[3].starts_with("4!row is longer"), "{v:?}");
        // Exactly at the cap is no cut (the row is invalid for its length
        // as a username, not for the cap).
        let at_cap = format!("username\n{}\nbob\n", "y".repeat(MAX_LINE));
        let v = read_with(at_cap.as_bytes(), &opts(true, false));
        assert!(v[0].starts_with("2!") && !v[0].contains("64 KiB"), "{v:?}");
        assert_eq!(v[1], "3:bob");
    }

    /// A header over the cap refuses the input; a row over MAX_ROW (a quote left open) ends the stream with an error naming its line.
    #[test]
    fn long_header_and_open_quote() {
        let header = format!("{}\nalice\n", "h".repeat(MAX_LINE + 1));
        match CsvSource::new(header.as_bytes(), &opts(true, false)) {
            Err(e) => assert!(
                e.to_string().contains("header") && e.to_string().contains("64 KiB"),
                "{e}"
            ),
            Ok(_) => panic!("accepted"),
        }
        let mut input = String::from("username,note\nalice,x\nbob,\"open\n");
        let filler = "carol\n".repeat((MAX_ROW as usize) / 6 + 10);
        input.push_str(&filler);
        let mut source = CsvSource::new(input.as_bytes(), &opts(true, false)).unwrap();
        assert!(matches!(source.next(), Some(Ok(SourceItem::User(_)))));
        let e = source.next().unwrap().unwrap_err();
        assert!(e.to_string().contains("row starting at line 3"), "{e}");
        assert!(source.next().is_none(), "nothing after it");
    }

    /// From a pipe, a last line with no newline is invalid, never a user; from a regular file it is a user.
    #[test]
    fn unterminated_last_line_from_a_pipe() {
        let mut o = opts(true, false);
        o.regular_file = false;
        let v = read_with(b"username\nalice\nbo", &o);
        assert_eq!(v[0], "2:alice");
        assert!(v[1].starts_with("3!last line has no newline"), "{v:?}");
        let v = read_with(b"username\nalice\n", &o);
        assert_eq!(v, ["2:alice"]);
        let mut o = opts(false, false);
        o.regular_file = false;
        let v = read_with(b"alice\r\nbo", &o);
        assert_eq!(v[0], "1:alice");
        assert!(v[1].starts_with("2!last line has no newline"), "{v:?}");
        assert_eq!(
            read_with(b"alice\nbo", &opts(false, false)),
            ["1:alice", "2:bo"]
        );
    }

    /// --no-header refuses a first line naming the username or password column, unless told; a later line naming the password column is invalid, and its fields are not kept.
    #[test]
    fn header_like_lines_without_header() {
        for first in [
            "username,password\n",
            "\n\"Username\"\n",
            "email,password\n",
        ] {
            let input = format!("{first}alice,Secret-1\n");
            match CsvSource::new(input.as_bytes(), &opts(false, false)) {
                Err(e) => assert!(e.to_string().contains("--no-header-check"), "{e}"),
                Ok(_) => panic!("{first:?} accepted"),
            }
        }
        let mut o = opts(false, false);
        o.header_check = false;
        assert_eq!(
            read_with(b"username\nalice\n", &o),
            ["1:username", "2:alice"]
        );
        let items: Vec<SourceItem> =
            CsvSource::new(&b"alice\nid,password\nbob\n"[..], &opts(false, false))
                .unwrap()
                .map(Result::unwrap)
                .collect();
        let v = view(&items);
        assert_eq!(v[0], "1:alice");
        assert!(
            v[1].starts_with("2!line names the column 'password'"),
            "{v:?}"
        );
        assert_eq!(v[2], "3:bob");
        // With a header, the header line again is invalid.
        let v = read_with(
            b"username,password\nalice,A-1aaaaaa\nusername,password\n",
            &opts(true, true),
        );
        assert!(v[1].starts_with("3!the header line again"), "{v:?}");
    }

    /// The row count used for the progress total matches what the source yields.
    #[test]
    fn count_matches_source() {
        let input: &[u8] = b"username\r\na\r\n\r\n\"b\nc\"\r\nd\r\n";
        assert_eq!(
            count_rows(input, &opts(true, false)).unwrap(),
            read(input, true, false).len() as u64
        );
        let plain: &[u8] = b"a\n\nb\r\n\r\nc";
        assert_eq!(
            count_rows(plain, &opts(false, false)).unwrap(),
            read(plain, false, false).len() as u64
        );
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// Any bytes give a usage error or a stream of valid users and invalid rows with rising line numbers; never a panic.
        #[test]
        fn any_bytes_give_an_error_or_valid_items(
            bytes in proptest::collection::vec(any::<u8>(), 0..600),
            header in any::<bool>(),
            password in any::<bool>(),
            prefix in prop_oneof![Just(&b""[..]), Just(&b"username\n"[..]), Just(&b"username,password\r\n"[..])],
        ) {
            let input: Vec<u8> = [prefix, &bytes[..]].concat();
            let opts = CsvOptions {
                input_name: "fuzz".into(),
                header,
                username_column: "username".into(),
                password_column: password.then(|| "password".into()),
                regular_file: true,
                header_check: true,
            };
            if let Ok(source) = CsvSource::new(&input[..], &opts) {
                let mut last_line = 0;
                for item in source {
                    let Ok(item) = item else { break };
                    let line = match item {
                        SourceItem::User(u) => {
                            prop_assert!(check_username(&u.username).is_ok());
                            prop_assert_eq!(u.password.is_some(), password && header);
                            u.line
                        }
                        SourceItem::Invalid { line, .. } => line,
                    };
                    prop_assert!(line > last_line, "line numbers rise: {} after {}", line, last_line);
                    last_line = line;
                }
            }
        }
    }
}
