//! Tests of the CSV source: unit cases, then properties over any bytes.

use super::*;

fn opts(header: bool, password: bool) -> CsvOptions {
    CsvOptions {
        input_name: "users.csv".into(),
        header,
        username_column: "username".into(),
        password_column: password.then(|| "password".into()),
        regular_file: true,
        header_check: true,
        delimiter: b',',
    }
}

fn read(input: &[u8], header: bool, password: bool) -> Vec<SourceItem> {
    CsvSource::new(input, &opts(header, password))
        .expect("header accepted")
        .map(|r| r.expect("no io error"))
        .collect()
}

/// Why `opts` refuse `input`.
fn refusal(input: &[u8], opts: &CsvOptions) -> String {
    CsvSource::new(input, opts)
        .err()
        .expect("refused")
        .to_string()
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

/// A spreadsheet's semicolon-separated file read as commas is refused naming --delimiter ';' (not --no-header); with it, or with --delimiter tab for tabs, the columns are found; --no-header over such a header is refused naming it too.
#[test]
fn other_delimiters_are_named_and_read() {
    let semicolons = b"username;email;group\nalice;alice@x;ops\nbob;b@x;dev\n";
    let e = refusal(semicolons, &opts(true, false));
    assert!(
        e.contains("add --delimiter ';'") && !e.contains("--no-header"),
        "{e}"
    );
    let with = CsvOptions {
        delimiter: b';',
        ..opts(true, false)
    };
    assert_eq!(read_with(semicolons, &with), ["2:alice", "3:bob"]);
    let tabs = b"id\tusername\n1\talice\n";
    let e = refusal(tabs, &opts(true, false));
    assert!(e.contains("add --delimiter '\\t'"), "{e}");
    let tabbed = CsvOptions {
        delimiter: b'\t',
        ..opts(true, false)
    };
    assert_eq!(read_with(tabs, &tabbed), ["2:alice"]);
    let e = refusal(semicolons, &opts(false, false));
    assert!(
        e.contains("drop --no-header") && e.contains("--delimiter ';'"),
        "{e}"
    );
}

/// A header's terminal escapes (a title set, the screen cleared) and bidirectional overrides are shown escaped in the error, never as the bytes themselves.
#[test]
fn header_bytes_are_shown_escaped() {
    let input = b"user\x1b]0;pwned\x07name,\x1b[2J\xe2\x80\xaemail\n";
    let e = refusal(input, &opts(true, false));
    assert!(
        !e.contains('\u{1b}') && !e.contains('\u{7}') && !e.contains('\u{202e}'),
        "{e:?}"
    );
    assert!(
        e.contains("\\u{1b}]0;pwned\\u{7}name") && e.contains("\\u{202e}"),
        "{e}"
    );
}

/// BOM, CRLF and quoted fields (with commas, quotes and newlines) are handled.
#[test]
fn bom_crlf_and_quotes() {
    let input =
        b"\xEF\xBB\xBFusername\r\nalice\r\n\"b,ob\"\r\n\"c\"\"d\"\r\n\"multi\nline\"\r\nzed\r\n";
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
                delimiter: b',',
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
