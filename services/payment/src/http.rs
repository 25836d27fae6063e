//! The HTTP adapter: routes P1–P10 under `/payment`, the OpenAPI document, and the
//! mapping from use-case errors to status codes.

pub mod cart;
pub mod payment;

use axum::{
    Router,
    extract::{FromRef, State},
    response::{IntoResponse, Response},
    routing::get,
};
use platform::{
    auth::{Authenticator, Customer},
    http::ErrorResponse,
};
use utoipa::OpenApi;

use crate::{
    app::{PaymentError, Payments},
    domain::{CartError, CheckoutError},
    keycloak::KeycloakDirectory,
    ports::StoreError,
    postgres::PgPaymentStore,
};

/// What the handlers share.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The use cases.
    pub payments: Payments<PgPaymentStore, KeycloakDirectory>,
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
    Payment(PaymentError),
    /// The request itself was malformed.
    Request(ErrorResponse),
}

impl From<PaymentError> for ApiError {
    fn from(err: PaymentError) -> Self {
        Self::Payment(err)
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
            Self::Payment(err) => match &err {
                PaymentError::NotFound(_) | PaymentError::Cart(CartError::NotInCart(_)) => {
                    ErrorResponse::not_found(err.to_string())
                }
                PaymentError::Checkout(CheckoutError::EmptyCart) => {
                    ErrorResponse::validation(err.to_string())
                }
                PaymentError::Checkout(CheckoutError::NoAddress)
                | PaymentError::Cart(CartError::AlreadyEmpty) => {
                    ErrorResponse::conflict(err.to_string())
                }
                PaymentError::Store(StoreError::Unavailable(detail)) => {
                    ErrorResponse::unavailable("the database", detail)
                }
                PaymentError::Store(StoreError::Other(detail)) => ErrorResponse::internal(detail),
            },
        };
        response.into_response()
    }
}

/// The OpenAPI 3.1 document of the service.
#[derive(OpenApi)]
#[openapi(
    info(title = "Ironvessel payment", description = "Carts, payments and checkout."),
    paths(
        ping,
        payment::list, payment::of_current_customer, payment::get_one, payment::detail,
        payment::of_customer, payment::accept,
        cart::get_cart, cart::remove_from_cart, cart::clear_cart,
    ),
    components(schemas(
        payment::PaymentResponse, payment::ProductResponse, payment::PaymentDetailResponse,
        cart::CartResponse, cart::RemoveFromCartRequest,
        crate::domain::PaymentStatus, crate::ports::CustomerSummary,
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

/// P1: which replica answers.
#[utoipa::path(get, path = "/payment/ping", responses((status = 200, body = String)))]
pub async fn ping(State(state): State<AppState>, _user: Customer) -> String {
    format!("Payment microservice works. Host: {}", state.instance_id)
}

/// Every payment route.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/payment/ping", get(ping))
        .route(
            "/payment/openapi.json",
            get(|| async { axum::Json(ApiDoc::openapi()) }),
        )
        .merge(payment::router())
        .merge(cart::router())
        .with_state(state)
}
