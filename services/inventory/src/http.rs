//! The HTTP adapter: routes I1–I11 under `/inventory`, the OpenAPI document, and the
//! mapping from use-case errors to status codes.

pub mod product;

use axum::{
    Router,
    extract::FromRef,
    response::{IntoResponse, Response},
    routing::get,
};
use platform::{
    auth::{Authenticator, Customer},
    http::{ErrorCode, ErrorResponse},
};
use utoipa::OpenApi;

use crate::{
    app::{Inventory, InventoryError},
    ports::StoreError,
    postgres::PgProductStore,
};

/// What the handlers share.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The use cases.
    pub inventory: Inventory<PgProductStore>,
    /// Bearer-token validation.
    pub auth: Authenticator,
    /// This replica's id (for ping).
    pub instance_id: String,
}

impl FromRef<AppState> for Authenticator {
    fn from_ref(state: &AppState) -> Self {
        state.auth.clone()
    }
}

/// A failed request.
#[derive(Debug)]
pub enum ApiError {
    /// A use case failed.
    Inventory(InventoryError),
    /// The request itself was malformed.
    Request(ErrorResponse),
}

impl From<InventoryError> for ApiError {
    fn from(err: InventoryError) -> Self {
        Self::Inventory(err)
    }
}

impl From<ErrorResponse> for ApiError {
    fn from(err: ErrorResponse) -> Self {
        Self::Request(err)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let response = match self {
            Self::Request(response) => response,
            Self::Inventory(err) => match &err {
                InventoryError::NotFound(_) => ErrorResponse::not_found(err.to_string()),
                InventoryError::Validation(_) => ErrorResponse::validation(err.to_string()),
                InventoryError::NotAvailable(_) => {
                    ErrorResponse::new(ErrorCode::Conflict, err.to_string())
                }
                InventoryError::Store(StoreError::Unavailable(detail)) => {
                    ErrorResponse::unavailable("the database", detail)
                }
                InventoryError::Store(StoreError::Other(detail)) => ErrorResponse::internal(detail),
            },
        };
        response.into_response()
    }
}

/// The OpenAPI 3.1 document of the service.
#[derive(OpenApi)]
#[openapi(
    info(title = "Ironvessel inventory", description = "Products and stock."),
    paths(
        ping,
        product::list, product::get_one, product::get_many, product::create,
        product::is_available, product::change_availability, product::update,
        product::add_to_cart, product::delete_one, product::delete_many,
    ),
    components(schemas(
        product::ProductResponse, product::CreateProductRequest, product::UpdateProductRequest,
        product::ChangeAvailabilityRequest, product::AddToCartRequest,
        crate::domain::Availability, crate::domain::Category, crate::domain::UnavailableReason,
        platform::http::OperationResult, platform::http::error::ErrorBody,
    )),
    modifiers(&BearerAuth),
    security(("bearer" = [])),
)]
#[derive(Debug)]
pub struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

/// I1: which replica answers.
#[utoipa::path(get, path = "/inventory/ping", responses((status = 200, body = String)))]
pub async fn ping(
    axum::extract::State(state): axum::extract::State<AppState>,
    _user: Customer,
) -> String {
    format!("Inventory microservice works. Host: {}", state.instance_id)
}

/// Every inventory route.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/inventory/ping", get(ping))
        .route(
            "/inventory/openapi.json",
            get(|| async { axum::Json(ApiDoc::openapi()) }),
        )
        .merge(product::router())
        .with_state(state)
}
