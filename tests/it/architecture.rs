//! The architecture map in `src/lib.rs`, checked against the code: every `crate::` and `super::`
//! path in `src/` is an import arrow between files; arrows run only downward through the layers,
//! never in a circle, and each outside crate is used only by the module that owns it.
//!
//! A folder's `mod.rs` is its table of contents: it may name its own files, and they may use
//! what it declares. Test modules (`#[cfg(test)]` to the end of a file) are left out.
//!
//! The checker is a function of the sources, so the tests below also feed it deliberate
//! violations and see each one reported.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The layers, lowest first. A module may import its own layer or those below.
const LAYERS: &[(&str, &[&str])] = &[
    (
        "pure core",
        &[
            "model",
            "name",
            "trie",
            "zonefile",
            "zoneform",
            "registry",
            "config",
            "access",
            "rrl",
            "cookie",
            "evidence",
            "delisting",
            "snapshot",
            "query",
            "served",
            "replica",
            "tsig",
        ],
    ),
    ("one system", &["clock", "store", "dns"]),
    ("orchestration", &["publisher", "importer", "exporter", "secondary"]),
    ("front", &["api", "web"]),
    ("process", &["daemon"]),
    ("entry", &["cli", "main"]),
];

/// Outside crates and the modules that may use them (a module path, or a prefix of one).
const OWNERS: &[(&str, &[&str])] = &[
    ("hickory_proto", &["dns::full"]),
    ("rocksdb", &["store"]),
    ("axum", &["api", "web"]),
    ("askama", &["web::view"]),
    ("hyper", &["api::tls"]),
    ("hyper_util", &["api::tls"]),
    ("tokio_rustls", &["api::tls"]),
    ("rustls", &["api::tls", "cli::client"]),
    ("rustls_pki_types", &["api::tls", "cli::client"]),
    ("clap", &["cli", "main"]),
    ("ureq", &["cli::client"]),
    ("arc_swap", &["snapshot"]),
    ("ahash", &["rrl"]),
    ("siphasher", &["cookie"]),
    ("mail_parser", &["evidence::arf"]),
    ("nix", &["dns::udp", "store"]),
    ("socket2", &["dns::listen"]),
    ("hmac", &["tsig"]),
];

/// Crates the pure core never uses: no runtime, no logging, nothing of the outer layers.
const NOT_IN_CORE: &[&str] = &["tokio", "tokio_util", "tracing", "hickory_proto", "rocksdb", "axum", "clap", "ureq"];

/// Files that must not use a crate their folder owns.
const KEPT_FREE: &[(&str, &str)] = &[("api::wire", "axum")];

type Module = Vec<String>;

fn name(m: &[String]) -> String {
    if m.is_empty() {
        "crate".into()
    } else {
        m.join("::")
    }
}

/// Every `src/` file as (module path, source without its tests and comments).
fn read_tree(root: &Path) -> BTreeMap<Module, String> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("read src") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.extension() != Some(std::ffi::OsStr::new("rs")) {
                continue;
            }
            let rel = path.strip_prefix(root).expect("under src").with_extension("");
            let mut module: Module = rel.iter().map(|s| s.to_string_lossy().into_owned()).collect();
            if module.last().is_some_and(|l| l == "mod" || l == "lib") {
                module.pop();
            }
            let text = std::fs::read_to_string(&path).expect("read source");
            out.insert(module, code_only(&text));
        }
    }
    out
}

/// The source up to its test module, without comment lines and trailing comments.
fn code_only(text: &str) -> String {
    text.lines()
        .take_while(|l| l.trim() != "#[cfg(test)]")
        .map(|l| l.split_once("//").map_or(l, |(code, _)| code))
        .filter(|l| !l.trim().is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}

/// The paths after every `crate::` and `super::` in `code`, braces expanded:
/// `crate::a::{b, c::{D}}` gives `crate::a::b` and `crate::a::c::D`.
fn paths(code: &str) -> Vec<String> {
    let mut out = Vec::new();
    for root in ["crate::", "super::"] {
        let mut rest = code;
        while let Some(i) = rest.find(root) {
            let before = rest[..i].chars().next_back();
            rest = &rest[i..];
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
                rest = &rest[root.len()..];
                continue;
            }
            let end = path_end(rest);
            expand(&rest[..end], &mut out);
            rest = &rest[end.max(1)..];
        }
    }
    out
}

