//! The shape of the code: no two modules of `src/` depend on each other,
//! directly or through a chain. A module is a top-level file or folder of
//! `src/` (`main.rs` and `lib.rs` aside); it depends on another when its
//! code outside `#[cfg(test)]` names it (`crate::other`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Each module and the modules its non-test code names.
fn module_graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut files = vec![src.clone()];
    while let Some(path) = files.pop() {
        if path.is_dir() {
            files.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
            continue;
        }
        if path.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let rel = path.strip_prefix(&src).unwrap();
        let top = rel
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy()
            .trim_end_matches(".rs")
            .to_string();
        if top == "main" || top == "lib" {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let code = text.split("#[cfg(test)]").next().unwrap_or_default();
        let deps = graph.entry(top.clone()).or_default();
        for line in code.lines() {
            let line = line.split("//").next().unwrap_or_default();
            for (i, _) in line.match_indices("crate::") {
                let rest = &line[i + "crate::".len()..];
                let names: Vec<&str> = match rest.strip_prefix('{') {
                    Some(group) => group
                        .split([',', '}'])
                        .map(|n| n.trim().split("::").next().unwrap_or_default())
                        .collect(),
                    None => vec![rest
                        .split(|c: char| !(c.is_alphanumeric() || c == '_'))
                        .next()
                        .unwrap_or_default()],
                };
                for name in names {
                    if !name.is_empty() && name != top {
                        deps.insert(name.to_string());
                    }
                }
            }
        }
    }
    let known: BTreeSet<String> = graph.keys().cloned().collect();
    for deps in graph.values_mut() {
        deps.retain(|d| known.contains(d));
    }
    graph
}

/// A chain of modules leading from `from` back to itself, if any.
fn cycle_through(graph: &BTreeMap<String, BTreeSet<String>>, from: &str) -> Option<Vec<String>> {
    let mut stack = vec![(from.to_string(), vec![from.to_string()])];
    let mut seen = BTreeSet::new();
    while let Some((node, path)) = stack.pop() {
        for next in &graph[&node] {
            if next == from {
                let mut cycle = path.clone();
                cycle.push(from.to_string());
                return Some(cycle);
            }
            if seen.insert(next.clone()) {
                let mut p = path.clone();
                p.push(next.clone());
                stack.push((next.clone(), p));
            }
        }
    }
    None
}

/// No module of src/ depends on itself through others: every arrow points down.
#[test]
fn modules_form_no_cycle() {
    let graph = module_graph();
    assert!(graph.len() > 15, "the graph was read: {graph:?}");
    assert!(
        graph["pipeline"].contains("ledger"),
        "dependencies were read: {graph:?}"
    );
    let cycles: Vec<String> = graph
        .keys()
        .filter_map(|m| cycle_through(&graph, m))
        .map(|c| c.join(" -> "))
        .collect();
    assert!(cycles.is_empty(), "module cycles:\n{}", cycles.join("\n"));
}

/// The files of `src/` (relative paths) whose code names `needle`.
fn files_naming(needle: &str) -> BTreeSet<String> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = vec![src.clone()];
    let mut found = BTreeSet::new();
    while let Some(path) = files.pop() {
        if path.is_dir() {
            files.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
        } else if path.extension().is_some_and(|e| e == "rs") {
            let text = std::fs::read_to_string(&path).unwrap();
            let code = text.split("#[cfg(test)]").next().unwrap_or_default();
            if code
                .lines()
                .any(|l| !l.trim_start().starts_with("//") && l.contains(needle))
            {
                found.insert(path.strip_prefix(&src).unwrap().display().to_string());
            }
        }
    }
    found
}

fn set(files: &[&str]) -> BTreeSet<String> {
    files.iter().map(|f| f.to_string()).collect()
}

/// The simulated pool is a crate of its own: the tool's code reaches it
/// only from `drill` and the `sim` command (cli.rs), never from the run.
#[test]
fn only_the_drill_and_the_sim_command_reach_the_simulator() {
    assert_eq!(files_naming("cognito_sim"), set(&["cli.rs", "drill.rs"]));
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    assert!(
        !src.join("sim").exists(),
        "the simulator lives in sim/, its own crate"
    );
}

/// Each AWS SDK crate is known by one file (Cognito's behind
/// `cognito::PoolApi`, DynamoDB's in the ledger table), the SDK's shared
/// configuration by `aws.rs`; and flags are known only where they are
/// parsed: the ledger, the resolver and the reports know nothing of clap.
#[test]
fn the_sdk_and_clap_stay_at_the_edges() {
    assert_eq!(
        files_naming("aws_sdk_cognitoidentityprovider"),
        set(&["cognito/sdk.rs"])
    );
    assert_eq!(files_naming("aws_sdk_dynamodb"), set(&["ledger/table.rs"]));
    assert_eq!(files_naming("aws_sdk_s3"), set(&["source/s3.rs"]));
    assert_eq!(files_naming("aws_sdk_sts"), set(&["aws.rs"]));
    assert_eq!(files_naming("aws_sdk_cloudwatch"), set(&["usage.rs"]));
    let config: BTreeSet<String> = ["aws_config", "aws_credential_types", "aws_smithy"]
        .iter()
        .flat_map(|n| files_naming(n))
        .collect();
    assert_eq!(config, set(&["aws.rs"]));
    assert_eq!(
        files_naming("clap"),
        set(&["cli.rs", "drill.rs", "main.rs", "settings/args.rs"])
    );
}
