//! The confirmation mail of a removal request, handed to a sendmail-compatible command
//! (`[web] sendmail`, e.g. Postfix's `/usr/sbin/sendmail -t -i`): the message on its standard
//! input, the recipient in its `To:` header. The command gets `[web] sendmail-timeout`; one that
//! fails, cannot start or takes longer is killed and reported, and the request stays filed.

use std::process::Stdio;
use std::time::Duration;

use tokio::io::AsyncWriteExt;

use crate::config::WebConfig;
use crate::delisting::RemovalRequest;

/// The message asking `request`'s contact to confirm, with the link carrying `key`.
pub fn confirmation(config: &WebConfig, request: &RemovalRequest, key: &str) -> String {
    let link = format!("{}/requests/{}?key={key}", config.public_url, request.id);
    // The contact was checked (printable ASCII, no spaces, quotes or brackets): it cannot break
    // out of its header.
    format!(
        "From: {from}\r\nTo: {to}\r\nSubject: Confirm removal request {id} for {prefix}\r\nAuto-Submitted: auto-generated\r\n\
         MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n\
         Someone, perhaps you, asked for {prefix} to be removed from the list and gave this address.\r\n\r\n\
         To confirm the request, open this link and press \"Confirm\":\r\n\r\n{link}\r\n\r\n\
         The same link shows where the request stands. If you did not ask for this, ignore this message;\r\n\
         nothing happens without the confirmation.\r\n",
        from = config.mail_from,
        to = request.contact,
        id = request.id,
        prefix = request.prefix,
    )
}

/// Runs the mail command with `message` on its standard input.
pub async fn send(config: &WebConfig, message: String) -> Result<(), String> {
    let (program, args) = config.sendmail.split_first().ok_or("no mail command is configured")?;
    let mut child = tokio::process::Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot run {program}: {e}"))?;
    let limit = Duration::from_secs(config.sendmail_timeout_secs);
    let run = async {
        // A command that exits without reading says more by its status than the broken pipe.
        let mut written = Ok(());
        if let Some(mut stdin) = child.stdin.take() {
            written = stdin.write_all(message.as_bytes()).await.map_err(|e| format!("{program}: {e}"));
        }
        let out = child.wait_with_output().await.map_err(|e| format!("{program}: {e}"))?;
        if out.status.success() {
            return written;
        }
        let said = String::from_utf8_lossy(&out.stderr);
        let said: String = said.lines().next().unwrap_or("").chars().take(200).collect();
        Err(format!(
            "{program} exited with {}{}",
            out.status,
            if said.is_empty() { String::new() } else { format!(": {said}") }
        ))
    };
    match tokio::time::timeout(limit, run).await {
        Ok(done) => done,
        // Dropping the child kills it (kill_on_drop).
        Err(_) => Err(format!("{program} did not finish within {} s", limit.as_secs())),
    }
}
