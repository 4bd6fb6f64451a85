//! The operator's administration endpoints:
//!
//! - `POST /v1/backups` — a consistent copy of the database under `<data-dir>/backups/`.
//! - `POST /v1/zones/{zone}/import?type=&default_code=&name=&dataset=` — an rbldnsd file as the
//!   body, streamed into the importer (memory stays bounded whatever the file's size): replaces
//!   one dataset of the zone (`operator` by default) in one atomic change and one publish.

use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use futures_util::StreamExt;
use serde::Deserialize;
use tokio_util::io::{StreamReader, SyncIoBridge};

use super::error::{bad, change_error, internal, store_error, store_status, ApiError};
use super::listings::parse_zone;
use super::state::ApiState;
use super::wire::{BackupResponse, ImportResponse, ZoneInfo};
use crate::clock::unix_now;
use crate::importer::{import_reader, ImportError, ImportOptions};
use crate::model::ListingCode;
use crate::name::DatasetName;

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
        zones: written.serials.iter().map(|(z, serial)| ZoneInfo { zone: z.to_string(), serial: *serial }).collect(),
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

/// Streams the body into the importer while holding the writer (so no live change interleaves
/// with the switch), then republishes the zone.
pub async fn import_list(
    State(state): State<ApiState>,
    Path(zone): Path<String>,
    Query(q): Query<ImportQuery>,
    body: Body,
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
    let name = std::path::PathBuf::from(q.name.unwrap_or_else(|| "upload".into()).replace(['/', '\\'], "_"));
    // The bridge must be made inside the runtime; the import reads it on a blocking thread.
    let input = SyncIoBridge::new(StreamReader::new(bounded(body)));
    let report = state
        .writer
        .run(move |p| {
            let report = import_reader(p.store(), &zone, input, &name, &opts).map_err(|e| match e {
                ImportError::Lines(_) | ImportError::Read { .. } => bad(e.to_string()),
                ImportError::Store(ref err) => ApiError(store_status(err), e.to_string()),
            })?;
            p.reload_zone(&zone, opts.now).map_err(change_error)?;
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
    }))
}

/// The body's bytes as a stream of I/O results that ends in an error when the client sends more
/// than [`MAX_IMPORT_BYTES`] or stalls for [`UPLOAD_IDLE`] (the import then writes nothing).
fn bounded(body: Body) -> impl futures_util::Stream<Item = std::io::Result<Bytes>> + Send + Unpin + 'static {
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
