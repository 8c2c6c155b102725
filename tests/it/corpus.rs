//! The bad-input corpus (tests/data/bad-input): every file, through the real
//! binary, ends in its expected outcome: a clear per-row record or a clear
//! up-front error. Never a panic, never a silent skip.

use crate::support::*;

/// What a file must lead to.
enum Expect {
    /// Refused before any call (exit 2) with this in the message.
    Usage(&'static str),
    /// Processed: these users succeeded, these failed with UserNotFound,
    /// and these (line, reason) rows were recorded invalid.
    Rows {
        succeeded: usize,
        not_found: usize,
        invalid: &'static [(u64, &'static str)],
    },
}

use Expect::*;

const CORPUS: &[(&str, Expect)] = &[
    ("empty.csv", Usage("is empty")),
    (
        "header-only.csv",
        Rows {
            succeeded: 0,
            not_found: 0,
            invalid: &[],
        },
    ),
    (
        "bom.csv",
        Rows {
            succeeded: 1,
            not_found: 0,
            invalid: &[],
        },
    ),
    (
        "crlf.csv",
        Rows {
            succeeded: 2,
            not_found: 0,
            invalid: &[],
        },
    ),
    (
        "quoted-newline.csv",
        Rows {
            succeeded: 2,
            not_found: 0,
            invalid: &[(3, "whitespace")],
        },
    ),
    (
        "overlong-username.csv",
        Rows {
            succeeded: 1,
            not_found: 0,
            invalid: &[(2, "129 characters")],
        },
    ),
    (
        "whitespace-usernames.csv",
        Rows {
            succeeded: 0,
            not_found: 0,
            invalid: &[
                (2, "whitespace"),
                (3, "whitespace"),
                (4, "whitespace"),
                (5, "whitespace"),
            ],
        },
    ),
    (
        "control-chars.csv",
        Rows {
            succeeded: 0,
            not_found: 0,
            invalid: &[(2, "control"), (3, "control"), (4, "control")],
        },
    ),
    (
        "invalid-utf8.csv",
        Rows {
            succeeded: 1,
            not_found: 0,
            invalid: &[(3, "UTF-8"), (4, "UTF-8")],
        },
    ),
    (
        "nul-bytes.csv",
        Rows {
            succeeded: 1,
            not_found: 0,
            invalid: &[(2, "U+0000")],
        },
    ),
    (
        "missing-username-column.csv",
        Usage("'username' not found in the header"),
    ),
    ("duplicate-columns.csv", Usage("more than once")),
    (
        "one-mb-line.csv",
        Rows {
            succeeded: 1,
            not_found: 0,
            invalid: &[(2, "longer than 64 KiB")],
        },
    ),
    (
        "duplicate-users.csv",
        Rows {
            succeeded: 1,
            not_found: 0,
            invalid: &[],
        },
    ),
    (
        "blank-lines.csv",
        Rows {
            succeeded: 2,
            not_found: 0,
            invalid: &[],
        },
    ),
    (
        "only-blank-lines.csv",
        Rows {
            succeeded: 0,
            not_found: 0,
            invalid: &[],
        },
    ),
    (
        "quoted-empty.csv",
        Rows {
            succeeded: 1,
            not_found: 0,
            invalid: &[(2, "empty")],
        },
    ),
    (
        "short-rows.csv",
        Rows {
            succeeded: 1,
            not_found: 0,
            invalid: &[(2, "no 'username' field")],
        },
    ),
    (
        "extra-fields.csv",
        Rows {
            succeeded: 1,
            not_found: 0,
            invalid: &[],
        },
    ),
    (
        "unterminated-quote.csv",
        Rows {
            succeeded: 0,
            not_found: 0,
            invalid: &[(2, "whitespace")],
        },
    ),
    (
        "zero-width-space.csv",
        Rows {
            succeeded: 1,
            not_found: 0,
            invalid: &[(2, "U+200B")],
        },
    ),
    (
        "no-break-space.csv",
        Rows {
            succeeded: 0,
            not_found: 0,
            invalid: &[(2, "whitespace")],
        },
    ),
    ("utf16-le.csv", Usage("'username' not found")),
    (
        "header-with-spaces.csv",
        Rows {
            succeeded: 1,
            not_found: 0,
            invalid: &[],
        },
    ),
    ("cr-only-line-ends.csv", Usage("'username' not found")),
    (
        "other-scripts.csv",
        Rows {
            succeeded: 0,
            not_found: 3,
            invalid: &[],
        },
    ),
    ("semicolon-delimited.csv", Usage("'username;email'")),
    ("tab-separated.csv", Usage("add --delimiter '\\t'")),
    ("binary-junk.csv", Usage("username")),
    (
        "long-header.csv",
        Usage("the header) is longer than 64 KiB"),
    ),
    (
        "repeated-header.csv",
        Rows {
            succeeded: 2,
            not_found: 0,
            invalid: &[(3, "the header line again")],
        },
    ),
];

/// Every corpus file leads to its expected outcome, with no panic; the corpus covers every file in the folder.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_corpus() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/bad-input");
    let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    on_disk.sort();
    let mut listed: Vec<String> = CORPUS.iter().map(|(f, _)| f.to_string()).collect();
    listed.sort();
    assert_eq!(on_disk, listed, "every corpus file has an expectation");
    assert!(CORPUS.len() >= 25);

    let t = Scratch::new();
    let sim = sim(10, unlimited()).await;
    for (file, expect) in CORPUS {
        let ledger = t.path(&format!("{file}.jsonl"));
        let before = sim.stats().requests;
        let mut cmd = t.bin();
        cmd.args(run_args(&sim, &dir.join(file), &ledger))
            .args(["--rate", "2000"]);
        let out = finish(cmd).await;
        assert!(!out.stderr.contains("panicked"), "{file}: {out:?}");
        match expect {
            Usage(text) => {
                assert_eq!(out.code, 2, "{file}: {out:?}");
                assert!(
                    out.stderr.contains(text),
                    "{file}: expected '{text}' in {out:?}"
                );
                assert_eq!(sim.stats().requests, before, "{file}: nothing sent");
            }
            Rows {
                succeeded,
                not_found,
                invalid,
            } => {
                let records = user_records(&ledger);
                let got = invalid_rows(&ledger);
                assert_eq!(got.len(), invalid.len(), "{file}: invalid rows {got:?}");
                for ((line, reason), (want_line, want)) in got.iter().zip(invalid.iter()) {
                    assert_eq!(line, want_line, "{file}: {got:?}");
                    assert!(
                        reason.contains(want),
                        "{file}: line {line}: '{reason}' lacks '{want}'"
                    );
                }
                let count = |o: &str| records.iter().filter(|r| r["outcome"] == o).count();
                assert_eq!(count("succeeded"), *succeeded, "{file}: {out:?}");
                assert_eq!(count("failed"), *not_found, "{file}: {out:?}");
                let want_code = if invalid.is_empty() && *not_found == 0 {
                    0
                } else {
                    1
                };
                assert_eq!(out.code, want_code, "{file}: {out:?}");
            }
        }
    }
}
