//! The docs agree with the tool: the settings in docs/usage.md and the keys
//! of config/default.toml are checked against `run --help`, the one source
//! of the flags.

use std::collections::BTreeSet;
use std::path::Path;

/// The long flags `run --help` lists.
fn help_flags() -> BTreeSet<String> {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_cognito-bulk-reset"))
        .args(["run", "--help"])
        .output()
        .expect("the binary runs");
    let text = String::from_utf8(out.stdout).unwrap();
    text.lines()
        .map(str::trim_start)
        .filter(|l| l.starts_with('-'))
        .filter_map(|l| l.split_whitespace().find(|w| w.starts_with("--")))
        .map(|w| {
            w.split(['[', '=', '.'])
                .next()
                .unwrap_or_default()
                .to_string()
        })
        .filter(|f| f != "--help")
        .collect()
}

/// Every `--flag` written in `text`.
fn flags_in(text: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for (i, _) in text.match_indices("--") {
        let rest = &text[i + 2..];
        let name: String = rest
            .chars()
            .take_while(|c| c.is_ascii_lowercase() || *c == '-')
            .collect();
        let name = name.trim_end_matches('-');
        if !name.is_empty() && !text[..i].ends_with('-') {
            found.insert(format!("--{name}"));
        }
    }
    found
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)).unwrap()
}

/// The settings section of docs/usage.md names every flag of `run --help`, and its table names no flag the tool lacks.
#[test]
fn every_flag_is_documented_and_every_documented_flag_exists() {
    let help = help_flags();
    assert!(help.len() > 30 && help.contains("--rate"), "{help:?}");
    let usage = read("docs/usage.md");
    let settings = usage
        .split("\n## Settings\n")
        .nth(1)
        .and_then(|s| s.split("\n## ").next())
        .expect("docs/usage.md has a Settings section");
    let documented = flags_in(settings);
    let missing: Vec<&String> = help.difference(&documented).collect();
    assert!(
        missing.is_empty(),
        "flags of `run --help` not in docs/usage.md's Settings: {missing:?}"
    );
    let table: BTreeSet<String> = settings
        .lines()
        .filter(|l| l.starts_with("| `"))
        .flat_map(|l| flags_in(l.split(" | ").next().unwrap_or_default()))
        .collect();
    let unknown: Vec<&String> = table.difference(&help).collect();
    assert!(
        unknown.is_empty(),
        "flags in docs/usage.md's table that `run --help` lacks: {unknown:?}"
    );
}

/// Every key of config/default.toml (set or commented out) is a flag of `run`.
#[test]
fn every_config_key_is_a_flag() {
    let help = help_flags();
    let keys: BTreeSet<String> = read("config/default.toml")
        .lines()
        .map(|l| l.trim_start_matches('#').trim())
        .filter_map(|l| l.split_once(" = ").map(|(k, _)| k.trim()))
        .filter(|k| !k.is_empty() && k.chars().all(|c| c.is_ascii_lowercase() || c == '-'))
        .map(|k| format!("--{k}"))
        .collect();
    assert!(keys.len() > 20, "{keys:?}");
    let unknown: Vec<&String> = keys.difference(&help).collect();
    assert!(
        unknown.is_empty(),
        "config/default.toml keys that are no flag: {unknown:?}"
    );
}

/// Each flag of `run --help` with the text of its help, wrapped lines joined.
fn help_blocks() -> Vec<(String, String)> {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_cognito-bulk-reset"))
        .args(["run", "--help"])
        .output()
        .expect("the binary runs");
    let text = String::from_utf8(out.stdout).unwrap();
    let mut blocks: Vec<(String, String)> = Vec::new();
    for line in text.lines().map(str::trim) {
        if line.starts_with('-') {
            if let Some(flag) = line.split_whitespace().find(|w| w.starts_with("--")) {
                let flag = flag.split(['[', '=', '.']).next().unwrap_or_default();
                blocks.push((flag.to_string(), String::new()));
                continue;
            }
        }
        if let Some((_, help)) = blocks.last_mut() {
            help.push(' ');
            help.push_str(line);
        }
    }
    blocks
}

/// Each default is written once in the code (settings' DEFAULT_* constants,
/// which a unit test holds config/default.toml to); the `[default: X]` that
/// `run --help` shows agrees with config/default.toml, key by key, and no
/// literal default in the help lacks its key in the file.
#[test]
fn help_defaults_agree_with_default_toml() {
    let file: toml::Table = read("config/default.toml").parse().unwrap();
    let mut compared = 0;
    for (flag, help) in help_blocks() {
        let Some(shown) = help
            .split("[default: ")
            .nth(1)
            .and_then(|rest| rest.split(']').next())
        else {
            continue;
        };
        let shown = shown.trim();
        let key = flag.trim_start_matches("--");
        if ["log-format"].contains(&key) {
            continue; // a flag of every command, not a setting of `run`
        }
        let literal = !shown.contains(' ');
        match file.get(key) {
            Some(value) => {
                let same = match value {
                    toml::Value::Float(f) => shown.parse::<f64>() == Ok(*f),
                    toml::Value::Integer(i) => shown.parse::<i64>() == Ok(*i),
                    toml::Value::Boolean(b) => shown.parse::<bool>() == Ok(*b),
                    toml::Value::String(s) => shown == s,
                    other => panic!("{key}: unexpected value {other}"),
                };
                assert!(
                    same,
                    "{flag}: run --help shows [default: {shown}], config/default.toml says {value}"
                );
                compared += 1;
            }
            None => assert!(
                !literal,
                "{flag}: run --help shows [default: {shown}], but config/default.toml does not set {key}"
            ),
        }
    }
    assert!(compared >= 12, "only {compared} defaults compared");
}
