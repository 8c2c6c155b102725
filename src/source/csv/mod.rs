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

use super::{excerpt, shown, SourceItem, UserRow};
use crate::error::UsageError;
use crate::secret::Password;
use crate::validate::{check_password, check_username};

mod guard;
#[cfg(test)]
mod tests;

use guard::{CutKind, Guard};

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
    /// The byte between fields (`--delimiter`): `,` unless the file says
    /// otherwise (a spreadsheet's `;`, a tab).
    pub delimiter: u8,
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
    delimiter: u8,
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
                if let Some((name, sep)) =
                    names_a_column(&first.bytes, names).filter(|_| !first.cut)
                {
                    let delimiter = match sep {
                        b',' => String::new(),
                        other => format!(" and add --delimiter '{}'", shown_byte(other)),
                    };
                    return Err(refused(format!(
                        "its first line names the column '{name}', so it looks like a header and the file like a CSV: drop --no-header (with --username-column if that column is not 'username'){delimiter}, or add --no-header-check if that line really is a username"
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
        let mut reader = csv_reader(reader, true, opts.delimiter);
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
            if first.is_none() {
                if let Some(sep) = other_delimiter(&names, column, opts.delimiter) {
                    return Err(refused(format!(
                        "its header '{}' holds the column '{column}' between '{}' characters, so its fields are separated by '{}', not '{}' (as spreadsheets export CSV in many locales): add --delimiter '{}'",
                        shown(&names.join(",")),
                        shown_byte(sep),
                        shown_byte(sep),
                        shown_byte(opts.delimiter),
                        shown_byte(sep),
                    )));
                }
            }
            first.ok_or_else(|| UsageError::MissingColumn {
                column: column.to_string(),
                input: opts.input_name.clone(),
                found: names
                    .iter()
                    .map(|n| format!("'{}'", shown(n)))
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
                delimiter: opts.delimiter,
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
            ..
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
            reader: csv_reader(guard, false, self.delimiter),
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
            if let Some((name, _)) = header_names.and_then(|n| names_a_column(&text, n)) {
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

/// The separators a header may come with: a CSV's comma, a spreadsheet's
/// semicolon (Excel and LibreOffice in locales whose decimal mark is a
/// comma), a tab.
const SEPARATORS: [u8; 3] = [b',', b';', b'\t'];

/// Which of `names` (lowercase column names) a line holds as one of its
/// fields (trimmed, quotes aside) when split at one of [`SEPARATORS`], if
/// any, and that separator.
fn names_a_column<'n>(line: &[u8], names: &'n [String; 2]) -> Option<(&'n str, u8)> {
    let text = String::from_utf8_lossy(line);
    SEPARATORS.iter().find_map(|&sep| {
        text.split(char::from(sep))
            .map(|f| f.trim().trim_matches('"').trim().to_lowercase())
            .find_map(|f| names.iter().find(|n| **n == f).map(|n| (n.as_str(), sep)))
    })
}

/// The separator other than `delimiter` at which the header's fields
/// (`names`, split at `delimiter`) hold `column`, if one does: a
/// semicolon-separated file read as a comma-separated one.
fn other_delimiter(names: &[String], column: &str, delimiter: u8) -> Option<u8> {
    let joined = names.join(&char::from(delimiter).to_string());
    SEPARATORS
        .iter()
        .copied()
        .filter(|&sep| sep != delimiter)
        .find(|&sep| {
            joined
                .split(char::from(sep))
                .any(|f| f.trim().trim_matches('"').trim() == column)
        })
}

/// A separator as a message shows it, and `--delimiter` takes it (a tab
/// as `\t`).
fn shown_byte(b: u8) -> String {
    match b {
        b'\t' => "\\t".to_string(),
        other => shown(&char::from(other).to_string()),
    }
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
fn csv_reader<R: io::Read>(reader: R, headers: bool, delimiter: u8) -> csv::Reader<R> {
    csv::ReaderBuilder::new()
        .has_headers(headers)
        .delimiter(delimiter)
        .flexible(true)
        .terminator(csv::Terminator::Any(b'\n'))
        .from_reader(reader)
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
