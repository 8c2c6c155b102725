//! From the raw settings to checked [`RunSettings`]: defaults applied, every
//! value refused with a [`UsageError`] naming the fix when it would fail
//! later, so that nothing downstream re-validates. Each part of the checked
//! settings has its own constructor from the raw shape: [`Pace`] (how fast),
//! [`Steps`] (what is done to each user), [`AwsSettings`] (where the calls
//! go); [`RunArgs::check`] adds the input, the ledger and the checks that
//! span parts.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::path::PathBuf;
use std::time::Duration;

use crate::cognito::{AwsSettings, Operation};
use crate::error::UsageError;
use crate::ledger::location::{Location, TableAccess};
use crate::ledger::Action;
use crate::limiter::default_burst;
use crate::resolve::ResolveMode;
use crate::retry::RetryPolicy;
use crate::source::csv::CsvOptions;
use crate::validate::check_pool_id;

use super::*;

impl RunArgs {
    /// Applies defaults and checks every value.
    pub fn check(self) -> Result<RunSettings, UsageError> {
        if self.ledger_dir.is_some() {
            return Err(UsageError::Value {
                flag: "--ledger-dir",
                reason: "it holds a fleet's ledgers; use it with --fleet (a single pool's run takes --ledger)".into(),
            });
        }
        let (pool_id, aws) = AwsSettings::check(&self)?;
        let input = check_input(&self)?;
        let steps = Steps::check(&self)?;
        if matches!(input, Input::Pool { .. } | Input::Group { .. })
            && steps.action == Action::SetPassword
            && steps.generate_passwords.is_none()
        {
            return Err(UsageError::Value {
                flag: "--from-pool",
                reason: "set-password needs each user's password from an --input file, or --generate-passwords".into(),
            });
        }
        let pace = Pace::check(&self)?;
        let max_attempts = self.max_attempts.unwrap_or(DEFAULT_MAX_ATTEMPTS);
        if !(1..=100).contains(&max_attempts) {
            return Err(UsageError::Value {
                flag: "--max-attempts",
                reason: format!("{max_attempts} is out of range; give 1 to 100"),
            });
        }
        let ledger = self.ledger.unwrap_or_else(|| {
            PathBuf::from(format!(
                "cognito-bulk-reset-{pool_id}-{}.jsonl",
                steps.action.as_str()
            ))
        });
        let ledger = Location::parse(
            &ledger,
            &TableAccess {
                region: self.ledger_region.clone(),
                profile: self.profile.clone(),
            },
        )?;
        let lease_seconds = self.lease_seconds.unwrap_or(DEFAULT_LEASE_SECONDS);
        if !(3..=3600).contains(&lease_seconds) {
            return Err(UsageError::Value {
                flag: "--lease-seconds",
                reason: format!("{lease_seconds} is out of range; give 3 to 3600, e.g. --lease-seconds {DEFAULT_LEASE_SECONDS}"),
            });
        }
        let csv = CsvOptions {
            input_name: input.name(),
            header: !self.no_header.unwrap_or(false),
            username_column: self
                .username_column
                .unwrap_or_else(|| DEFAULT_USERNAME_COLUMN.into()),
            password_column: match steps.action {
                Action::SetPassword if steps.generate_passwords.is_none() => Some(
                    self.password_column
                        .unwrap_or_else(|| DEFAULT_PASSWORD_COLUMN.into()),
                ),
                Action::SetPassword
                | Action::Reset
                | Action::SignOut
                | Action::Disable
                | Action::Enable => None,
            },
            // Known once the input is open.
            regular_file: false,
            header_check: !self.no_header_check.unwrap_or(false),
            delimiter: check_delimiter(self.delimiter.as_deref().unwrap_or(DEFAULT_DELIMITER))?,
        };
        Ok(RunSettings {
            aws,
            pool_id,
            input,
            ledger,
            csv,
            exclude: self.exclude.clone(),
            exclude_group: self.exclude_group.clone(),
            canary: match (&self.canary, self.continue_job.unwrap_or(false)) {
                (Some(given), false) => Some(check_canary(given)?),
                _ => None,
            },
            steps,
            pace,
            retry: RetryPolicy {
                max_attempts,
                ..RetryPolicy::default()
            },
            stop_after_failures: self
                .stop_after_failures
                .unwrap_or(DEFAULT_STOP_AFTER_FAILURES),
            yes: self.yes.unwrap_or(false),
            dry_run: self.dry_run,
            summary_json: self.summary_json,
            log_interval: Duration::from_secs(10),
            config: None,
            lease_seconds,
            input_changed: self.input_changed.unwrap_or(false),
            claim_dir: crate::ledger::claim::host_dir(),
            allow_concurrent_jobs: self.allow_concurrent_jobs.unwrap_or(false),
        })
    }
}

