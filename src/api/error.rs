//! Error answers: a status and `{"error": "…"}` saying what to do, and the status each kind of
//! failure gets.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

use super::wire::ErrorBody;
use crate::publisher::{ChangeError, WriterError};
use crate::registry::RegistryError;
use crate::store::StoreError;

/// An error answer: status and a message that says what to do.
#[derive(Debug)]
pub struct ApiError(pub StatusCode, pub String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(ErrorBody { error: self.1 })).into_response()
    }
}

impl From<WriterError> for ApiError {
    fn from(e: WriterError) -> ApiError {
        tracing::error!(error = %e, "change not run");
        internal(e.to_string())
    }
}

/// 400: the request itself is wrong.
pub fn bad(msg: impl Into<String>) -> ApiError {
    ApiError(StatusCode::BAD_REQUEST, msg.into())
}

/// 500: the server failed.
pub fn internal(msg: impl Into<String>) -> ApiError {
    ApiError(StatusCode::INTERNAL_SERVER_ERROR, msg.into())
}

/// The answer for a change that was not applied.
pub fn change_error(e: ChangeError) -> ApiError {
    let status = match &e {
        ChangeError::UnknownZone(_)
        | ChangeError::NotFound(_)
        | ChangeError::NoDataset(_)
        | ChangeError::NoAccessKey(_)
        | ChangeError::NoResolver(_)
        | ChangeError::NoReporter(_)
        | ChangeError::NoRequest(_) => StatusCode::NOT_FOUND,
        ChangeError::NothingToRemove(_) => StatusCode::BAD_REQUEST,
        ChangeError::RequestOpen(_) | ChangeError::RequestDecided { .. } => StatusCode::CONFLICT,
        ChangeError::AccessKeyExists(_)
        | ChangeError::AccessKeyInUse
        | ChangeError::ResolverExists(_)
        | ChangeError::ReporterExists(_) => StatusCode::CONFLICT,
        ChangeError::Registry(r) => return registry_error(r),
        ChangeError::TestPoint(_) => StatusCode::FORBIDDEN,
        // The zone's data is its primary's.
        ChangeError::Secondary { .. } => StatusCode::CONFLICT,
        ChangeError::Evidence(_) => StatusCode::INTERNAL_SERVER_ERROR,
        ChangeError::Store(err) => {
            let status = store_status(err);
            if status.is_server_error() {
                tracing::error!(error = %err, "change not written");
            }
            status
        }
        ChangeError::Writer(err) => {
            tracing::error!(error = %err, "change not run");
            StatusCode::INTERNAL_SERVER_ERROR
        }
    };
    ApiError(status, e.to_string())
}

/// 507 when the store keeps its disk's last free space, 503 after a failed write (until restart),
/// 409 for a zone at its dataset limit, 400 for removing the operator's dataset, else 500.
pub fn store_status(e: &StoreError) -> StatusCode {
    match e {
        StoreError::TooManyDatasets(_) => StatusCode::CONFLICT,
        StoreError::OperatorDataset => StatusCode::BAD_REQUEST,
        StoreError::DiskFull { .. } => StatusCode::INSUFFICIENT_STORAGE,
        StoreError::WriteFailed { .. } => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// A store failure on a read or a copy.
pub fn store_error(e: StoreError) -> ApiError {
    ApiError(store_status(&e), e.to_string())
}

/// The status for a refused registry request: 403 for what the caller may not touch, 404 for
/// what does not exist, 409 for conflicts, 422 for what breaks the configured limits.
pub fn registry_error(e: &RegistryError) -> ApiError {
    let status = match e {
        RegistryError::OutsideNetworks { .. } | RegistryError::Denied { .. } | RegistryError::Suspended(_) => {
            StatusCode::FORBIDDEN
        }
        RegistryError::UnknownMarketer(_) | RegistryError::NotDeclared { .. } | RegistryError::NoSuchNetwork { .. } => {
            StatusCode::NOT_FOUND
        }
        RegistryError::Overlap { .. }
        | RegistryError::Exists(_)
        | RegistryError::NetworkExists { .. }
        | RegistryError::NotSuspended(_) => StatusCode::CONFLICT,
        RegistryError::BadId(_)
        | RegistryError::TooWide { .. }
        | RegistryError::TooMany { .. }
        | RegistryError::Field { .. } => StatusCode::UNPROCESSABLE_ENTITY,
    };
    ApiError(status, e.to_string())
}
