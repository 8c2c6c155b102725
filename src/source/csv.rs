//! The CSV user list: a header row names the columns (`--username-column`,
//! `--password-column`), or `--no-header` reads one username per line with no
//! CSV quoting at all (usernames may contain `,` and `"`).
//!
//! Handles a UTF-8 byte-order mark, CRLF line ends, quoted fields with
//! embedded newlines, and invalid UTF-8 (that row is invalid, the rest go on).
//! Blank lines carry no user and are passed over; a line holding only
//! whitespace, or an empty quoted field, is a row, and is reported invalid.

use std::io::{self, BufRead};

use super::{excerpt, SourceItem, UserRow};
use crate::error::UsageError;
use crate::secret::Password;
use crate::validate::{check_password, check_username};

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
}

/// Streams [`SourceItem`]s out of CSV text.
pub struct CsvSource<R: BufRead> {
    inner: Inner<R>,
    password_wanted: bool,
}

enum Inner<R: BufRead> {
    Csv {
        reader: csv::Reader<TrackEnd<R>>,
        record: csv::ByteRecord,
        username_idx: usize,
        password_idx: Option<usize>,
        username_column: String,
        password_column: String,
    },
    Lines {
        reader: R,
        line: u64,
        buf: Vec<u8>,
    },
}

impl<R: BufRead> CsvSource<R> {
    /// Reads the header (if any) and checks that the needed columns exist.
    pub fn new(mut reader: R, opts: &CsvOptions) -> Result<Self, UsageError> {
        let io_err = |e: io::Error| UsageError::Input {
            path: opts.input_name.clone(),
            reason: e.to_string(),
        };
        skip_bom(&mut reader).map_err(io_err)?;
        let password_wanted = opts.password_column.is_some();
        if !opts.header {
            if password_wanted {
                return Err(UsageError::Value {
                    flag: "--no-header",
                    reason: "set-password reads passwords from a named column, so the input needs a header row (e.g. username,password)".into(),
                });
            }
            return Ok(CsvSource {
                inner: Inner::Lines {
                    reader,
                    line: 0,
                    buf: Vec::new(),
                },
                password_wanted,
            });
        }

        let mut reader = csv_reader(TrackEnd::new(reader));
        let headers = reader
            .byte_headers()
            .map_err(|e| UsageError::Input {
                path: opts.input_name.clone(),
                reason: e.to_string(),
            })?
            .clone();
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
        Ok(CsvSource {
            inner: Inner::Csv {
                reader,
                record: csv::ByteRecord::new(),
                username_idx,
                password_idx,
                username_column: opts.username_column.clone(),
                password_column: opts.password_column.clone().unwrap_or_default(),
            },
            password_wanted,
        })
    }
}

impl<R: BufRead> Iterator for CsvSource<R> {
    /// An I/O error ends the stream; the pipeline reports it.
    type Item = io::Result<SourceItem>;