/// `--canary N` or `--canary P%`.
fn check_canary(given: &str) -> Result<Canary, UsageError> {
    let err = || UsageError::Value {
        flag: "--canary",
        reason: format!(
            "'{}' is neither a number of people (1 or more) nor a share such as 5%",
            crate::text::shown(given)
        ),
    };
    match given.trim().strip_suffix('%') {
        Some(p) => match p.trim().parse::<f64>() {
            Ok(p) if p > 0.0 && p <= 100.0 => Ok(Canary::Share(p / 100.0)),
            _ => Err(err()),
        },
        None => match given.trim().parse::<u64>() {
            Ok(n) if n >= 1 => Ok(Canary::People(n)),
            _ => Err(err()),
        },
    }
}

/// `--delimiter`: one ASCII character that cannot begin a value's quoting
/// or end a line; `\t` and `tab` mean a tab.
fn check_delimiter(given: &str) -> Result<u8, UsageError> {
    let byte = match given {
        "\\t" | "tab" => b'\t',
        one if one.len() == 1 => one.as_bytes()[0],
        _ => 0,
    };
    if byte.is_ascii() && byte != 0 && !matches!(byte, b'"' | b'\n' | b'\r') {
        Ok(byte)
    } else {
        Err(UsageError::Value {
            flag: "--delimiter",
            reason: format!(
                "'{}' is not one character between fields; give e.g. --delimiter ';' or --delimiter tab",
                crate::text::shown(given)
            ),
        })
    }
}

impl AwsSettings {
    /// The pool id, and where its calls go: the region its id names (a
    /// `--region` that differs only with `--endpoint-url`), the endpoint,
    /// the profile and the time one attempt may take.
    fn check(args: &RunArgs) -> Result<(String, AwsSettings), UsageError> {
        let pool_id = args.user_pool_id.clone().ok_or(UsageError::Missing(
            "--user-pool-id",
            "name the pool, e.g. --user-pool-id us-east-1_AbCdEfGhI",
        ))?;
        let pool_region = check_pool_id(&pool_id).map_err(|reason| UsageError::PoolId {
            id: pool_id.clone(),
            reason,
        })?;
        let region = match &args.region {
            Some(r) if r != pool_region && args.endpoint_url.is_none() => {
                return Err(UsageError::RegionMismatch {
                    given: r.clone(),
                    pool: pool_id.clone(),
                    expected: pool_region.to_string(),
                })
            }
            Some(r) => r.clone(),
            None => pool_region.to_string(),
        };
        if let Some(url) = &args.endpoint_url {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(UsageError::Value {
                    flag: "--endpoint-url",
                    reason: format!("'{url}' is not an http:// or https:// URL"),
                });
            }
        }
        let timeout = args.attempt_timeout.unwrap_or(DEFAULT_ATTEMPT_TIMEOUT_SECS);
        check_range(
            timeout,
            0.1,
            3600.0,
            "--attempt-timeout",
            DEFAULT_ATTEMPT_TIMEOUT_SECS,
        )?;
        Ok((
            pool_id,
            AwsSettings {
                role: None,
                region,
                profile: args.profile.clone(),
                endpoint_url: args.endpoint_url.clone(),
                attempt_timeout: Duration::from_secs_f64(timeout),
            },
        ))
    }
}

/// Where the users come from: `--input` (a path, `-` for stdin, or
/// `s3://BUCKET/KEY`), `--from-pool` (with an optional `--filter`) or
/// `--from-group`, exactly one.
fn check_input(args: &RunArgs) -> Result<Input, UsageError> {
    let from_pool = args.from_pool.unwrap_or(false);
    if let Some(name) = &args.from_group {
        if args.input.is_some() || from_pool {
            return Err(UsageError::Value {
                flag: "--from-group",
                reason: "give one of --input, --from-pool and --from-group".into(),
            });
        }
        if args.filter.is_some() {
            return Err(UsageError::Value {
                flag: "--filter",
                reason: "ListUsersInGroup takes no filter, so it applies to --from-pool only; list the group's members to a file and run with --input".into(),
            });
        }
        if name.is_empty() || name.len() > 128 {
            return Err(UsageError::Value {
                flag: "--from-group",
                reason: "give a group name of 1 to 128 characters".into(),
            });
        }
        return Ok(Input::Group { name: name.clone() });
    }
    let input = match (&args.input, from_pool) {
        (Some(_), true) => {
            return Err(UsageError::Value {
                flag: "--from-pool",
                reason: "give either --input or --from-pool, not both".into(),
            })
        }
        (None, true) => Input::Pool {
            filter: args.filter.clone(),
        },
        (None, false) => {
            return Err(UsageError::Missing(
                "--input",
                "give the CSV of users, e.g. --input users.csv (or --input - for stdin), or --from-pool",
            ))
        }
        (Some(p), false) if p.as_os_str() == "-" => Input::Stdin,
        (Some(p), false) => match p.to_str().and_then(crate::source::s3::parse) {
            Some(Ok((bucket, key))) => Input::S3 { bucket, key },
            Some(Err(reason)) => {
                return Err(UsageError::Value {
                    flag: "--input",
                    reason,
                })
            }
            None => Input::Path(p.clone()),
        },
    };
    if args.filter.is_some() && !from_pool {
        return Err(UsageError::Value {
            flag: "--filter",
            reason: "it applies to --from-pool only".into(),
        });
    }
    Ok(input)
}

