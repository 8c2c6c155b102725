//! The fleet manifest: a TOML file whose top-level keys are run settings
//! spelled like the flags (exactly as in `--config`), the defaults of every
//! target, and whose `[[target]]` tables each name a pool and may add
//! `role-arn`, `external-id`, `profile`, `region` and any per-pool run
//! setting. `[[discover]]` tables expand, through ListUserPools, into
//! targets.
//!
//! Every mistake is refused here, before any call, with the manifest's
//! line and the fix.

use std::path::{Path, PathBuf};

use crate::error::UsageError;
use crate::settings::RunArgs;

/// Keys only a `[[target]]` (or `[[discover]]`) table has: how to reach
/// the target's account.
const TARGET_ONLY: &[&str] = &["role-arn", "external-id"];

/// Run settings that are the fleet's as a whole: refused in a target, with
/// why.
const NOT_PER_TARGET: &[(&str, &str)] = &[
    ("ledger", "each target's ledger is kept under the fleet's ledger-dir"),
    ("ledger-dir", "set it at the top of the manifest or with --ledger-dir"),
    ("summary-json", "the fleet writes one summary; set it at the top or with --summary-json"),
    ("yes", "the fleet is confirmed as a whole; set it at the top or give --yes"),
    ("rate", "the rate is per account and region, shared by every pool in it; set it at the top or with --rate"),
    ("burst", "the limiter is per account and region; set it at the top"),
    ("adaptive", "the limiter is per account and region; set it at the top"),
    ("quota-share", "the limiter is per account and region; set it at the top"),
    ("leave-for-production", "production shares the account and region's quota, not a pool's; set it at the top"),
    ("sign-out-rate", "the limiter is per account and region; set it at the top"),
    ("read-rate", "the limiter is per account and region; set it at the top"),
    ("list-rate", "the limiter is per account and region; set it at the top"),
];

/// Run settings a fleet's top level cannot have, with the fix.
const NOT_AT_TOP: &[(&str, &str)] = &[("user-pool-id", "name each pool in a [[target]] table")];

/// A parsed manifest.
#[derive(Debug, Clone)]
pub struct Manifest {
    pub path: PathBuf,
    /// The top-level settings: every target's defaults.
    pub defaults: RunArgs,
    pub targets: Vec<TargetEntry>,
    pub discover: Vec<DiscoverEntry>,
}

/// One `[[target]]` table.
#[derive(Debug, Clone)]
pub struct TargetEntry {
    /// Where it is: its 1-based place among the targets, and its line.
    pub at: Place,
    /// Its own run settings (`user-pool-id` among them).
    pub args: RunArgs,
    pub role_arn: Option<String>,
    pub external_id: Option<String>,
}

/// One `[[discover]]` table: the pools of each account (a role or a
/// profile) and region whose names match `pool-name`.
#[derive(Debug, Clone)]
pub struct DiscoverEntry {
    pub at: Place,
    pub role_arns: Vec<String>,
    pub profiles: Vec<String>,
    pub regions: Vec<String>,
    /// A glob over pool names: `*` any run of characters, `?` one.
    pub pool_name: String,
    pub external_id: Option<String>,
    /// Run settings for every pool it finds.
    pub args: RunArgs,
}

/// Where a table is in the manifest, for messages.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Place {
    pub kind: &'static str,
    pub index: usize,
    pub line: Option<usize>,
}

impl std::fmt::Display for Place {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "[[{}]] #{}", self.kind, self.index)?;
        if let Some(line) = self.line {
            write!(f, " (line {line})")?;
        }
        Ok(())
    }
}

impl Manifest {
    /// Reads and checks `path` (a regular file, as `--config`).
    pub fn load(path: &Path) -> Result<Manifest, UsageError> {
        let text = crate::files::read_config(path).map_err(|reason| fail(path, reason))?;
        Manifest::parse(path, &text)
    }

