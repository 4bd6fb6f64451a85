//! [`Writer`]: the handle on the one [`Publisher`], as [`SharedSnapshot`](crate::snapshot::SharedSnapshot)
//! is the handle on what it publishes. The API's handlers and the expiry timer run their changes
//! through it, one at a time, off the async workers.

use std::sync::{Arc, Mutex};

use super::Publisher;

/// Why a change could not be run at all (nothing was written).
#[derive(Debug, thiserror::Error)]
pub enum WriterError {
    /// An earlier change panicked while it held the writer; the server needs a restart.
    #[error("the writer stopped after an earlier failure; restart the server")]
    Poisoned,
    /// The blocking thread that ran the change ended without an answer.
    #[error("the change did not finish: {0}")]
    Lost(String),
}

/// The single writer, shared. Cloning shares the same publisher.
#[derive(Clone, Debug)]
pub struct Writer(Arc<Mutex<Publisher>>);

impl Writer {
    pub fn new(publisher: Publisher) -> Writer {
        Writer(Arc::new(Mutex::new(publisher)))
    }

    /// Runs `change` on the publisher on a blocking thread, once no other change runs.
    pub async fn run<T, E>(&self, change: impl FnOnce(&mut Publisher) -> Result<T, E> + Send + 'static) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<WriterError> + Send + 'static,
    {
        let writer = self.clone();
        match tokio::task::spawn_blocking(move || writer.run_blocking(change)).await {
            Ok(result) => result,
            Err(e) => Err(WriterError::Lost(e.to_string()).into()),
        }
    }

    /// Runs `change` on the publisher on this thread, once no other change runs (for callers
    /// that may block: tests, start-up).
    pub fn run_blocking<T, E: From<WriterError>>(
        &self,
        change: impl FnOnce(&mut Publisher) -> Result<T, E>,
    ) -> Result<T, E> {
        let mut publisher = self.0.lock().map_err(|_| WriterError::Poisoned)?;
        change(&mut publisher)
    }
}
