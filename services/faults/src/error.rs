//! Everything that can be wrong with a fault request, as data, with one mapping to HTTP:
//! a stable `error` code and a message that says what to do instead.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::catalogue::{FaultId, Service};

/// A rejected fault request.
#[derive(Debug, thiserror::Error)]
pub enum FaultError {
    #[error("unknown fault {id:?}; known faults: {known}")]
    UnknownFault { id: String, known: String },
    #[error(
        "fault {id} is injected by the {home} service, not by {here}; enable it through {home}'s /admin/faults"
    )]
    WrongService {
        id: FaultId,
        home: Service,
        here: Service,
    },
    #[error("fault {id} has no parameter {name:?}; its parameters are: {known}")]
    UnknownParameter {
        id: FaultId,
        name: String,
        known: String,
    },
    #[error("parameter {name} of fault {id} {reason}")]
    InvalidParameter {
        id: FaultId,
        name: String,
        reason: String,
    },
    #[error("fraction must be a number from 0 to 1, got {0}")]
    InvalidFraction(f64),
    #[error("learner ids are 1 to 64 letters, digits or ._@- characters; {0:?} is not one")]
    InvalidLearner(String),
    #[error("version must be a release version MAJOR.MINOR.PATCH, like 2.0.0; {0:?} is not one")]
    InvalidVersion(String),
    #[error("the request body is not a valid fault activation: {0}")]
    InvalidBody(String),
    #[error("this admin API needs the header `Authorization: Bearer <DOJO_ADMIN_TOKEN>`")]
    Unauthorized,
    #[error(
        "reading the faults needs the admin token, and this service has none: start it with \
         DOJO_ADMIN_TOKEN set (`dojo up --admin-token …`) and send `Authorization: Bearer <token>`"
    )]
    NoTokenToRead,
}

impl FaultError {
    /// A stable machine-readable code for the JSON body.
    pub fn code(&self) -> &'static str {
        match self {
            FaultError::UnknownFault { .. } => "unknown_fault",
            FaultError::WrongService { .. } => "wrong_service",
            FaultError::UnknownParameter { .. } => "unknown_parameter",
            FaultError::InvalidParameter { .. } => "invalid_parameter",
            FaultError::InvalidFraction(_) => "invalid_fraction",
            FaultError::InvalidLearner(_) => "invalid_learner",
            FaultError::InvalidVersion(_) => "invalid_version",
            FaultError::InvalidBody(_) => "invalid_body",
            FaultError::Unauthorized => "unauthorized",
            FaultError::NoTokenToRead => "no_admin_token",
        }
    }

    /// The error for an id that is not in the catalogue.
    pub fn unknown(id: &str) -> FaultError {
        let known: Vec<&str> = FaultId::ALL.iter().map(|id| id.as_str()).collect();
        FaultError::UnknownFault {
            id: id.to_owned(),
            known: known.join(", "),
        }
    }
}

impl IntoResponse for FaultError {
    fn into_response(self) -> Response {
        let status = match self {
            FaultError::Unauthorized => StatusCode::UNAUTHORIZED,
            FaultError::NoTokenToRead => StatusCode::FORBIDDEN,
            _ => StatusCode::BAD_REQUEST,
        };
        (
            status,
            Json(json!({ "error": self.code(), "message": self.to_string() })),
        )
            .into_response()
    }
}