    /// Checks the manifest's text.
    pub fn parse(path: &Path, text: &str) -> Result<Manifest, UsageError> {
        let mut doc: toml::Table = text
            .parse()
            .map_err(|e: toml::de::Error| fail(path, e.to_string().trim_end().to_string()))?;
        let tables = |doc: &mut toml::Table,
                      kind: &'static str|
         -> Result<Vec<(Place, toml::Table)>, UsageError> {
            let lines = header_lines(text, kind);
            match doc.remove(kind) {
                None => Ok(Vec::new()),
                Some(toml::Value::Array(items)) => items
                    .into_iter()
                    .enumerate()
                    .map(|(i, item)| {
                        let at = Place {
                            kind,
                            index: i + 1,
                            line: lines.get(i).copied(),
                        };
                        match item {
                            toml::Value::Table(t) => Ok((at, t)),
                            _ => Err(fail(path, format!("{at} is not a table; write [[{kind}]] followed by its keys"))),
                        }
                    })
                    .collect(),
                Some(_) => Err(fail(
                    path,
                    format!("'{kind}' must be a list of tables: write each as [[{kind}]] followed by its keys"),
                )),
            }
        };
        let targets = tables(&mut doc, "target")?;
        let discover = tables(&mut doc, "discover")?;

        // A file ledger is one job's: a fleet keeps one per target, in
        // ledger-dir, or as jobs under a DynamoDB prefix.
        if let Some(ledger) = doc.get("ledger") {
            if !ledger
                .as_str()
                .is_some_and(|l| l.starts_with(crate::ledger::location::SCHEME))
            {
                return Err(fail(path, format!("{}'ledger' at the top of a fleet must be dynamodb://TABLE/PREFIX (each target a job under the prefix); for files, give ledger-dir instead", line_of(text, "ledger"))));
            }
            if doc.contains_key("ledger-dir") {
                return Err(fail(
                    path,
                    format!(
                        "{}give ledger (a DynamoDB table) or ledger-dir (files), not both",
                        line_of(text, "ledger")
                    ),
                ));
            }
        }
        for (key, fix) in NOT_AT_TOP {
            if doc.contains_key(*key) {
                return Err(fail(
                    path,
                    format!("{}'{key}' cannot be at the top: {fix}", line_of(text, key)),
                ));
            }
        }
        for key in TARGET_ONLY {
            if doc.contains_key(*key) {
                return Err(fail(
                    path,
                    format!(
                        "{}'{key}' belongs in a [[target]] or [[discover]] table",
                        line_of(text, key)
                    ),
                ));
            }
        }
        let defaults: RunArgs = toml::Value::Table(doc)
            .try_into()
            .map_err(|e: toml::de::Error| fail(path, format!("at the top: {}", e.message())))?;

        let targets = targets
            .into_iter()
            .map(|(at, mut t)| {
                let role_arn = take_string(path, at, &mut t, "role-arn")?;
                let external_id = take_string(path, at, &mut t, "external-id")?;
                let args = target_args(path, at, t)?;
                if args.user_pool_id.is_none() {
                    return Err(fail(
                        path,
                        format!("{at} names no pool: add user-pool-id = \"REGION_ID\""),
                    ));
                }
                if let Some(arn) = &role_arn {
                    check_role_arn(arn).map_err(|r| fail(path, format!("{at}: {r}")))?;
                }
                Ok(TargetEntry {
                    at,
                    args,
                    role_arn,
                    external_id,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let discover = discover
            .into_iter()
            .map(|(at, mut t)| {
                let role_arns = take_strings(path, at, &mut t, "role-arns")?;
                let profiles = take_strings(path, at, &mut t, "profiles")?;
                let regions = take_strings(path, at, &mut t, "regions")?;
                let pool_name = take_string(path, at, &mut t, "pool-name")?
                    .ok_or_else(|| fail(path, format!("{at} has no pool-name: add pool-name = \"GLOB\" (e.g. \"tenant-*\")")))?;
                let external_id = take_string(path, at, &mut t, "external-id")?;
                if regions.is_empty() {
                    return Err(fail(path, format!("{at} lists no regions: add regions = [\"us-east-1\", ...]")));
                }
                if !role_arns.is_empty() && !profiles.is_empty() {
                    return Err(fail(path, format!("{at} lists both role-arns and profiles: give one (a discover table reaches its accounts one way)")));
                }
                for arn in &role_arns {
                    check_role_arn(arn).map_err(|r| fail(path, format!("{at}: {r}")))?;
                }
                if t.contains_key("region") {
                    return Err(fail(path, format!("{at} lists its regions in regions = [...]; drop region")));
                }
                if t.contains_key("user-pool-id") {
                    return Err(fail(path, format!("{at} finds its pools by pool-name; user-pool-id belongs in a [[target]] table")));
                }
                let args = target_args(path, at, t)?;
                Ok(DiscoverEntry {
                    at,
                    role_arns,
                    profiles,
                    regions,
                    pool_name,
                    external_id,
                    args,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        if targets.is_empty() && discover.is_empty() {
            return Err(fail(
                path,
                "it names no pools: add a [[target]] table with user-pool-id = \"REGION_ID\" (or a [[discover]] table)".into(),
            ));
        }
        Ok(Manifest {
            path: path.to_owned(),
            defaults,
            targets,
            discover,
        })
    }
}

/// A target's (or discover table's) run settings, refusing the fleet-wide
/// ones.
fn target_args(path: &Path, at: Place, t: toml::Table) -> Result<RunArgs, UsageError> {
    for (key, why) in NOT_PER_TARGET {
        if t.contains_key(*key) {
            return Err(fail(
                path,
                format!("{at}: '{key}' cannot be set per target: {why}"),
            ));
        }
    }
    toml::Value::Table(t)
        .try_into()
        .map_err(|e: toml::de::Error| fail(path, format!("{at}: {}", e.message())))
}

fn take_string(
    path: &Path,
    at: Place,
    t: &mut toml::Table,
    key: &str,
) -> Result<Option<String>, UsageError> {
    match t.remove(key) {
        None => Ok(None),
        Some(toml::Value::String(s)) if !s.is_empty() => Ok(Some(s)),
        Some(_) => Err(fail(
            path,
            format!("{at}: '{key}' must be a non-empty string"),
        )),
    }
}

fn take_strings(
    path: &Path,
    at: Place,
    t: &mut toml::Table,
    key: &str,
) -> Result<Vec<String>, UsageError> {
    match t.remove(key) {
        None => Ok(Vec::new()),
        Some(toml::Value::Array(items)) => items
            .into_iter()
            .map(|v| match v {
                toml::Value::String(s) if !s.is_empty() => Ok(s),
                _ => Err(fail(
                    path,
                    format!("{at}: '{key}' must list non-empty strings"),
                )),
            })
            .collect(),
        Some(_) => Err(fail(
            path,
            format!("{at}: '{key}' must be a list, e.g. {key} = [\"...\"]"),
        )),
    }
}

/// `arn:PARTITION:iam::ACCOUNT:role/NAME`.
pub fn check_role_arn(arn: &str) -> Result<(), String> {
    let f: Vec<&str> = arn.split(':').collect();
    let ok = f.len() == 6
        && f[0] == "arn"
        && !f[1].is_empty()
        && f[2] == "iam"
        && f[3].is_empty()
        && f[4].len() == 12
        && f[4].bytes().all(|b| b.is_ascii_digit())
        && f[5].len() > "role/".len()
        && f[5].starts_with("role/");
    if ok {
        Ok(())
    } else {
        Err(format!(
            "role-arn '{arn}' is not a role ARN; it looks like arn:aws:iam::222222222222:role/NAME"
        ))
    }
}

/// The lines of the `[[kind]]` headers, in order.
fn header_lines(text: &str, kind: &str) -> Vec<usize> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| {
            let l = l.trim_start();
            l.strip_prefix("[[")
                .and_then(|r| r.split("]]").next())
                .is_some_and(|name| name.trim() == kind)
        })
        .map(|(i, _)| i + 1)
        .collect()
}

/// "line N: " for the top-level `key`, if it can be found before the first
/// table.
fn line_of(text: &str, key: &str) -> String {
    for (i, l) in text.lines().enumerate() {
        let l = l.trim_start();
        if l.starts_with('[') {
            break;
        }
        if l.strip_prefix(key)
            .is_some_and(|rest| rest.trim_start().starts_with('='))
        {
            return format!("line {}: ", i + 1);
        }
    }
    String::new()
}

fn fail(path: &Path, reason: String) -> UsageError {
    UsageError::Fleet {
        path: path.to_owned(),
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Manifest, String> {
        Manifest::parse(Path::new("fleet.toml"), text).map_err(|e| e.to_string())
    }

    #[test]
    fn reads_defaults_and_targets() {
        let m = parse(
            r#"
action = "reset"
rate = 10
ledger-dir = "ledgers"

[[target]]
user-pool-id = "us-east-1_Aaaa"
input = "a.csv"

[[target]]
user-pool-id = "eu-west-1_Bbbb"
role-arn = "arn:aws:iam::222222222222:role/reset"
external-id = "x-1"
from-pool = true
"#,
        )
        .unwrap();
        assert_eq!(m.defaults.ledger_dir.as_deref(), Some(Path::new("ledgers")));
        assert_eq!(m.targets.len(), 2);
        assert_eq!(m.targets[0].at.line, Some(6));
        assert_eq!(m.targets[1].at.line, Some(10));
        assert_eq!(
            m.targets[1].role_arn.as_deref(),
            Some("arn:aws:iam::222222222222:role/reset")
        );
        assert_eq!(m.targets[1].args.from_pool, Some(true));
    }

    #[test]
    fn refusals_name_the_line_and_the_fix() {
        let cases = [
            ("rate = 10\n", "names no pools"),
            ("user-pool-id = \"us-east-1_A\"\n[[target]]\nuser-pool-id = \"us-east-1_B\"\n", "line 1: 'user-pool-id' cannot be at the top"),
            ("[[target]]\ninput = \"a.csv\"\n", "[[target]] #1 (line 1) names no pool"),
            ("[[target]]\nuser-pool-id = \"us-east-1_A\"\n\n[[target]]\nuser-pool-id = \"us-east-1_B\"\nrate = 5\n", "[[target]] #2 (line 4): 'rate' cannot be set per target"),
            ("[[target]]\nuser-pool-id = \"us-east-1_A\"\nrat = 5\n", "unknown field `rat`"),
            ("[[target]]\nuser-pool-id = \"us-east-1_A\"\nrole-arn = \"arn:aws:iam::22:role/x\"\n", "is not a role ARN"),
            ("role-arn = \"arn:aws:iam::222222222222:role/x\"\n[[target]]\nuser-pool-id = \"us-east-1_A\"\n", "line 1: 'role-arn' belongs in a [[target]]"),
            ("ratte = 1\n[[target]]\nuser-pool-id = \"us-east-1_A\"\n", "at the top: unknown field `ratte`"),
            ("target = 3\n", "must be a list of tables"),
            ("[[target]\n", "fleet.toml"),
            ("[[discover]]\nregions = [\"us-east-1\"]\n", "has no pool-name"),
        ];
        for (text, want) in cases {
            let e = parse(text).unwrap_err();
            assert!(e.contains(want), "{text:?}: {e}");
            assert!(e.contains("fleet.toml"), "{e}");
        }
    }
}