impl Steps {
    /// The action and the steps around it; a step that does not go with the
    /// action is refused.
    fn check(args: &RunArgs) -> Result<Steps, UsageError> {
        let action = args.action.unwrap_or(DEFAULT_ACTION);
        // A flag of one action's given with another: the action's facts
        // say which flags apply to it.
        if let Some(flag) = action_flags(args)
            .into_iter()
            .find(|flag| !action.facts().flags.contains(flag))
        {
            let hint = match flag {
                "--sign-out" if action == Action::SignOut => {
                    "; --action sign-out signs users out already"
                }
                "--sign-out" => "; to only end sessions use --action sign-out",
                _ => "",
            };
            return Err(UsageError::Value {
                flag,
                reason: format!(
                    "it applies to {} only, not to --action {}{hint}",
                    crate::action::taking(flag),
                    action.as_str()
                ),
            });
        }
        let sign_out = args.sign_out.unwrap_or(false);
        let disable = args.disable.unwrap_or(false);
        let precheck = args.precheck.unwrap_or(false);
        let resolve = args.resolve.unwrap_or_default();
        if resolve == ResolveMode::Exact && precheck {
            return Err(UsageError::Value {
                flag: "--resolve exact",
                reason: "--precheck reads each user's status from the pool's listing; drop --resolve exact".into(),
            });
        }
        let include_federated = args.include_federated.unwrap_or(false);
        if resolve == ResolveMode::Exact && action == Action::SetPassword && !include_federated {
            return Err(UsageError::Value {
                flag: "--resolve exact",
                reason: "set-password reads each user's status to skip federated (EXTERNAL_PROVIDER) users, which a password would turn into password users; drop --resolve exact, or add --include-federated".into(),
            });
        }
        let generate_passwords = match (
            args.generate_passwords.unwrap_or(false),
            &args.passwords_out,
        ) {
            (true, None) => {
                return Err(UsageError::Missing(
                    "--passwords-out",
                    "with --generate-passwords, name the file the passwords go to, e.g. --passwords-out passwords.csv",
                ))
            }
            (true, Some(path)) => Some(path.clone()),
            (false, Some(_)) => {
                return Err(UsageError::Value {
                    flag: "--passwords-out",
                    reason: "it goes with --generate-passwords".into(),
                })
            }
            (false, None) => None,
        };
        let operation = match action {
            Action::Reset => Operation::Reset {
                client_metadata: parse_metadata(&args.client_metadata)?,
            },
            Action::SignOut => Operation::SignOut,
            Action::SetPassword => Operation::SetPassword {
                permanent: args.permanent.unwrap_or(false),
            },
            Action::Disable => Operation::Disable,
            Action::Enable => Operation::Enable,
        };
        Ok(Steps {
            action,
            operation,
            sign_out,
            disable,
            precheck,
            include_federated,
            generate_passwords,
            resolve,
            retry_failed: args.retry_failed.unwrap_or(false),
        })
    }
}

/// The flags given that apply to some actions only (each action's
/// `Facts::flags` names those that apply to it). A flag set to false, as a
/// config file may, is not given.
fn action_flags(args: &RunArgs) -> Vec<&'static str> {
    let given = [
        ("--client-metadata", !args.client_metadata.is_empty()),
        ("--sign-out", args.sign_out == Some(true)),
        ("--disable", args.disable == Some(true)),
        ("--precheck", args.precheck == Some(true)),
        ("--permanent", args.permanent.is_some()),
        ("--include-federated", args.include_federated == Some(true)),
        (
            "--generate-passwords",
            args.generate_passwords == Some(true),
        ),
    ];
    given
        .into_iter()
        .filter_map(|(flag, given)| given.then_some(flag))
        .collect()
}

