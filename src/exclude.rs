//! People a run must never touch: `--exclude FILE` (break-glass and admin
//! accounts, people already handled) and `--exclude-group NAME` (a group's
//! members, from ListUsersInGroup, which names each by their canonical
//! username). Each file's names are resolved the way input rows are (the
//! pool's case rule, aliases, the sub: the run's own [`Resolver`]), so a
//! row naming an excluded person another way is excluded too. Read before
//! the first call; anything that leaves doubt about whom an entry names
//! stops the run, since a doubtful exclusion could let the run touch the
//! very person it was meant to spare.
//!
//! A file is a plain list (a name a line) or a CSV whose header names the
//! input's username column; `#` starts a comment line in a plain list.

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::cognito::Cognito;
use crate::error::UsageError;
use crate::identity::{Identity, Person};
use crate::ledger::fingerprint;
use crate::limiter::Limiter;
use crate::resolve::Resolver;
use crate::retry::RetryPolicy;
use crate::source::csv::{CsvOptions, CsvSource};
use crate::source::pool::{Listing, PoolSource};
use crate::source::SourceItem;

/// An exclusion file's size, at most: lists of people to spare are short.
pub const MAX_EXCLUDE_BYTES: u64 = 16 << 20;

/// The people excluded, by key (a canonical username's fingerprint, or an
/// unresolved name's), with why.
#[derive(Debug, Default, Clone)]
pub struct Exclusions {
    keys: HashMap<u128, Arc<str>>,
    /// Entries that name no one in the pool (nothing to spare).
    pub nobody: u64,
}

impl Exclusions {
    /// Why the person `key` names is excluded, if they are.
    pub fn why(&self, key: u128) -> Option<&Arc<str>> {
        self.keys.get(&key)
    }

    /// People excluded (entries naming someone, each person once).
    pub fn people(&self) -> usize {
        self.keys.len()
    }

    /// Reads and resolves each `--exclude` file, and lists each
    /// `--exclude-group` (through `list`, the UserList limiter).
    pub async fn load(
        lists: &Lists<'_>,
        resolver: &Resolver,
        cognito: &Cognito,
        list: &Arc<Limiter>,
        retry: RetryPolicy,
    ) -> Result<Exclusions, anyhow::Error> {
        let (files, csv) = (lists.files, lists.csv);
        let mut out = Exclusions::default();
        for group in lists.groups {
            let members = PoolSource::open(
                cognito.clone(),
                Listing::Group(group.clone()),
                list.clone(),
                retry,
            )
            .await
            .map_err(|e| match e {
                UsageError::Value { reason, .. } => UsageError::Value {
                    flag: "--exclude-group",
                    reason,
                },
                other => other,
            })?
            .collect()
            .await
            .map_err(|e| {
                anyhow::anyhow!(
                    "could not list the group '{}' (--exclude-group): {}: {}",
                    crate::text::shown(group),
                    e.code,
                    e.message
                )
            })?;
            let why: Arc<str> = format!("--exclude-group {}", crate::text::shown(group)).into();
            for user in &members {
                out.keys
                    .entry(Person::listed(user).key)
                    .or_insert_with(|| why.clone());
            }
        }
        for path in files {
            for (line, value) in read(path, csv)? {
                let identity = resolver.resolve_named(&value).await.map_err(|e| {
                    anyhow::anyhow!(
                        "could not resolve {}:{line} ('{}'), so it cannot be excluded: {}: {}",
                        path.display(),
                        crate::text::shown(&value),
                        e.code,
                        e.message
                    )
                })?;
                let key = match identity {
                    Identity::Person(p) => p.key,
                    Identity::Unresolved | Identity::Recorded => fingerprint(&value),
                    Identity::Nobody => {
                        out.nobody += 1;
                        continue;
                    }
                    Identity::Ambiguous(reason) => {
                        return Err(UsageError::Value {
                            flag: "--exclude",
                            reason: format!(
                            "{}:{line}: cannot tell whom '{}' names ({reason}); list the username",
                            path.display(),
                            crate::text::shown(&value)
                        ),
                        }
                        .into())
                    }
                };
                out.keys.entry(key).or_insert_with(|| {
                    let path = path.display().to_string();
                    format!("--exclude {}:{line}", crate::text::shown(&path)).into()
                });
            }
        }
        Ok(out)
    }
}

/// What a run excludes: `--exclude` files (read with the input's CSV
/// options) and `--exclude-group` names.
pub struct Lists<'a> {
    pub files: &'a [PathBuf],
    pub groups: &'a [String],
    pub csv: &'a CsvOptions,
}

/// The names of an exclusion file, with their lines. An invalid row stops
/// the run: an entry the tool cannot read is a person it cannot spare.
fn read(path: &Path, csv: &CsvOptions) -> Result<Vec<(u64, String)>, UsageError> {
    let err = |reason: String| UsageError::Value {
        flag: "--exclude",
        reason: format!("{}: {reason}", path.display()),
    };
    let (file, _) = crate::files::open_input(path)?;
    let mut text = Vec::new();
    file.take(MAX_EXCLUDE_BYTES + 1)
        .read_to_end(&mut text)
        .map_err(|e| err(e.to_string()))?;
    if text.len() as u64 > MAX_EXCLUDE_BYTES {
        return Err(err(format!(
            "it is over {} MiB; an exclusion list is a list of people to spare",
            MAX_EXCLUDE_BYTES >> 20
        )));
    }
    // A header naming the username column makes it a CSV; else a list.
    let first = text
        .split(|b| *b == b'\n')
        .next()
        .map(|l| {
            String::from_utf8_lossy(l)
                .trim_start_matches('\u{feff}')
                .trim()
                .to_lowercase()
        })
        .unwrap_or_default();
    let header = first
        .split(csv.delimiter as char)
        .any(|c| c.trim().trim_matches('"') == csv.username_column.to_lowercase());
    let plain: Vec<u8>;
    let body: &[u8] = if header {
        &text
    } else {
        // Comment lines become empty ones, so line numbers hold.
        plain = text
            .split(|b| *b == b'\n')
            .map(|l| {
                if l.trim_ascii_start().starts_with(b"#") {
                    &[][..]
                } else {
                    l
                }
            })
            .collect::<Vec<_>>()
            .join(&b'\n');
        &plain
    };
    let opts = CsvOptions {
        input_name: path.display().to_string(),
        header,
        password_column: None,
        regular_file: true,
        header_check: false,
        ..csv.clone()
    };
    let mut names = Vec::new();
    for item in CsvSource::new(body, &opts)? {
        match item.map_err(|e| err(e.to_string()))? {
            // A line of a list that holds the delimiter is most likely a
            // CSV row whose header does not name the username column: as a
            // name it would match no one, and spare no one.
            SourceItem::User(row) if !header && row.username.contains(csv.delimiter as char) => {
                return Err(err(format!(
                    "line {}: '{}' holds '{}', so this looks like a CSV; give it a header row naming the '{}' column (--username-column)",
                    row.line,
                    crate::text::shown(&row.username),
                    csv.delimiter as char,
                    csv.username_column
                )));
            }
            SourceItem::User(row) => names.push((row.line, row.username)),
            SourceItem::Invalid { line, reason, .. } => {
                return Err(err(format!("line {line}: {reason}")));
            }
        }
    }
    Ok(names)
}
