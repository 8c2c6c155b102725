//! The live counters of a run, shared by the pipeline, the ledger writer
//! and the progress display. The outcome counters move only in the ledger
//! writer's durable callback ([`Counters::on_durable`]).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;

use crate::ledger::{Detail, Entry, Outcome, Step};

use super::SHOWN;

/// Live counts of a run, shared by the pipeline, the ledger writer and the
/// progress display.
#[derive(Debug, Default)]
pub struct Counters {
    pub succeeded: AtomicU64,
    pub failed: AtomicU64,
    pub invalid: AtomicU64,
    /// Users the ledger already had a final outcome for.
    pub skipped_done: AtomicU64,
    /// Of those, how many had failed (or rows already recorded invalid).
    pub skipped_unsuccessful: AtomicU64,
    /// Repeated usernames in the input, processed once.
    pub duplicates: AtomicU64,
    /// Calls sent, retries included.
    pub calls: AtomicU64,
    pub throttled: AtomicU64,
    pub retries: AtomicU64,
    /// Users recorded `deferred` (a limit that may clear later).
    pub deferred: AtomicU64,
    /// Successes established by reading the user back after a lost answer.
    pub reconciled: AtomicU64,
    /// AdminGetUser reads made to reconcile.
    pub reads: AtomicU64,
    /// Users `--precheck` skipped.
    pub skipped_precheck: AtomicU64,
    /// Federated users set-password skipped.
    pub skipped_federated: AtomicU64,
    /// Disable steps (`--disable`) that succeeded and failed.
    pub disabled: AtomicU64,
    pub disable_failed: AtomicU64,
    /// People on an exclusion list (`--exclude`), not called.
    pub excluded: AtomicU64,
    /// `--canary`: the wave was done and users were left past it.
    pub canary_more: std::sync::atomic::AtomicBool,
    /// Successes not called: the pool's listing showed the user in the
    /// action's state already (disable, enable).
    pub already: AtomicU64,
    /// Rows not called because whom they name could not be told.
    pub ambiguous: AtomicU64,
    /// Sign-out steps (`--sign-out`) that succeeded and failed.
    pub signed_out: AtomicU64,
    pub sign_out_failed: AtomicU64,
    /// Users whose action an earlier run did, that this run only signed
    /// out (or tried to): their sign-out record is their row's record.
    pub sign_out_only: AtomicU64,
    /// Users whose call's result stayed unknown (reconciling failed); the
    /// next run reconciles them before any call.
    pub unresolved: AtomicU64,
    failed_codes: Mutex<BTreeMap<String, u64>>,
    /// The first rows that named a person an earlier row named: (line,
    /// the earlier line).
    pub(super) same_person: Mutex<Vec<(u64, u64)>>,
    /// The first rows left unresolved: (line, why).
    pub(super) ambiguous_rows: Mutex<Vec<(u64, String)>>,
}

impl Counters {
    /// Counts an entry that has just become durable.
    pub fn on_durable(&self, entry: &Entry) {
        let Entry::User(record) = entry else {
            return;
        };
        if let Some(step) = record.step {
            let (done, failed) = match step {
                Step::SignOut => (&self.signed_out, &self.sign_out_failed),
                Step::Disable => (&self.disabled, &self.disable_failed),
            };
            match record.outcome {
                Outcome::Succeeded => done.fetch_add(1, Relaxed),
                _ => failed.fetch_add(1, Relaxed),
            };
            return;
        }
        match record.outcome {
            Outcome::Succeeded => {
                self.succeeded.fetch_add(1, Relaxed);
                match record.detail.as_deref() {
                    None => {}
                    Some(d)
                        if d == Detail::AlreadyDisabled.as_str()
                            || d == Detail::AlreadyEnabled.as_str() =>
                    {
                        self.already.fetch_add(1, Relaxed);
                    }
                    Some(_) => {
                        self.reconciled.fetch_add(1, Relaxed);
                    }
                }
            }
            Outcome::Deferred => {
                self.deferred.fetch_add(1, Relaxed);
            }
            Outcome::Skipped => {
                if record.detail.as_deref() == Some(Detail::Federated.as_str()) {
                    self.skipped_federated.fetch_add(1, Relaxed);
                } else {
                    self.skipped_precheck.fetch_add(1, Relaxed);
                }
            }
            Outcome::Invalid => {
                self.invalid.fetch_add(1, Relaxed);
            }
            Outcome::Excluded => {
                self.excluded.fetch_add(1, Relaxed);
            }
            Outcome::Failed => {
                self.failed.fetch_add(1, Relaxed);
                let code = record.code.clone().unwrap_or_else(|| "Unknown".into());
                *self
                    .failed_codes
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .entry(code)
                    .or_default() += 1;
            }
        }
    }

    /// Rows dealt with so far: recorded, skipped or duplicate.
    pub fn processed(&self) -> u64 {
        self.dealt_with()
            + self.invalid.load(Relaxed)
            + self.skipped_done.load(Relaxed)
            + self.duplicates.load(Relaxed)
            + self.ambiguous.load(Relaxed)
            + self.excluded.load(Relaxed)
    }

    /// Users this run dealt with itself: called, or skipped by a rule
    /// (not rows the ledger had finished, duplicates or invalid rows, which
    /// pass at the speed of reading). The progress rate counts these.
    pub fn dealt_with(&self) -> u64 {
        self.succeeded.load(Relaxed)
            + self.failed.load(Relaxed)
            + self.deferred.load(Relaxed)
            + self.skipped_precheck.load(Relaxed)
            + self.skipped_federated.load(Relaxed)
            + self.sign_out_only.load(Relaxed)
    }

    /// Counts a row whom the pool's rules could not tell, and why.
    pub fn ambiguous_row(&self, line: u64, why: String) {
        self.ambiguous.fetch_add(1, Relaxed);
        let mut shown = self
            .ambiguous_rows
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if shown.len() < SHOWN {
            shown.push((line, why));
        }
    }

    /// Counts a row naming the person line `first` named.
    pub fn same_person(&self, line: u64, first: u64) {
        self.duplicates.fetch_add(1, Relaxed);
        let mut shown = self.same_person.lock().unwrap_or_else(|e| e.into_inner());
        if shown.len() < SHOWN {
            shown.push((line, first));
        }
    }

    pub fn failed_codes(&self) -> BTreeMap<String, u64> {
        self.failed_codes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}