impl Pace {
    /// The rates of each quota category the run calls, the burst, the
    /// adaptive rate and the calls in flight.
    fn check(args: &RunArgs) -> Result<Pace, UsageError> {
        let sign_out_rate = args.sign_out_rate.unwrap_or(DEFAULT_SIGN_OUT_RATE);
        check_range(
            sign_out_rate,
            MIN_RATE,
            100_000.0,
            "--sign-out-rate",
            DEFAULT_SIGN_OUT_RATE,
        )?;
        let list_rate = args.list_rate.unwrap_or(DEFAULT_LIST_RATE);
        check_range(
            list_rate,
            MIN_RATE,
            10_000.0,
            "--list-rate",
            DEFAULT_LIST_RATE,
        )?;
        let rate_auto = args.rate == Some(Rate::Auto);
        let rate = match args.rate {
            Some(Rate::PerSecond(r)) => r,
            Some(Rate::Auto) | None => DEFAULT_RATE,
        };
        if let Some(share) = args.quota_share {
            if !(share > 0.0 && share <= 1.0) {
                return Err(UsageError::Value {
                    flag: "--quota-share",
                    reason: format!(
                        "{share} is not a share; give a number above 0 and at most 1, e.g. {DEFAULT_QUOTA_SHARE}"
                    ),
                });
            }
        }
        let leave = match args.leave_for_production {
            // `auto`, the default, means nothing with a fixed rate.
            Some(Rate::PerSecond(_)) if !rate_auto => {
                return Err(UsageError::Value {
                    flag: "--leave-for-production",
                    reason: format!(
                        "it sets what --rate auto leaves the production app, and the rate is fixed at {rate}/s; give --rate auto with it, or leave it out"
                    ),
                })
            }
            Some(Rate::PerSecond(n)) if !(n.is_finite() && n >= 0.0) => {
                return Err(UsageError::Value {
                    flag: "--leave-for-production",
                    reason: format!(
                        "{n} is not a rate; give calls per second (0 or more, e.g. 12) or auto"
                    ),
                })
            }
            Some(Rate::PerSecond(n)) => Some(n),
            Some(Rate::Auto) | None => None,
        };
        check_range(rate, MIN_RATE, 100_000.0, "--rate", DEFAULT_RATE)?;
        let burst = NonZeroU32::new(args.burst.unwrap_or_else(|| default_burst(rate))).ok_or(
            UsageError::Value {
                flag: "--burst",
                reason: "must be at least 1".into(),
            },
        )?;
        let concurrency = args.concurrency.unwrap_or(DEFAULT_CONCURRENCY);
        if !(1..=4096).contains(&concurrency) {
            return Err(UsageError::Value {
                flag: "--concurrency",
                reason: format!("{concurrency} is out of range; give 1 to 4096"),
            });
        }
        let read_rate = args.read_rate.unwrap_or(DEFAULT_READ_RATE);
        check_range(
            read_rate,
            MIN_RATE,
            100_000.0,
            "--read-rate",
            DEFAULT_READ_RATE,
        )?;
        Ok(Pace {
            rate,
            rate_auto: rate_auto.then_some(AutoAsk {
                share: args.quota_share,
                leave,
            }),
            burst,
            burst_given: args.burst.is_some(),
            adaptive: !args.no_adaptive && args.adaptive.unwrap_or(true),
            concurrency,
            read_rate,
            list_rate,
            sign_out_rate,
            auto: None,
        })
    }
}

/// Checks that a number flag lies in `min..=max`; the message names both
/// bounds and an example (the default).
fn check_range(
    value: f64,
    min: f64,
    max: f64,
    flag: &'static str,
    example: f64,
) -> Result<(), UsageError> {
    if value.is_finite() && value >= min && value <= max {
        return Ok(());
    }
    Err(UsageError::Value {
        flag,
        reason: format!("{value} is out of range; give {min} to {max}, e.g. {flag} {example}"),
    })
}

fn parse_metadata(pairs: &[String]) -> Result<HashMap<String, String>, UsageError> {
    pairs
        .iter()
        .map(|pair| match pair.split_once('=') {
            Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
            _ => Err(UsageError::Value {
                flag: "--client-metadata",
                reason: format!("expected KEY=VALUE, got '{pair}'"),
            }),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every flag an action's facts name is one the check can see given,
    /// so a flag added to an action's `flags` and not here cannot pass
    /// unchecked; and each is refused for an action it does not apply to.
    #[test]
    fn every_action_flag_is_checked() {
        let every = RunArgs {
            client_metadata: vec!["a=b".into()],
            sign_out: Some(true),
            disable: Some(true),
            precheck: Some(true),
            permanent: Some(true),
            include_federated: Some(true),
            generate_passwords: Some(true),
            ..RunArgs::default()
        };
        let seen = action_flags(&every);
        for action in crate::action::ALL {
            for flag in action.facts().flags {
                assert!(seen.contains(flag), "{flag} ({action:?}) is not checked");
            }
        }
        assert_eq!(
            seen.len(),
            crate::action::ALL
                .iter()
                .flat_map(|a| a.facts().flags)
                .collect::<std::collections::BTreeSet<_>>()
                .len(),
            "a checked flag no action takes"
        );
    }
}
