//! The public pages in a real browser: headless Chromium driven through WebDriver
//! (chromium-driver, installed by `make`) against the real server. A mail admin follows the link
//! of a TXT answer, reads what lists the address, and uses the lookup form for another one.
//!
//! The screenshot of the lookup page in README (`docs/lookup-page.png`) comes from this test:
//! `DNSBL_SCREENSHOT=docs/lookup-page.png cargo test --test it browser` writes it.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use dnsbl::model::{Listing, ListingCode};
use dnsbl::publisher::Change;
use fantoccini::{Client, ClientBuilder, Locator};
use hickory_proto::rr::RecordType;
use hyper_util::client::legacy::connect::HttpConnector;

use crate::harness::*;
use crate::removal::{capture_to, link_in, list_network, mails};

/// chromedriver on a free loopback port, stopped when dropped.
struct Driver {
    child: Child,
    url: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn driver() -> Driver {
    let port = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port();
    let child = Command::new("chromedriver")
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start chromedriver ({e}); `make test` installs chromium-driver"));
    let driver = Driver { child, url: format!("http://127.0.0.1:{port}") };
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "chromedriver did not listen on {port}");
        std::thread::sleep(Duration::from_millis(50));
    }
    driver
}

/// Runs `steps` in a fresh headless Chromium session, closed afterwards also when a step fails.
fn in_chromium(steps: impl AsyncFnOnce(&Client) -> Result<(), fantoccini::error::CmdError>) {
    let driver = driver();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    runtime.block_on(async {
        let c = browser(&driver).await;
        let result = steps(&c).await;
        let _ = c.close().await;
        result.expect("browser session");
    });
}

async fn browser(driver: &Driver) -> Client {
    let mut caps = serde_json::Map::new();
    let args = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=900,1100"];
    caps.insert("goog:chromeOptions".into(), serde_json::json!({ "args": args }));
    ClientBuilder::new(HttpConnector::new())
        .capabilities(caps)
        .connect(&driver.url)
        .await
        .unwrap_or_else(|e| panic!("cannot open a Chromium session: {e}"))
}

