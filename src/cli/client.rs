//! The CLI's side of the API: where the server is, the token, TLS trust, and errors that say
//! what to do. The only module that uses ureq.

use std::path::PathBuf;

use anyhow::{anyhow, bail, Context};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::api::wire::{ErrorBody, ZoneInfo};

use crate::config::operator_token_path;

/// How to reach the API (shared by the commands that talk to a running server).
#[derive(Debug, clap::Args)]
pub struct ClientArgs {
    /// The server's API address.
    #[arg(long, value_name = "URL", env = "DNSBL_SERVER", default_value = "http://127.0.0.1:8053")]
    server: String,
    /// File with the bearer token (default: operator.token in --data-dir).
    #[arg(long, value_name = "FILE", env = "DNSBL_TOKEN_FILE")]
    token_file: Option<PathBuf>,
    /// Data directory of a local server, where its operator token lives.
    #[arg(long, value_name = "DIR", default_value = "./data")]
    data_dir: PathBuf,
    /// PEM file of the certificate authority to trust for an https:// server (default: the
    /// public web PKI roots).
    #[arg(long, value_name = "FILE", env = "DNSBL_CA_FILE")]
    ca_file: Option<PathBuf>,
    /// Print the server's JSON answer instead of text.
    #[arg(long)]
    pub json: bool,
}

/// A connection to the API with its token.
#[derive(Debug)]
pub struct Client {
    base: String,
    token: String,
    token_source: PathBuf,
    agent: ureq::Agent,
}

impl ClientArgs {
    pub fn connect(&self) -> anyhow::Result<Client> {
        let path = self.token_file.clone().unwrap_or_else(|| operator_token_path(&self.data_dir));
        let agent = match &self.ca_file {
            Some(ca) => ureq::AgentBuilder::new().tls_config(trusting(ca)?).build(),
            None => ureq::Agent::new(),
        };
        Client::with_agent(&self.server, &path, agent)
    }
}

/// A TLS client configuration that trusts the certificates in the PEM file `ca`.
fn trusting(ca: &std::path::Path) -> anyhow::Result<std::sync::Arc<rustls::ClientConfig>> {
    use rustls_pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    let certs = rustls_pki_types::CertificateDer::pem_file_iter(ca)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .with_context(|| format!("cannot read CA certificates from {}", ca.display()))?;
    let (added, _) = roots.add_parsable_certificates(certs);
    if added == 0 {
        bail!("{} holds no usable CA certificate", ca.display());
    }
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("TLS set-up")?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(std::sync::Arc::new(config))
}

impl Client {
    /// A client for the API at `server`, with the token read from `token_path`.
    pub fn new(server: &str, token_path: &std::path::Path) -> anyhow::Result<Client> {
        Client::with_agent(server, token_path, ureq::Agent::new())
    }

    fn with_agent(server: &str, token_path: &std::path::Path, agent: ureq::Agent) -> anyhow::Result<Client> {
        let token = std::fs::read_to_string(token_path).with_context(|| {
            format!("cannot read the API token from {} (use --token-file or DNSBL_TOKEN_FILE)", token_path.display())
        })?;
        let base = server.trim_end_matches('/').to_string();
        let base = if base.contains("://") { base } else { format!("http://{base}") };
        Ok(Client { base, token: token.trim().to_string(), token_source: token_path.to_path_buf(), agent })
    }

