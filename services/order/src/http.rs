//! The HTTP adapter: routes O1–O9 and ship under `/order`, the OpenAPI document, and
//! the mapping from use-case errors to status codes.

pub mod order;

use axum::{
    Router,
    extract::{FromRef, State},
    response::{IntoResponse, Response},
    routing::get,
};
use platform::{
    auth::{Authenticator, Customer},
    http::{ErrorCode, ErrorResponse},
};
use utoipa::OpenApi;

use crate::{
    app::{OrderError, Orders},
    downstream::HttpPaymentService,
    keycloak::KeycloakDirectory,
    ports::StoreError,
    postgres::PgOrderStore,
};

/// The use cases as wired in production.
pub type OrderService = Orders<PgOrderStore, KeycloakDirectory, HttpPaymentService>;

/// What the handlers share.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The use cases.
    pub orders: OrderService,
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
    Order(OrderError),
    /// The request itself was malformed.
    Request(ErrorResponse),
}

impl From<OrderError> for ApiError {
    fn from(err: OrderError) -> Self {
        Self::Order(err)
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
            Self::Order(err) => match &err {
                OrderError::NotFound(_) => ErrorResponse::not_found(err.to_string()),
                OrderError::Validation(_) => ErrorResponse::validation(err.to_string()),
                OrderError::Conflict(_) => ErrorResponse::conflict(err.to_string()),
                OrderError::Store(StoreError::Unavailable(detail)) => {
                    ErrorResponse::unavailable("the database", detail)
                }
                OrderError::Store(StoreError::Other(detail)) => ErrorResponse::internal(detail),
            },
        };
        response.into_response()
    }
}

/// The OpenAPI 3.1 document of the service.
#[derive(OpenApi)]
#[openapi(
    info(title = "Ironvessel order", description = "Orders and their lifecycle."),
    paths(
        ping,
        order::list, order::list_slash, order::of_current_customer, order::get_one,
        order::detail, order::of_customer, order::cancel, order::ship, order::deliver,
        order::delivery_address,
    ),
    components(schemas(
        order::OrderResponse, order::OrderDetailResponse, order::CancelRequest,
        order::DeliverRequest, order::DeliveryAddressRequest,
        crate::domain::OrderStatus, crate::domain::CancellationReason, crate::domain::Cancellation,
        crate::ports::CustomerName, crate::ports::PaymentSummary,
        platform::http::OperationResult, platform::http::error::ErrorBody, ErrorCode,
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

/// O1: which replica answers.
#[utoipa::path(get, path = "/order/ping", responses((status = 200, body = String)))]
pub async fn ping(State(state): State<AppState>, _user: Customer) -> String {
    format!("Order microservice works. Host: {}", state.instance_id)
}

/// Every order route.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/order/ping", get(ping))
        .route(
            "/order/openapi.json",
            get(|| async { axum::Json(ApiDoc::openapi()) }),
        )
        .merge(order::router())
        .with_state(state)
}
