//! README.md's examples, run as pasted against a real server on the default configuration: the
//! operator workflow and the marketer registration blocks, through `sh` with the built `dnsbl`
//! first on PATH. Only the address of the API (port 0 here) is set from outside, through
//! `DNSBL_SERVER` as a user would.

use std::path::Path;
use std::process::Command;

use crate::harness::*;

/// The ```sh blocks under the README heading `heading`, in order.
fn blocks(heading: &str) -> Vec<String> {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).expect("README");
    let start = readme.find(&format!("\n## {heading}\n")).unwrap_or_else(|| panic!("README has ## {heading}"));
    let section = &readme[start + 1..];
    let section = &section[..section[3..].find("\n## ").map_or(section.len(), |i| i + 3)];
    section.split("```sh\n").skip(1).filter_map(|b| b.split_once("\n```").map(|(code, _)| code.to_string())).collect()
}

/// Runs `script` with `sh -e` in `dir`: `dnsbl` is the binary under test, HOME is `dir`.
fn sh(script: &str, dir: &Path, api: &str) -> String {
    let bin = Path::new(env!("CARGO_BIN_EXE_dnsbl")).parent().expect("bin dir");
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
    let out = Command::new("sh")
        .args(["-e", "-c", script])
        .current_dir(dir)
        .env("PATH", path)
        .env("HOME", dir)
        .env("DNSBL_SERVER", api)
        .env_remove("DNSBL_TOKEN_FILE")
        .env_remove("DNSBL_CONFIG")
        .output()
        .expect("run sh");
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "README example failed:\n{script}\n--- stdout\n{stdout}\n--- stderr\n{stderr}");
    stdout.into_owned()
}

#[test]
fn operator_workflow_runs_as_pasted() {
    let (dir, data) = temp_data();
    let s = TestServer::in_dir(&data);
    let (api, _) = s.api(&data);
    let [block] = blocks("Operator workflow").try_into().expect("one sh block");
    // The server is already running (on port 0): leave out the line that starts one.
    let script: Vec<&str> = block.lines().filter(|l| !l.starts_with("dnsbl serve")).collect();
    assert!(script.len() >= 4, "{block}");
    let out = sh(&script.join("\n"), dir.path(), &api);
    assert!(out.contains("decided by exclusion 203.0.113.77/32"), "{out}");
    assert!(codes(&s, "9.113.0.203").is_empty(), "the last line removed the listing");
}

#[test]
fn marketer_registration_runs_as_pasted_on_the_default_configuration() {
    let (dir, data) = temp_data();
    let s = TestServer::in_dir(&data);
    let (api, _) = s.api(&data);
    let [operator, marketer] = blocks("Marketer registration").try_into().expect("two sh blocks");
    let out = sh(&operator, dir.path(), &api);
    let token = out.lines().find_map(|l| l.strip_prefix("token: ")).expect("the token is printed");
    std::fs::create_dir_all(dir.path().join(".config/dnsbl")).expect("dir");
    std::fs::write(dir.path().join(".config/dnsbl/token"), token).expect("token file");
    let out = sh(&marketer, dir.path(), &api);
    assert!(out.contains("registered 192.88.99.7/32"), "{out}");
    assert!(out.contains("unregistered 192.88.99.8/32"), "{out}");
    assert_eq!(codes(&s, "7.99.88.192"), ["127.0.0.2"], "declared: listed as a registered sender");
    assert!(codes(&s, "8.99.88.192").is_empty(), "withdrawn");
    assert!(codes(&s, "9.99.88.192").is_empty(), "inside the network, not declared");
}

#[test]
fn keyed_access_example_runs_as_pasted_on_the_default_configuration() {
    let (dir, data) = temp_data();
    let s = TestServer::in_dir(&data);
    let (api, _) = s.api(&data);
    let [block] = blocks("Keyed access and registered resolvers").try_into().expect("one sh block");
    let out = sh(&block, dir.path(), &api);
    let key = out.lines().find_map(|l| l.strip_prefix("key: ")).expect("the key is printed");
    assert_eq!(key.len(), 26, "{out}");
    assert!(out.contains("DISABLED"), "{out}");
    assert!(out.contains("registered resolver 192.0.2.53/32 (ISP A resolvers)"), "{out}");
    assert!(out.contains("everyone is answered"), "{out}");
    assert!(out.contains("disable-key") && out.contains("add-resolver"), "{out}");
}