    fn next(&mut self) -> Option<Self::Item> {
        match &mut self.inner {
            Inner::Lines { reader, line, buf } => loop {
                buf.clear();
                match reader.read_until(b'\n', buf) {
                    Ok(0) => return None,
                    Ok(_) => {}
                    Err(e) => return Some(Err(e)),
                }
                *line += 1;
                if buf.last() == Some(&b'\n') {
                    buf.pop();
                }
                if buf.last() == Some(&b'\r') {
                    buf.pop();
                }
                if buf.is_empty() {
                    continue;
                }
                return Some(Ok(user_item(*line, buf, None)));
            },
            Inner::Csv {
                reader,
                record,
                username_idx,
                password_idx,
                username_column,
                password_column,
            } => loop {
                match reader.read_byte_record(record) {
                    Ok(false) => return None,
                    Ok(true) => {}
                    Err(e) => {
                        return Some(Err(match e.into_kind() {
                            csv::ErrorKind::Io(e) => e,
                            other => {
                                io::Error::new(io::ErrorKind::InvalidData, format!("{other:?}"))
                            }
                        }))
                    }
                }
                // Blank lines (LF or CRLF) are passed over; a row of one
                // empty field (`""`) is a row, and is reported invalid.
                if is_blank_crlf(record) {
                    continue;
                }
                let line = start_line(reader, record);
                let Some(user) = field(record, *username_idx) else {
                    return Some(Ok(SourceItem::Invalid {
                        line,
                        username: String::new(),
                        reason: format!(
                            "row has {} field(s) and no '{username_column}' field",
                            record.len()
                        ),
                    }));
                };
                let password = match password_idx {
                    Some(i) => match field(record, *i) {
                        Some(p) => Some(p),
                        None => {
                            return Some(Ok(SourceItem::Invalid {
                                line,
                                username: lossy(user),
                                reason: format!(
                                    "row has {} field(s) and no '{password_column}' field",
                                    record.len()
                                ),
                            }))
                        }
                    },
                    None => None,
                };
                debug_assert_eq!(password.is_some(), self.password_wanted);
                return Some(Ok(user_item(line, user, password)));
            },
        }
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
fn csv_reader<R: io::Read>(reader: R) -> csv::Reader<R> {
    csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .terminator(csv::Terminator::Any(b'\n'))
        .from_reader(reader)
}

/// Counts what passes through, so that the line a record starts on can be
/// told from where it ends. (csv reports a record's start *before* skipping
/// the blank lines ahead of it, so its own start line is early after a
/// blank line.)
struct TrackEnd<R> {
    inner: R,
    bytes: u64,
    last: Option<u8>,
    eof: bool,
}

impl<R> TrackEnd<R> {
    fn new(inner: R) -> Self {
        TrackEnd {
            inner,
            bytes: 0,
            last: None,
            eof: false,
        }
    }
}

impl<R: io::Read> io::Read for TrackEnd<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n == 0 {
            self.eof = true;
        } else {
            self.bytes += n as u64;
            self.last = Some(buf[n - 1]);
        }
        Ok(n)
    }
}

/// The line a record just read starts on: the line after it, less the
/// newlines inside its fields, less its own terminating newline (absent only
/// for a last line with no newline). csv's own start is a lower bound (taken
/// before blank lines are skipped), which settles a quoted field left open
/// to the end of the input; only that broken input, after a blank line, can
/// be reported one line early.
fn start_line<R: io::Read>(reader: &csv::Reader<TrackEnd<R>>, record: &csv::ByteRecord) -> u64 {
    let after = reader.position();
    let inside: u64 = record
        .iter()
        .map(|f| f.iter().filter(|b| **b == b'\n').count() as u64)
        .sum();
    let tail = reader.get_ref();
    let unterminated = tail.eof && tail.bytes == after.byte() && tail.last != Some(b'\n');
    let from_end = after
        .line()
        .saturating_sub(inside + u64::from(!unterminated));
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

/// Counts the data rows of an input quickly, for the progress bar's total.
/// Mirrors [`CsvSource`]: empty lines are not rows.
pub fn count_rows<R: BufRead>(mut reader: R, header: bool) -> io::Result<u64> {
    skip_bom(&mut reader)?;
    if !header {
        let mut n = 0;
        let mut buf = Vec::new();
        loop {
            buf.clear();
            if reader.read_until(b'\n', &mut buf)? == 0 {
                return Ok(n);
            }
            if !matches!(buf.as_slice(), b"\n" | b"\r\n" | b"\r") {
                n += 1;
            }
        }
    }
    let mut reader = csv_reader(reader);
    let mut record = csv::ByteRecord::new();
    let mut n = 0;
    while reader
        .read_byte_record(&mut record)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?
    {
        n += u64::from(!is_blank_crlf(&record));
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

    /// The row count used for the progress total matches what the source yields.
    #[test]
    fn count_matches_source() {
        let input: &[u8] = b"username\r\na\r\n\r\n\"b\nc\"\r\nd\r\n";
        assert_eq!(
            count_rows(input, true).unwrap(),
            read(input, true, false).len() as u64
        );
        let plain: &[u8] = b"a\n\nb\r\n\r\nc";
        assert_eq!(
            count_rows(plain, false).unwrap(),
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