    /// Sends a file as the request body (streamed).
    /// POSTs files as one `multipart/form-data` body, streamed: one part per `(name, file)`.
    pub fn post_files<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, &str)],
        parts: &[(String, std::path::PathBuf)],
    ) -> anyhow::Result<T> {
        use std::io::Read;
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        let boundary = format!("dnsbl-import-{nanos:x}-{:x}", std::process::id());
        let mut body: Box<dyn Read + Send> = Box::new(std::io::empty());
        for (name, file) in parts {
            let opened = std::fs::File::open(file).with_context(|| format!("cannot read {}", file.display()))?;
            let file_name = file.file_name().map_or_else(|| "upload".into(), |n| n.to_string_lossy().replace('"', "_"));
            let head = format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{file_name}\"\r\nContent-Type: text/plain\r\n\r\n"
            );
            body = Box::new(body.chain(std::io::Cursor::new(head)).chain(opened).chain(&b"\r\n"[..]));
        }
        body = Box::new(body.chain(std::io::Cursor::new(format!("--{boundary}--\r\n"))));
        let content_type = format!("multipart/form-data; boundary={boundary}");
        let req = with_query(self.request("POST", path).set("Content-Type", &content_type), query);
        self.finish(req.send(body))
    }

    /// POST `body` as it is, with `content_type`.
    pub fn post_bytes<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, &str)],
        content_type: &str,
        body: &[u8],
    ) -> anyhow::Result<T> {
        let req = with_query(self.request("POST", path).set("Content-Type", content_type), query);
        self.finish(req.send_bytes(body))
    }

    pub fn get<T: DeserializeOwned>(&self, path: &str) -> anyhow::Result<T> {
        self.get_query(path, &[])
    }

    pub fn get_query<T: DeserializeOwned>(&self, path: &str, query: &[(&str, &str)]) -> anyhow::Result<T> {
        self.finish(with_query(self.request("GET", path), query).call())
    }

    pub fn post<T: DeserializeOwned>(&self, path: &str, body: &impl Serialize) -> anyhow::Result<T> {
        self.finish(self.request("POST", path).send_json(body))
    }

    /// POST without a body.
    pub fn post_empty<T: DeserializeOwned>(&self, path: &str) -> anyhow::Result<T> {
        self.finish(self.request("POST", path).send_json(serde_json::json!({})))
    }

    /// DELETE with a JSON body.
    pub fn delete_json<T: DeserializeOwned>(&self, path: &str, body: &impl Serialize) -> anyhow::Result<T> {
        self.finish(self.request("DELETE", path).send_json(body))
    }

    pub fn delete<T: DeserializeOwned>(&self, path: &str, query: &[(&str, &str)]) -> anyhow::Result<T> {
        self.finish(with_query(self.request("DELETE", path), query).call())
    }

    /// The zone to change: the one given, or the only one the server serves.
    pub fn zone(&self, given: Option<&str>) -> anyhow::Result<String> {
        if let Some(z) = given {
            return Ok(z.to_string());
        }
        let zones: Vec<ZoneInfo> = self.get("/v1/zones")?;
        match zones.as_slice() {
            [one] => Ok(one.zone.clone()),
            _ => bail!(
                "the server serves several zones ({}); say which one with --zone",
                zones.iter().map(|z| z.zone.as_str()).collect::<Vec<_>>().join(", ")
            ),
        }
    }

    fn request(&self, method: &str, path: &str) -> ureq::Request {
        self.agent
            .request(method, &format!("{}{path}", self.base))
            .set("Authorization", &format!("Bearer {}", self.token))
    }

    fn finish<T: DeserializeOwned>(&self, result: Result<ureq::Response, ureq::Error>) -> anyhow::Result<T> {
        match result {
            Ok(resp) => resp.into_json().context("the server's answer is not what this dnsbl expects"),
            Err(ureq::Error::Status(401, _)) => Err(anyhow!(
                "the server refused the token from {} (401); is it this server's token?",
                self.token_source.display()
            )),
            Err(ureq::Error::Status(code, resp)) => {
                let msg = resp.into_json::<ErrorBody>().map_or_else(|_| "no reason given".to_string(), |b| b.error);
                Err(anyhow!("{msg} (HTTP {code})"))
            }
            Err(ureq::Error::Transport(t)) => {
                Err(anyhow!("cannot reach the server at {}: {t} — is `dnsbl serve` running?", self.base))
            }
        }
    }
}

fn with_query(mut req: ureq::Request, query: &[(&str, &str)]) -> ureq::Request {
    for (k, v) in query {
        req = req.query(k, v);
    }
    req
}

/// Prints an answer as the server's JSON (for `--json`).
pub fn print_json(answer: &impl Serialize) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string(answer)?);
    Ok(())
}
