//! Tests of the path rules: links, FIFOs, devices, modes, one file named twice, atomic replacement, safe CSV cells.

use super::*;

/// Two names for one file are caught by device and inode; two outputs to one new path are caught by directory and name.
#[test]
fn same_file_by_identity() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.csv");
    std::fs::write(&a, "x").unwrap();
    let link = dir.path().join("link.csv");
    std::os::unix::fs::symlink(&a, &link).unwrap();
    let hard = dir.path().join("hard.csv");
    std::fs::hard_link(&a, &hard).unwrap();
    for other in [&link, &hard] {
        let e = check_distinct(&[(Role::Input, &a), (Role::Ledger, other)]).unwrap_err();
        assert!(e.to_string().contains("--input"), "{e}");
    }
    let new = dir.path().join("new.json");
    let dotted = dir.path().join(".").join("new.json");
    assert!(check_distinct(&[(Role::SummaryJson, &new), (Role::PasswordsOut, &dotted)]).is_err());
    assert!(check_distinct(&[(Role::Input, &a), (Role::Ledger, &new)]).is_ok());
}

/// Private outputs refuse links, FIFOs and devices, and tighten a loose mode.
#[test]
fn private_outputs() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("target");
    let link = dir.path().join("link");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let e = open_private(Role::Ledger, &link, Loose::Keep)
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("symbolic link"), "{e}");
    assert!(!target.exists(), "a dangling link's target is not created");
    let fifo = dir.path().join("fifo");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: a valid path and mode.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let e = open_private(Role::PasswordsOut, &fifo, Loose::Refuse)
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("FIFO"), "{e}");
    let e = open_private(Role::Ledger, Path::new("/dev/full"), Loose::Keep)
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("device"), "{e}");
    let loose = dir.path().join("loose");
    std::fs::write(&loose, "").unwrap();
    std::fs::set_permissions(&loose, std::fs::Permissions::from_mode(0o644)).unwrap();
    assert!(open_private(Role::PasswordsOut, &loose, Loose::Refuse).is_err());
    let file = open_private(Role::Ledger, &loose, Loose::Keep).unwrap();
    assert_eq!(tighten(&file).unwrap(), Some(0o644));
    assert_eq!(
        std::fs::metadata(&loose).unwrap().permissions().mode() & 0o777,
        0o600
    );
}

/// Cells a spreadsheet would evaluate get a leading quote; control characters are escaped; plain cells are unchanged.
#[test]
fn cells_are_made_safe() {
    for (value, safe) in [
        ("alice", "alice"),
        ("=HYPERLINK(\"x\")", "'=HYPERLINK(\"x\")"),
        ("@SUM(1+1)", "'@SUM(1+1)"),
        ("+1", "'+1"),
        ("-2+3", "'-2+3"),
        ("'quoted", "''quoted"),
        ("\tx", "'\\u{9}x"),
        ("a\u{1b}[2Jb", "a\\u{1b}[2Jb"),
        ("bob=x", "bob=x"),
    ] {
        assert_eq!(safe_cell(value), safe, "{value:?}");
    }
}

/// Atomic writes replace a file whole, never through a link, and never overwrite when told not to.
#[test]
fn atomic_writes() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("summary.json");
    write_atomically(&out, b"one", 0o600, true).unwrap();
    write_atomically(&out, b"two", 0o600, true).unwrap();
    assert_eq!(std::fs::read(&out).unwrap(), b"two");
    assert!(write_atomically(&out, b"three", 0o600, false).is_err());
    let secret = dir.path().join("secret");
    std::fs::write(&secret, "keep").unwrap();
    let link = dir.path().join("link.json");
    std::os::unix::fs::symlink(&secret, &link).unwrap();
    assert!(write_atomically(&link, b"x", 0o600, true).is_err());
    assert_eq!(std::fs::read(&secret).unwrap(), b"keep");
    let leftovers = std::fs::read_dir(dir.path())
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .ends_with(".tmp")
        })
        .count();
    assert_eq!(leftovers, 0);
}
