//! Criterion benchmarks of the tool's own hot paths, per user:
//!
//! - `csv`: streaming and validating a 100,000-row user list;
//! - `ledger/serialize`: turning an outcome record into its JSON line;
//! - `ledger/append`: durable appends through the group-commit writer (64
//!   in flight, as with `--concurrency 64`), fsync included: this one is
//!   bound by the disk;
//! - `ledger/replay`: reading back a 100,000-user ledger (an intent and an
//!   outcome each) into the done set;
//! - `identity/index_build`: adding 100,000 listed users (an email-as-username
//!   pool: UUID usernames) to a pool index;
//! - `identity/lookup`: resolving 100,000 emails through that index to their
//!   canonical usernames (the per-row cost of resolution).
//!
//! `cargo bench --bench hot`; throughput is in users (elements) per second.

use std::io::Cursor;
use std::path::Path;

use cognito_bulk_reset::identity::{self, Case, ListedUser, NameKind, NameRule};
use cognito_bulk_reset::ledger::{
    self, writer::FileSink, Action, Entry, Header, IntentRecord, LedgerWriter, Outcome, UserRecord,
};
use cognito_bulk_reset::resolve::index::{Hit, PoolIndex};
use cognito_bulk_reset::source::csv::{CsvOptions, CsvSource};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};

const USERS: usize = 100_000;

fn header() -> Header {
    Header {
        tool_version: "bench".into(),
        pool_id: "us-east-1_SimPool01".into(),
        action: Action::Reset,
        region: "us-east-1".into(),
        input: "users.csv".into(),
        started_at: ledger::now(),
        pid: 1,
        host: "bench".into(),
        rate: Some(20.0),
        input_rows: Some(USERS as u64),
        resolves: true,
        sign_out: false,
        disable: false,
        input_version: None,
        run_id: String::new(),
    }
}

fn outcome(i: usize) -> UserRecord {
    UserRecord {
        username: format!("user-{i:06}"),
        user: None,
        outcome: Outcome::Succeeded,
        step: None,
        line: Some(i as u64 + 2),
        code: None,
        message: None,
        detail: None,
        attempts: 1,
        throttled: 0,
        request_id: Some("0000a1b2-5151-4000-8000-00000001e240".into()),
        at: "2026-11-24T03:12:45.912Z".into(),
    }
}

fn csv(c: &mut Criterion) {
    let mut text = String::from("username,email\n");
    for i in 0..USERS {
        text.push_str(&format!("user-{i:06},user-{i:06}@example.com\n"));
    }
    let opts = CsvOptions {
        input_name: "users.csv".into(),
        header: true,
        username_column: "username".into(),
        password_column: None,
        regular_file: true,
        header_check: true,
        delimiter: b',',
    };
    let mut g = c.benchmark_group("csv");
    g.throughput(Throughput::Elements(USERS as u64));
    g.bench_function("parse_and_validate_100k", |b| {
        b.iter(|| {
            let source = CsvSource::new(Cursor::new(text.as_bytes()), &opts).expect("header");
            let users = source.filter(|item| item.is_ok()).count();
            assert_eq!(users, USERS);
        })
    });
    g.finish();
}

fn ledger(c: &mut Criterion) {
    let mut g = c.benchmark_group("ledger");

    g.throughput(Throughput::Elements(1));
    let record = Entry::User(outcome(123_456));
    let mut line = Vec::with_capacity(512);
    g.bench_function("serialize_record", |b| {
        b.iter(|| {
            line.clear();
            serde_json::to_writer(&mut line, &record).expect("serialises");
            line.push(b'\n');
            line.len()
        })
    });

    // Durable appends, 64 in flight; each iteration is one record.
    const IN_FLIGHT: usize = 64;
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("append.jsonl");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .expect("ledger file");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let (writer, thread) = {
        let _guard = runtime.enter();
        LedgerWriter::open_sink(Box::new(FileSink(file)), &path, &header(), Box::new(|_| {}))
            .expect("writer")
    };
    g.throughput(Throughput::Elements(1));
    g.bench_function("append_durable_64_in_flight", |b| {
        b.iter_custom(|iters| {
            runtime.block_on(async {
                let start = std::time::Instant::now();
                let per_task = iters.div_ceil(IN_FLIGHT as u64) as usize;
                let tasks: Vec<_> = (0..IN_FLIGHT)
                    .map(|t| {
                        let w = writer.clone();
                        tokio::spawn(async move {
                            for i in 0..per_task {
                                w.record(outcome(t * per_task + i)).await.expect("append");
                            }
                        })
                    })
                    .collect();
                for t in tasks {
                    t.await.expect("join");
                }
                start
                    .elapsed()
                    .mul_f64(iters as f64 / (per_task * IN_FLIGHT) as f64)
            })
        })
    });
    drop(writer);
    let _ = thread.join();

    let mut text = Vec::new();
    serde_json::to_writer(&mut text, &Entry::Header(header())).expect("serialises");
    text.push(b'\n');
    for i in 0..USERS {
        let intent = Entry::Intent(IntentRecord {
            username: format!("user-{i:06}"),
            user: None,
            line: Some(i as u64 + 2),
            at: "2026-11-24T03:12:45.900Z".into(),
            before: None,
        });
        serde_json::to_writer(&mut text, &intent).expect("serialises");
        text.push(b'\n');
        serde_json::to_writer(&mut text, &Entry::User(outcome(i))).expect("serialises");
        text.push(b'\n');
    }
    g.throughput(Throughput::Elements(USERS as u64));
    g.bench_function("replay_100k_users", |b| {
        b.iter_batched(
            || Cursor::new(text.as_slice()),
            |reader| {
                let replay =
                    ledger::replay_reader(reader, Path::new("bench.jsonl")).expect("replays");
                assert_eq!(replay.users.len(), USERS);
            },
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

/// 100,000 users of an email-as-username pool, as ListUsers lists them.
fn listed_users() -> Vec<ListedUser> {
    (0..USERS)
        .map(|i| {
            let sub = identity::format_uuid(0x4000_8000_0000_0000_0000_0000_0000_0000 + i as u128);
            ListedUser {
                username: sub.clone(),
                sub: Some(sub),
                status: "CONFIRMED".into(),
                enabled: true,
                email: Some(format!("user-{i:06}@example.com")),
                email_verified: true,
                ..ListedUser::default()
            }
        })
        .collect()
}

fn rule() -> NameRule {
    NameRule {
        case: Case::Insensitive,
        username_attributes: vec![NameKind::Email],
        alias_attributes: vec![],
    }
}

fn identity(c: &mut Criterion) {
    let users = listed_users();
    let mut g = c.benchmark_group("identity");
    g.throughput(Throughput::Elements(USERS as u64));
    g.bench_function("index_build_100k", |b| {
        b.iter(|| {
            let mut index = PoolIndex::new(rule(), USERS);
            for u in &users {
                index.add(u);
            }
            index.users()
        })
    });
    let mut index = PoolIndex::new(rule(), USERS);
    for u in &users {
        index.add(u);
    }
    let emails: Vec<String> = (0..USERS)
        .map(|i| format!("User-{i:06}@Example.com"))
        .collect();
    g.bench_function("lookup_100k", |b| {
        b.iter(|| {
            let mut found = 0;
            for e in &emails {
                if let Hit::User { slot, .. } = index.lookup(e) {
                    found += usize::from(index.username(slot, e).is_some());
                }
            }
            assert_eq!(found, USERS);
        })
    });
    g.finish();
}

criterion_group!(benches, csv, ledger, identity);
criterion_main!(benches);
