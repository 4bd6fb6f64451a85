//! The operator's administration endpoints:
//!
//! - `POST /v1/backups` — a consistent copy of the database under `<data-dir>/backups/`.
//! - `POST /v1/zones/{zone}/import?type=&default_code=&name=&dataset=` — an rbldnsd file as the
//!   body, streamed into the importer (memory stays bounded whatever the file's size): replaces
//!   one dataset of the zone (`operator` by default) in one atomic change and one publish.
//!   As `multipart/form-data`, one part per file: each part's name is the dataset it goes into,
//!   optionally with its rbldnsd type (`traps` or `traps:ip4set`; the query's `type` otherwise),
//!   and its file name names it in messages. Every dataset named is replaced in one switch; parts
//!   that name the same dataset are read as one list.

use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, Multipart, Path, Query, Request, State};
use axum::http::{header, StatusCode};
use axum::Json;
use futures_util::StreamExt;
use serde::Deserialize;
use tokio_util::io::{StreamReader, SyncIoBridge};

use super::error::{bad, change_error, internal, store_error, store_status, ApiError};
use super::listings::parse_zone;
use super::state::ApiState;
use super::wire::{BackupResponse, DatasetCount, ImportResponse, ZoneInfo};
use crate::clock::unix_now;
use crate::importer::{Import, ImportError, ImportOptions, Source};
use crate::model::ListingCode;
use crate::name::DatasetName;
use crate::zonefile::Dataset as ImportKind;

/// Largest rbldnsd file accepted by `POST .../import`.
pub const MAX_IMPORT_BYTES: u64 = 4 << 30;

/// How long an upload may send nothing before it is abandoned (the import holds the writer, so a
/// stalled client must not hold up live changes for longer).
const UPLOAD_IDLE: Duration = Duration::from_secs(30);

/// Writes a consistent copy of the whole database to `<data-dir>/backups/<UTC time>`; the server
/// keeps answering and accepting changes meanwhile.
pub async fn backup(State(state): State<ApiState>) -> Result<(StatusCode, Json<BackupResponse>), ApiError> {
    let store = state.store.clone();
    let zones = state.shared.load().zones.iter().map(|z| z.config.origin.clone()).collect::<Vec<_>>();
    let written = tokio::task::spawn_blocking(move || store.backup(&store.path().join("backups"), &zones, unix_now()))
        .await
        .map_err(|e| internal(e.to_string()))?
        .map_err(store_error)?;
    let response = BackupResponse {
        path: written.path.display().to_string(),
        zones: written
            .serials
            .iter()
            .map(|(z, serial)| ZoneInfo { zone: z.to_string(), serial: *serial, datasets: Vec::new() })
            .collect(),
    };
    tracing::info!(path = %response.path, "backup written");
    Ok((StatusCode::CREATED, Json(response)))
}

#[derive(Debug, Deserialize)]
pub struct ImportQuery {
    /// The rbldnsd type the file is written for.
    #[serde(rename = "type", default = "default_kind")]
    kind: String,
    /// The dataset it replaces (default `operator`).
    dataset: Option<String>,
    default_code: Option<String>,
    /// The file's name, used in error messages and the audit trail.
    name: Option<String>,
}

fn default_kind() -> String {
    "auto".into()
}

