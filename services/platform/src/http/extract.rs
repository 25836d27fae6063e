//! axum's `Json`, `Query` and `Path` with rejections turned into the error body, so a
//! malformed request gets a 400/413/415 naming the problem instead of axum's plain text.

use axum::{
    extract::{FromRequest, FromRequestParts},
    response::{IntoResponse, Response},
};

use super::error::ErrorResponse;

/// JSON body extractor and response.
#[derive(Debug, Clone, Copy, Default, FromRequest)]
#[from_request(via(axum::Json), rejection(ErrorResponse))]
pub struct Json<T>(pub T);

impl<T: serde::Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

/// Query-string extractor.
#[derive(Debug, Clone, Copy, Default, FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ErrorResponse))]
pub struct Query<T>(pub T);

/// Path-parameter extractor.
#[derive(Debug, Clone, Copy, Default, FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ErrorResponse))]
pub struct Path<T>(pub T);
