//! The HTTP adapter: routes A1–A11 under `/account`, the OpenAPI document, and the
//! mapping from use-case errors to status codes.

pub mod address;
pub mod customer;

use axum::{
    Router,
    extract::{FromRef, State},
    response::{IntoResponse, Response},
    routing::get,
};
use platform::{
    auth::{Authenticator, Customer},
    http::{ErrorResponse, error::ErrorCode},
};
use utoipa::OpenApi;

use crate::{
    app::{AddressBook, AddressError, CustomerAdmin, CustomerError},
    downstream::{HttpOrderService, HttpPaymentService},
    keycloak::KeycloakDirectory,
    ports::{DirectoryError, StoreError},
    postgres::PgAddressStore,
};

/// The customer use cases as wired in production.
pub type Customers = CustomerAdmin<KeycloakDirectory, HttpOrderService, HttpPaymentService>;

/// What the handlers share.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The address use cases.
    pub addresses: AddressBook<PgAddressStore>,
    /// The customer use cases.
    pub customers: Customers,
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
    /// An address use case failed.
    Address(AddressError),
    /// A customer use case failed.
    Customer(CustomerError),
    /// The request itself was malformed.
    Request(ErrorResponse),
}

impl From<AddressError> for ApiError {
    fn from(err: AddressError) -> Self {
        Self::Address(err)
    }
}

impl From<CustomerError> for ApiError {
    fn from(err: CustomerError) -> Self {
        Self::Customer(err)
    }
}

impl From<ErrorResponse> for ApiError {
    fn from(err: ErrorResponse) -> Self {
        Self::Request(err)
    }
}

fn store(err: &StoreError) -> ErrorResponse {
    match err {
        StoreError::Unavailable(detail) => ErrorResponse::unavailable("the database", detail),
        StoreError::Duplicate | StoreError::Other(_) => ErrorResponse::internal(err),
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let response = match self {
            Self::Request(response) => response,
            Self::Address(err) => match &err {
                AddressError::Validation(_) => ErrorResponse::validation(err.to_string()),
                AddressError::NotFound(_) => ErrorResponse::not_found(err.to_string()),
                AddressError::Duplicate | AddressError::AlreadyPrimary(_) => {
                    ErrorResponse::conflict(err.to_string())
                }
                AddressError::Store(store_err) => store(store_err),
            },
            Self::Customer(err) => match &err {
                CustomerError::Validation(_) => ErrorResponse::validation(err.to_string()),
                CustomerError::NotFound(_) => ErrorResponse::not_found(err.to_string()),
                CustomerError::Directory(DirectoryError::Unavailable(detail)) => {
                    ErrorResponse::unavailable("the identity provider", detail)
                }
                CustomerError::Directory(DirectoryError::Other(detail)) => {
                    ErrorResponse::internal(detail)
                }
            },
        };
        response.into_response()
    }
}

/// The OpenAPI 3.1 document of the service.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Ironvessel account",
        description = "Customer addresses, and customer administration over the identity provider."
    ),
    paths(
        ping,
        customer::list, customer::get_one, customer::detail, customer::activate,
        customer::deactivate,
        address::list, address::add, address::update, address::remove, address::set_primary,
    ),
    components(schemas(
        crate::domain::Customer, crate::domain::OrderSummary, crate::domain::PaymentSummary,
        crate::domain::customer::Cancellation, customer::CustomerDetailResponse,
        address::AddressResponse, address::AddAddressRequest, address::UpdateAddressRequest,
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

/// A1: which replica answers.
#[utoipa::path(get, path = "/account/ping", responses((status = 200, body = String)))]
pub async fn ping(State(state): State<AppState>, _user: Customer) -> String {
    format!("Account microservice works. Host: {}", state.instance_id)
}

/// Every account route.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/account/ping", get(ping))
        .route(
            "/account/openapi.json",
            get(|| async { axum::Json(ApiDoc::openapi()) }),
        )
        .merge(customer::router())
        .merge(address::router())
        .with_state(state)
}