/// Waits (at most 10 s) until the element `at` says `expected`: after a click the old page may
/// still be there for a moment.
async fn text_becomes(c: &Client, at: Locator<'_>, expected: &str) -> Result<(), fantoccini::error::CmdError> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let now = match c.find(at).await {
            Ok(e) => e.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        };
        if now == expected {
            return Ok(());
        }
        assert!(Instant::now() < deadline, "still {now:?}, not {expected:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[test]
fn a_mail_admin_follows_the_txt_link_and_looks_up_another_address() {
    let (_dir, data) = temp_data();
    let s = TestServer::in_dir(&data);
    let web = s.web();
    let listing = Listing::new(
        vec![ListingCode::OPERATOR],
        Some("Email marketing seen from this network, see http://bl.localhost:8080/lookup?ip=$".into()),
    )
    .expect("listing");
    s.apply(
        "bl.localhost",
        Change::AddListing { prefix: "45.67.8.0/24".parse().expect("p"), listing, expires_at: None },
    )
    .expect("list");
    in_chromium(async |c: &Client| {
        // The link a rejection message carries, on this test's listener.
        c.goto(&format!("{web}/lookup?ip=45.67.8.9")).await?;
        let heading = c.find(Locator::Css("section.zone h2")).await?.text().await?;
        assert_eq!(heading, "45.67.8.9 in bl.localhost: listed");
        let entry = c.find(Locator::Css("section.zone .entry")).await?.text().await?;
        assert!(entry.contains("operator listing 45.67.8.0/24"), "{entry}");
        assert!(entry.contains("Email marketing seen from this network"), "{entry}");
        assert!(entry.contains("request its removal below"), "{entry}");
        let codes = c.find(Locator::Css("ul.codes")).await?.text().await?;
        assert!(codes.contains("127.0.0.3 — IP or range listed by the operator"), "{codes}");
        if let Ok(path) = std::env::var("DNSBL_SCREENSHOT") {
            let png = c.screenshot().await?;
            std::fs::write(&path, png).unwrap_or_else(|e| panic!("{path}: {e}"));
        }
        // The form, as a person uses it: the label names the field; type, submit.
        let label = c.find(Locator::Css("label[for=ip]")).await?.text().await?;
        assert_eq!(label, "IPv4 or IPv6 address");
        let field = c.find(Locator::Id("ip")).await?;
        field.clear().await?;
        field.send_keys("45.67.9.1").await?;
        c.find(Locator::Css("form button[type=submit]")).await?.click().await?;
        text_becomes(c, Locator::Css("section.zone h2"), "45.67.9.1 in bl.localhost: not listed").await?;
        assert!(c.current_url().await?.as_str().ends_with("/lookup?ip=45.67.9.1"));
        // Not an address: the page says so, in the page.
        let field = c.find(Locator::Id("ip")).await?;
        field.clear().await?;
        field.send_keys("<b>not an address</b>").await?;
        c.find(Locator::Css("form button[type=submit]")).await?.click().await?;
        let alert = c.wait().for_element(Locator::Css("[role=alert]")).await?.text().await?;
        assert_eq!(alert, "\"<b>not an address</b>\" is not an IP address");
        assert!(c.find_all(Locator::Css("main b")).await?.is_empty(), "markup typed in stays text");
        Ok(())
    });
}

#[test]
fn someone_listed_asks_for_removal_confirms_by_mail_and_sees_the_operator_approve_it() {
    let (dir, data) = temp_data();
    let mail_dir = dir.path().join("mail");
    std::fs::create_dir_all(&mail_dir).expect("mail dir");
    let mut config = test_config(&data);
    // A sendmail stand-in that keeps the messages; every request waits for the operator.
    config.web.sendmail = capture_to(&mail_dir);
    config.web.auto_approve = 0;
    let s = TestServer::start(config);
    let web = s.web();
    list_network(&s);
    let approve = || {
        let (api, _) = s.api(&data);
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_dnsbl"))
            .args(["delisting", "approve", "1", "--server", &api, "--token-file"])
            .arg(data.join("operator.token"))
            .output()
            .expect("run dnsbl");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    in_chromium(async |c: &Client| {
        c.goto(&format!("{web}/lookup?ip=45.67.8.9")).await?;
        let form = c.find(Locator::Css("form.removal")).await?;
        assert_eq!(form.find(Locator::Css("label[for=contact]")).await?.text().await?, "Your email address");
        assert_eq!(c.find(Locator::Id("prefix")).await?.prop("value").await?.as_deref(), Some("45.67.8.9"));
        c.find(Locator::Id("contact")).await?.send_keys("owner@shop.example").await?;
        c.find(Locator::Id("statement")).await?.click().await?;
        c.find(Locator::Id("text")).await?.send_keys("Our shop's mail server; we send receipts only.").await?;
        form.find(Locator::Css("button[type=submit]")).await?.click().await?;
        let notice = c.wait().for_element(Locator::Css("[role=status]")).await?.text().await?;
        assert!(notice.contains("We sent a link to owner@shop.example"), "{notice}");

        // The link from the mail; the button confirms.
        let path = link_in(&mails(&mail_dir)[0]);
        c.goto(&format!("{web}{path}")).await?;
        assert_eq!(c.find(Locator::Id("state")).await?.text().await?, "unconfirmed");
        c.find(Locator::Css("form button[type=submit]")).await?.click().await?;
        text_becomes(c, Locator::Id("state"), "confirmed").await?;
        assert_eq!(a_records(&ask(s.addr, "9.8.67.45.bl.localhost", RecordType::A)), ["127.0.0.3"]);

        // The operator approves it with the CLI: the status page, the lookup and DNS change.
        let said = approve();
        assert!(said.contains("request 1: approved 45.67.8.9/32"), "{said}");
        c.goto(&format!("{web}{path}")).await?;
        assert_eq!(c.find(Locator::Id("state")).await?.text().await?, "approved");
        let status = c.find(Locator::Id("status")).await?.text().await?;
        assert_eq!(status, "Approved: 45.67.8.9/32 is removed from the operator's listings.");
        c.goto(&format!("{web}/lookup?ip=45.67.8.9")).await?;
        let heading = c.find(Locator::Css("section.zone h2")).await?.text().await?;
        assert_eq!(heading, "45.67.8.9 in bl.localhost: not listed");
        assert!(c.find_all(Locator::Css("form.removal")).await?.is_empty(), "nothing left to request");
        Ok(())
    });
    assert!(a_records(&ask(s.addr, "9.8.67.45.bl.localhost", RecordType::A)).is_empty(), "NXDOMAIN");
}