/// Streams the body (one file, or a `multipart/form-data` of several) into the importer while
/// holding the writer (so no live change interleaves with the switch), then republishes the zone.
pub async fn import_list(
    State(state): State<ApiState>,
    Path(zone): Path<String>,
    Query(q): Query<ImportQuery>,
    request: Request,
) -> Result<Json<ImportResponse>, ApiError> {
    let zone = parse_zone(&zone)?;
    let template = {
        let snap = state.shared.load();
        let z = snap.zones.iter().find(|z| z.config.origin == zone);
        z.map(|z| z.config.txt_template.clone())
            .ok_or_else(|| ApiError(StatusCode::NOT_FOUND, format!("zone {zone} is not served here")))?
    };
    let opts = ImportOptions {
        dataset: q.kind.parse().map_err(bad)?,
        default_code: q
            .default_code
            .as_deref()
            .map_or(Ok(ListingCode::OPERATOR), ListingCode::parse_short)
            .map_err(|e| bad(e.to_string()))?,
        now: unix_now(),
        zone_template: Some(template),
        into: q
            .dataset
            .as_deref()
            .map_or(Ok(DatasetName::operator()), DatasetName::parse)
            .map_err(|e| bad(e.to_string()))?,
        actor: "operator".into(),
        source: "import".into(),
    };
    let multipart = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("multipart/form-data"));
    let input = if multipart {
        let parts = Multipart::from_request(request, &()).await.map_err(|e| bad(e.body_text()))?;
        Input::Parts(PartReader::new(feed_parts(parts, opts.dataset)))
    } else {
        let name = std::path::PathBuf::from(q.name.unwrap_or_else(|| "upload".into()).replace(['/', '\\'], "_"));
        let source = Source { path: name, kind: opts.dataset, into: opts.into.clone() };
        // The bridge must be made inside the runtime; the import reads it on a blocking thread.
        Input::Body(source, SyncIoBridge::new(StreamReader::new(bounded(request.into_body()))))
    };
    let report = state
        .writer
        .run(move |p| {
            let failed = |e: ImportError| match e {
                ImportError::Lines(_) | ImportError::Read { .. } => bad(e.to_string()),
                ImportError::Store(ref err) => ApiError(store_status(err), e.to_string()),
            };
            let mut import = Import::start(p.store(), &zone).map_err(failed)?;
            match input {
                Input::Body(source, reader) => {
                    import.read(reader, &source, &opts).map_err(failed)?;
                }
                Input::Parts(mut parts) => {
                    let mut complete = true;
                    while let Some(source) = parts.next_file().map_err(bad)? {
                        if !import.read(&mut parts, &source, &opts).map_err(failed)? {
                            // Enough bad lines to stop: the rest of the upload is not read.
                            complete = false;
                            break;
                        }
                    }
                    if complete {
                        parts.check().map_err(bad)?;
                    }
                }
            }
            let report = import.finish(&opts).map_err(failed)?;
            let replaced: Vec<DatasetName> = report.datasets.iter().map(|(d, _, _)| d.clone()).collect();
            p.reload_datasets(&zone, &replaced, opts.now).map_err(change_error)?;
            Ok::<_, ApiError>((zone, report))
        })
        .await;
    let (zone, report) = report?;
    let s = report.summary;
    tracing::info!(%zone, listings = s.listings, exclusions = s.exclusions, serial = s.serial, "imported a list through the API");
    Ok(Json(ImportResponse {
        zone: zone.to_string(),
        listings: s.listings,
        exclusions: s.exclusions,
        lines: report.lines,
        serial: s.serial,
        datasets: DatasetCount::list(&report.datasets),
    }))
}

/// What an import reads: one file as the body, or the parts of a multipart body.
enum Input {
    Body(Source, SyncIoBridge<StreamReader<BoxedBytes, Bytes>>),
    Parts(PartReader),
}

type BoxedBytes = std::pin::Pin<Box<dyn futures_util::Stream<Item = std::io::Result<Bytes>> + Send>>;

/// What the task reading a multipart body passes to the import.
enum Piece {
    /// A part begins: the file it holds.
    Start(Source),
    Data(Bytes),
    /// The body cannot be read on (or a part's name is not a dataset): nothing is imported.
    Failed(String),
}

/// Reads the parts of `parts` on a task of its own and hands them over in order, bounded in
/// total size and in idle time as a plain body is.
fn feed_parts(mut parts: Multipart, kind: ImportKind) -> tokio::sync::mpsc::Receiver<Piece> {
    let (tx, rx) = tokio::sync::mpsc::channel(16);
    tokio::spawn(async move {
        let mut seen = 0u64;
        let failed = loop {
            let field = match tokio::time::timeout(UPLOAD_IDLE, parts.next_field()).await {
                Err(_) => break format!("the upload sent nothing for {} s", UPLOAD_IDLE.as_secs()),
                Ok(Err(e)) => break format!("the upload is not a readable multipart body: {}", e.body_text()),
                Ok(Ok(None)) => return,
                Ok(Ok(Some(field))) => field,
            };
            let source = match part_source(field.name(), field.file_name(), kind) {
                Ok(source) => source,
                Err(e) => break e,
            };
            if tx.send(Piece::Start(source)).await.is_err() {
                return;
            }
            let mut field = field;
            let problem = loop {
                match tokio::time::timeout(UPLOAD_IDLE, field.chunk()).await {
                    Err(_) => break Some(format!("the upload sent nothing for {} s", UPLOAD_IDLE.as_secs())),
                    Ok(Err(e)) => break Some(format!("the upload broke off: {}", e.body_text())),
                    Ok(Ok(None)) => break None,
                    Ok(Ok(Some(chunk))) => {
                        seen += chunk.len() as u64;
                        if seen > MAX_IMPORT_BYTES {
                            break Some(format!("the upload is larger than {MAX_IMPORT_BYTES} bytes"));
                        }
                        if tx.send(Piece::Data(chunk)).await.is_err() {
                            return;
                        }
                    }
                }
            };
            if let Some(problem) = problem {
                break problem;
            }
        };
        let _ = tx.send(Piece::Failed(failed)).await;
    });
    rx
}