/// Where the path at the start of `s` ends (identifiers, `::`, balanced braces).
fn path_end(s: &str) -> usize {
    let mut depth = 0usize;
    for (i, c) in s.char_indices() {
        let in_path = c.is_alphanumeric() || matches!(c, '_' | ':' | '*');
        match c {
            '{' => depth += 1,
            '}' if depth > 0 => depth -= 1,
            _ if depth > 0 || in_path => {}
            _ => return i,
        }
    }
    s.len()
}

fn expand(path: &str, out: &mut Vec<String>) {
    let Some(open) = path.find('{') else {
        out.push(path.trim_end_matches(':').to_string());
        return;
    };
    let head = &path[..open];
    let inner = &path[open + 1..path.rfind('}').unwrap_or(path.len())];
    let mut depth = 0usize;
    let mut start = 0;
    for (i, c) in inner.char_indices().chain([(inner.len(), ',')]) {
        match c {
            '{' => depth += 1,
            '}' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                let item = inner[start..i].trim();
                let item = item.split(" as ").next().unwrap_or(item).trim();
                if !item.is_empty() {
                    expand(&format!("{head}{item}"), out);
                }
                start = i + 1;
            }
            _ => {}
        }
    }
}

/// The file a path from `from` lands in: the longest module prefix that is a file of the tree.
fn resolve(path: &str, from: &[String], tree: &BTreeMap<Module, String>) -> Option<Module> {
    let (base, rest): (Module, &str) = if let Some(r) = path.strip_prefix("crate::") {
        (Vec::new(), r)
    } else if let Some(r) = path.strip_prefix("super::") {
        (from[..from.len().saturating_sub(1)].to_vec(), r)
    } else {
        return None;
    };
    let mut module = base;
    let mut best = tree.contains_key(&module).then(|| module.clone());
    for seg in rest.split("::") {
        let seg = seg.trim();
        if seg == "self" {
            continue;
        }
        module.push(seg.to_string());
        if tree.contains_key(&module) {
            best = Some(module.clone());
        } else {
            break;
        }
    }
    best
}

fn is_within(inner: &[String], outer: &[String]) -> bool {
    inner.len() >= outer.len() && inner[..outer.len()] == *outer
}

fn layer_of(m: &[String]) -> Option<usize> {
    let top = m.first()?;
    LAYERS.iter().position(|(_, mods)| mods.contains(&top.as_str()))
}

/// The import arrows between files (a folder's own files are not arrows from its `mod.rs`).
fn arrows(tree: &BTreeMap<Module, String>) -> BTreeSet<(Module, Module)> {
    let mut out = BTreeSet::new();
    for (from, code) in tree {
        for p in paths(code) {
            if let Some(to) = resolve(&p, from, tree) {
                if &to != from && !is_within(&to, from) {
                    out.insert((from.clone(), to));
                }
            }
        }
    }
    out
}

/// Every broken rule, in words.
fn violations(tree: &BTreeMap<Module, String>) -> Vec<String> {
    let mut out = Vec::new();
    for (from, code) in tree {
        if from.is_empty() {
            continue;
        }
        let Some(layer) = layer_of(from) else {
            out.push(format!("{} is on no layer of the map", name(from)));
            continue;
        };
        let uses = |krate: &str| {
            let needle = format!("{krate}::");
            code.match_indices(&needle).any(|(i, _)| {
                !code[..i].chars().next_back().is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':')
            })
        };
        for (krate, owners) in OWNERS {
            let owned = owners.iter().any(|o| is_within(from, &o.split("::").map(String::from).collect::<Vec<_>>()));
            if uses(krate) && !owned {
                out.push(format!("{} uses {krate}, which only {} may use", name(from), owners.join(", ")));
            }
        }
        if layer == 0 {
            for krate in NOT_IN_CORE {
                if uses(krate) {
                    out.push(format!("{} is pure core but uses {krate}", name(from)));
                }
            }
        }
        for (file, krate) in KEPT_FREE {
            if name(from) == *file && uses(krate) {
                out.push(format!("{file} must not use {krate}"));
            }
        }
    }
    let arrows = arrows(tree);
    for (from, to) in &arrows {
        if let (Some(a), Some(b)) = (layer_of(from), layer_of(to)) {
            if b > a {
                out.push(format!("{} ({}) imports {} ({}): upward", name(from), LAYERS[a].0, name(to), LAYERS[b].0));
            }
        }
    }
    out.extend(circles(&arrows).into_iter().map(|c| format!("circle: {}", c.join(" -> "))));
    out
}

