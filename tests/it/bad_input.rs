//! Bad rows: recorded with their line numbers, the run goes on, and a re-run
//! does not record them twice.

use crate::support::*;

/// Invalid rows are recorded `invalid` with line and reason, good rows are done, exit is 1; a re-run records nothing new.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_rows_are_recorded_and_the_run_goes_on() {
    let t = Scratch::new();
    let sim = sim(10, unlimited()).await;
    let mut csv = b"\xEF\xBB\xBFusername,note\r\n".to_vec();
    csv.extend_from_slice(b"user-000000,ok\r\n"); // line 2
    csv.extend_from_slice(b",empty\r\n"); // 3
    csv.extend_from_slice(b"two words,space\r\n"); // 4
    csv.extend_from_slice(format!("{},long\r\n", "x".repeat(129)).as_bytes()); // 5
    csv.extend_from_slice(b"bad\x01ctl,control\r\n"); // 6
    csv.extend_from_slice(b"\xFF\xFEjunk,utf8\r\n"); // 7
    csv.extend_from_slice(b"nul\x00byte,nul\r\n"); // 8
    csv.extend_from_slice(b"\"user-000001\",quoted\r\n"); // 9
    csv.extend_from_slice(b"user-000000,duplicate\r\n"); // 10
    csv.extend_from_slice(b"\r\n"); // 11: blank, passed over
    csv.extend_from_slice(b"user-000002\r\n"); // 12: short row, username present
    let input = t.write("bad.csv", csv);
    let ledger = t.path("l.jsonl");
    let mut cmd = t.bin();
    cmd.args(run_args(&sim, &input, &ledger));
    let out = finish(cmd).await;
    assert_eq!(out.code, 1, "{out:?}");
    let records = user_records(&ledger);
    let invalid = invalid_rows(&ledger);
    let lines: Vec<u64> = invalid.iter().map(|(l, _)| *l).collect();
    assert_eq!(lines, [3, 4, 5, 6, 7, 8], "{invalid:?}");
    assert!(invalid[0].1.contains("empty"));
    assert!(invalid[1].1.contains("whitespace"));
    assert!(invalid[2].1.contains("129 characters"));
    assert!(invalid[3].1.contains("control"));
    assert!(invalid[4].1.contains("UTF-8"));
    assert!(invalid[5].1.contains("control"));
    let o = outcomes(&ledger);
    for name in ["user-000000", "user-000001", "user-000002"] {
        assert_eq!(o[name]["outcome"], "succeeded", "{name}");
        assert_eq!(sim.user(name).unwrap().calls, 1);
    }
    assert_eq!(o["user-000001"]["line"], 9);
    assert_eq!(
        o["user-000002"]["line"], 12,
        "line numbers stay exact after a blank line"
    );
    assert!(out.stdout.contains("invalid rows         6"), "{out:?}");
    assert!(out.stdout.contains("duplicate rows       1"), "{out:?}");

    let mut again = t.bin();
    again.args(run_args(&sim, &input, &ledger));
    let out = finish(again).await;
    assert_eq!(
        out.code, 1,
        "earlier invalid rows still make the input not all succeeded: {out:?}"
    );
    assert_eq!(
        user_records(&ledger).len(),
        records.len(),
        "a re-run records nothing twice"
    );
    assert!(
        out.stdout
            .contains("skipped, done before 9 (6 of them not succeeded)"),
        "{out:?}"
    );
}