/// The file a part holds: its name is `dataset` or `dataset:type`.
fn part_source(name: Option<&str>, file_name: Option<&str>, kind: ImportKind) -> Result<Source, String> {
    let name = name.unwrap_or(DatasetName::OPERATOR);
    let (dataset, kind) = match name.split_once(':') {
        Some((d, k)) => (d, k.parse().map_err(|e| format!("part {name:?}: {e}"))?),
        None => (name, kind),
    };
    let into = DatasetName::parse(dataset).map_err(|e| format!("part {name:?}: {e}"))?;
    let file = file_name.unwrap_or(name).replace(['/', '\\'], "_");
    Ok(Source { path: std::path::PathBuf::from(file), kind, into })
}

/// The import's side of [`feed_parts`]: [`PartReader::next_file`] moves to the next part, and
/// reading gives the current part's bytes (then end of file).
struct PartReader {
    rx: tokio::sync::mpsc::Receiver<Piece>,
    chunk: Bytes,
    /// The next part's start, met while reading the current one.
    next: Option<Source>,
    failed: Option<String>,
    ended: bool,
}

impl PartReader {
    fn new(rx: tokio::sync::mpsc::Receiver<Piece>) -> PartReader {
        PartReader { rx, chunk: Bytes::new(), next: None, failed: None, ended: false }
    }

    /// The file the next part holds (skipping what is left of the current one); `None` after
    /// the last part.
    fn next_file(&mut self) -> Result<Option<Source>, String> {
        self.chunk = Bytes::new();
        if let Some(source) = self.next.take() {
            return Ok(Some(source));
        }
        loop {
            match self.receive() {
                Some(Piece::Start(source)) => return Ok(Some(source)),
                Some(Piece::Data(_)) => {}
                Some(Piece::Failed(e)) => return Err(e),
                None => return Ok(None),
            }
        }
    }

    /// Whether the body was read to its end without a problem.
    fn check(&mut self) -> Result<(), String> {
        while self.next_file()?.is_some() {}
        match self.failed.take() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    fn receive(&mut self) -> Option<Piece> {
        if self.ended {
            return None;
        }
        let piece = self.rx.blocking_recv();
        if piece.is_none() {
            self.ended = true;
        }
        piece
    }
}

impl std::io::Read for PartReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.chunk.is_empty() {
            if self.next.is_some() {
                return Ok(0);
            }
            match self.receive() {
                Some(Piece::Data(chunk)) => self.chunk = chunk,
                Some(Piece::Start(source)) => {
                    self.next = Some(source);
                    return Ok(0);
                }
                Some(Piece::Failed(e)) => {
                    self.failed = Some(e.clone());
                    self.ended = true;
                    return Err(std::io::Error::other(e));
                }
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.chunk.len());
        buf[..n].copy_from_slice(&self.chunk.split_to(n));
        Ok(n)
    }
}

/// The body's bytes as a stream of I/O results that ends in an error when the client sends more
/// than [`MAX_IMPORT_BYTES`] or stalls for [`UPLOAD_IDLE`] (the import then writes nothing).
fn bounded(body: Body) -> BoxedBytes {
    let start = Some((body.into_data_stream(), 0u64));
    Box::pin(futures_util::stream::unfold(start, |state| async move {
        let (mut stream, seen) = state?;
        let problem = match tokio::time::timeout(UPLOAD_IDLE, stream.next()).await {
            Ok(None) => return None,
            Ok(Some(Ok(chunk))) if seen + chunk.len() as u64 <= MAX_IMPORT_BYTES => {
                let seen = seen + chunk.len() as u64;
                return Some((Ok(chunk), Some((stream, seen))));
            }
            Ok(Some(Ok(_))) => format!("the upload is larger than {MAX_IMPORT_BYTES} bytes"),
            Ok(Some(Err(e))) => format!("the upload broke off: {e}"),
            Err(_) => format!("the upload sent nothing for {} s", UPLOAD_IDLE.as_secs()),
        };
        Some((Err(std::io::Error::other(problem)), None))
    }))
}
