//! The error body of SPEC §2 and the success envelope of commands.
//!
//! `{"message": ..., "resultType": "ERROR", "code": ...}` with the right status. Services
//! map their domain errors into [`ErrorResponse`]; 5xx bodies never reveal internals:
//! the detail rides in a response extension that the access-log middleware logs once.

use axum::{
    extract::rejection::{JsonRejection, PathRejection, QueryRejection},
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde::{Deserialize, Serialize};

/// Machine-readable error codes, one per status family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ErrorCode {
    /// 400: the request is malformed or a field is invalid.
    Validation,
    /// 401: no token, or a token that does not validate.
    Unauthorized,
    /// 403: valid token, wrong role or someone else's resource.
    Forbidden,
    /// 404: no such resource or route.
    NotFound,
    /// 405: the route exists, the method does not.
    MethodNotAllowed,
    /// 409: the resource's state forbids the operation.
    Conflict,
    /// 413: the body is larger than the limit.
    PayloadTooLarge,
    /// 415: the body is not JSON.
    UnsupportedMediaType,
    /// 429: rate limited.
    RateLimited,
    /// 500: a bug; never caused by client input.
    Internal,
    /// 503: a dependency (database, identity provider) is unavailable, or the request timed out.
    Unavailable,
}

impl ErrorCode {
    /// The status code that goes with the code.
    pub fn status(self) -> StatusCode {
        match self {
            Self::Validation => StatusCode::BAD_REQUEST,
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::Forbidden => StatusCode::FORBIDDEN,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::Conflict => StatusCode::CONFLICT,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    fn from_status(status: StatusCode) -> Self {
        match status.as_u16() {
            401 => Self::Unauthorized,
            403 => Self::Forbidden,
            404 => Self::NotFound,
            405 => Self::MethodNotAllowed,
            409 => Self::Conflict,
            413 => Self::PayloadTooLarge,
            415 => Self::UnsupportedMediaType,
            429 => Self::RateLimited,
            503 => Self::Unavailable,
            400..=499 => Self::Validation,
            _ => Self::Internal,
        }
    }
}

/// `SUCCESS`, `WARNING` or `ERROR`, as in the original's `OperationResult`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ResultType {
    /// The command succeeded.
    Success,
    /// Succeeded with a caveat.
    Warning,
    /// Failed.
    Error,
}

/// The body of a successful command: `{"message": ..., "resultType": "SUCCESS"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OperationResult {
    /// Human-readable outcome.
    pub message: String,
    /// Always `SUCCESS` for a 2xx answer.
    pub result_type: ResultType,
}

impl OperationResult {
    /// A `SUCCESS` result with `message`.
    pub fn success(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            result_type: ResultType::Success,
        }
    }
}

impl IntoResponse for OperationResult {
    fn into_response(self) -> Response {
        axum::Json(self).into_response()
    }
}

/// The error body on the wire.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ErrorBody {
    /// What went wrong, naming the field where one is at fault.
    pub message: String,
    /// Always `ERROR`.
    pub result_type: ResultType,
    /// Machine-readable code.
    pub code: ErrorCode,
}

/// Internal detail of a failed request, logged by the access log and never sent.
#[derive(Debug, Clone)]
pub struct ErrorDetail(pub String);

/// An error answer: status, code, public message and optional private detail.
#[derive(Debug, Clone)]
pub struct ErrorResponse {
    /// Machine-readable code; it determines the status.
    pub code: ErrorCode,
    /// Sent to the client.
    pub message: String,
    /// Logged, never sent.
    pub detail: Option<String>,
    /// Seconds for `Retry-After` (429, 503).
    pub retry_after: Option<u64>,
}

impl ErrorResponse {
    /// An error with a public message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            detail: None,
            retry_after: None,
        }
    }

    /// 400 naming the offending field.
    pub fn validation(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Validation, message)
    }

    /// 404.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::NotFound, message)
    }

    /// 409.
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Conflict, message)
    }

    /// 503 for a dependency that is down; `detail` is logged, not sent.
    pub fn unavailable(what: &str, detail: impl std::fmt::Display) -> Self {
        Self {
            code: ErrorCode::Unavailable,
            message: format!("{what} is temporarily unavailable, please retry"),
            detail: Some(detail.to_string()),
            retry_after: Some(1),
        }
    }

    /// 500 for a bug; `detail` is logged, not sent.
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        Self {
            code: ErrorCode::Internal,
            message: "internal error".to_owned(),
            detail: Some(detail.to_string()),
            retry_after: None,
        }
    }
}

impl IntoResponse for ErrorResponse {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            message: self.message,
            result_type: ResultType::Error,
            code: self.code,
        };
        let mut response = (self.code.status(), axum::Json(body)).into_response();
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(http::header::RETRY_AFTER, http::HeaderValue::from(seconds));
        }
        if let Some(detail) = self.detail {
            response.extensions_mut().insert(ErrorDetail(detail));
        }
        response
    }
}

impl From<JsonRejection> for ErrorResponse {
    fn from(rejection: JsonRejection) -> Self {
        let status = rejection.status();
        let message = match &rejection {
            JsonRejection::JsonSyntaxError(_) => {
                format!("malformed JSON: {}", rejection.body_text())
            }
            JsonRejection::MissingJsonContentType(_) => {
                "expected a request body with content-type application/json".to_owned()
            }
            JsonRejection::BytesRejection(_) if status == StatusCode::PAYLOAD_TOO_LARGE => {
                "request body is larger than the limit".to_owned()
            }
            _ => rejection.body_text().replace(
                "Failed to deserialize the JSON body into the target type: ",
                "invalid body: ",
            ),
        };
        Self::new(ErrorCode::from_status(status), message)
    }
}

impl From<QueryRejection> for ErrorResponse {
    fn from(rejection: QueryRejection) -> Self {
        Self::validation(
            rejection
                .body_text()
                .replace("Failed to deserialize query string: ", "invalid query: "),
        )
    }
}

impl From<PathRejection> for ErrorResponse {
    fn from(rejection: PathRejection) -> Self {
        Self::validation(format!("invalid path: {}", rejection.body_text()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_error_body_has_message_result_type_and_code() {
        let response = ErrorResponse::not_found("Product not found!").into_response();
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        let body = ErrorBody {
            message: "Product not found!".to_owned(),
            result_type: ResultType::Error,
            code: ErrorCode::NotFound,
        };
        assert_eq!(
            serde_json::to_value(body).unwrap(),
            serde_json::json!({"message": "Product not found!", "resultType": "ERROR", "code": "NOT_FOUND"})
        );
    }

    #[test]
    fn internal_errors_keep_their_detail_out_of_the_body() {
        let response = ErrorResponse::internal("connection reset by peer").into_response();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let detail = response.extensions().get::<ErrorDetail>().unwrap();
        assert_eq!(detail.0, "connection reset by peer");
    }
}