/// One circle per strongly connected group of files, as a path that returns to its start.
fn circles(arrows: &BTreeSet<(Module, Module)>) -> Vec<Vec<String>> {
    let mut next: BTreeMap<&Module, Vec<&Module>> = BTreeMap::new();
    for (a, b) in arrows {
        next.entry(a).or_default().push(b);
    }
    let mut reported: BTreeSet<&Module> = BTreeSet::new();
    let mut out = Vec::new();
    for start in next.keys() {
        if reported.contains(start) {
            continue;
        }
        // Breadth-first from `start`: the shortest way back to it, if there is one.
        let mut came_from: BTreeMap<&Module, &Module> = BTreeMap::new();
        let mut queue = std::collections::VecDeque::from([*start]);
        let mut back = None;
        while let Some(m) = queue.pop_front() {
            for &n in next.get(m).into_iter().flatten() {
                if n == *start {
                    back = Some(m);
                    break;
                }
                if !came_from.contains_key(n) {
                    came_from.insert(n, m);
                    queue.push_back(n);
                }
            }
            if back.is_some() {
                break;
            }
        }
        let Some(mut m) = back else { continue };
        let mut circle = vec![name(start)];
        let mut way = vec![m];
        while m != *start {
            m = came_from[m];
            if m != *start {
                way.push(m);
            }
        }
        way.reverse();
        reported.extend(way.iter().copied());
        reported.insert(start);
        circle.extend(way.iter().map(|m| name(m)));
        circle.push(name(start));
        out.push(circle);
    }
    out
}

fn tree() -> BTreeMap<Module, String> {
    read_tree(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"))
}

fn with_line(mut tree: BTreeMap<Module, String>, file: &str, line: &str) -> BTreeMap<Module, String> {
    let key: Module = file.split("::").map(String::from).collect();
    let code = tree.get_mut(&key).expect("file in the tree");
    code.push('\n');
    code.push_str(line);
    tree
}

#[test]
fn layers_run_one_way_without_circles_and_crates_have_their_owners() {
    let tree = tree();
    assert!(tree.len() > 40, "read the whole src/ tree ({} files)", tree.len());
    let broken = violations(&tree);
    assert!(broken.is_empty(), "the architecture map does not hold:\n{}", broken.join("\n"));
}

#[test]
fn the_arrows_it_reads_are_the_imports() {
    let tree = tree();
    let arrows = arrows(&tree);
    let has = |a: &str, b: &str| {
        let m = |s: &str| s.split("::").map(String::from).collect::<Module>();
        arrows.contains(&(m(a), m(b)))
    };
    assert!(has("dns::lean", "dns::request"), "a super:: path to a sibling file");
    assert!(has("exporter", "publisher::load"), "a crate:: path to a nested file");
    assert!(has("api::registry", "api::wire"), "a braced use list");
    assert!(has("daemon", "api::state") || has("daemon", "api"), "a re-export through a mod.rs");
    assert!(!arrows.iter().any(|(a, b)| a.is_empty() || is_within(b, a)), "mod.rs names its own files");
}

#[test]
fn an_upward_import_is_reported() {
    let broken = violations(&with_line(tree(), "model", "use crate::store::Store;"));
    assert!(broken.iter().any(|v| v.contains("model (pure core) imports store (one system): upward")), "{broken:?}");
}

#[test]
fn a_circle_is_reported() {
    // query already uses trie; trie using query closes a circle inside the pure core.
    let broken = violations(&with_line(tree(), "trie", "use crate::query::Lookup;"));
    assert!(
        broken.iter().any(|v| v.starts_with("circle: ") && v.contains("trie") && v.contains("query")),
        "{broken:?}"
    );
    let broken = violations(&with_line(tree(), "dns::request", "use super::lean::Question;"));
    assert!(broken.iter().any(|v| v.starts_with("circle: ") && v.contains("dns::lean")), "{broken:?}");
}

#[test]
fn a_crate_outside_its_owner_is_reported() {
    let broken = violations(&with_line(tree(), "api::listings", "fn f(_: &rocksdb::DB) {}"));
    assert!(broken.iter().any(|v| v == "api::listings uses rocksdb, which only store may use"), "{broken:?}");
    let broken = violations(&with_line(tree(), "query", "fn f() { tracing::info!(\"x\"); }"));
    assert!(broken.iter().any(|v| v == "query is pure core but uses tracing"), "{broken:?}");
    let broken = violations(&with_line(tree(), "api::wire", "use axum::Json;"));
    assert!(broken.iter().any(|v| v == "api::wire must not use axum"), "{broken:?}");
}
