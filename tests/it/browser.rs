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
use hyper_util::client::legacy::connect::HttpConnector;

use crate::harness::*;

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
    let driver = driver();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    runtime.block_on(async {
        let c = browser(&driver).await;
        let result = async {
            // The link a rejection message carries, on this test's listener.
            c.goto(&format!("{web}/lookup?ip=45.67.8.9")).await?;
            let heading = c.find(Locator::Css("section.zone h2")).await?.text().await?;
            assert_eq!(heading, "45.67.8.9 in bl.localhost: listed");
            let entry = c.find(Locator::Css("section.zone .entry")).await?.text().await?;
            assert!(entry.contains("operator listing 45.67.8.0/24"), "{entry}");
            assert!(entry.contains("Email marketing seen from this network"), "{entry}");
            assert!(entry.contains("ask for its removal at hostmaster@bl.localhost"), "{entry}");
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
            let heading = c.wait().for_element(Locator::Css("section.zone h2")).await?.text().await?;
            assert_eq!(heading, "45.67.9.1 in bl.localhost: not listed");
            assert!(c.current_url().await?.as_str().ends_with("/lookup?ip=45.67.9.1"));
            // Not an address: the page says so, in the page.
            let field = c.find(Locator::Id("ip")).await?;
            field.clear().await?;
            field.send_keys("<b>not an address</b>").await?;
            c.find(Locator::Css("form button[type=submit]")).await?.click().await?;
            let alert = c.wait().for_element(Locator::Css("[role=alert]")).await?.text().await?;
            assert_eq!(alert, "\"<b>not an address</b>\" is not an IP address");
            assert!(c.find_all(Locator::Css("main b")).await?.is_empty(), "markup typed in stays text");
            Ok::<(), fantoccini::error::CmdError>(())
        }
        .await;
        let _ = c.close().await;
        result.expect("browser session");
    });
}
