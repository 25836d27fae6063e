//! `/account/customer` routes (A2–A6), for managers.

use axum::{
    Router,
    extract::State,
    routing::{get, put},
};
use platform::{
    auth::Manager,
    cache::CacheStatus,
    http::{Json, OperationResult, Path, Query},
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{ApiError, AppState};
use crate::{
    app::CustomerError,
    domain::{Customer, CustomerDetail, OrderSummary, PaymentSummary, UserRange},
};

/// `start` and `end` of the customer list: Keycloak's `first` and `max`.
#[derive(Debug, Deserialize, IntoParams)]
pub struct RangeQuery {
    /// Customers to skip (≥ 0).
    start: i64,
    /// Customers to return, 1..=100 (default 100).
    end: Option<i64>,
}

/// A customer with their orders and payments (`CustomerDetailResponse`).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CustomerDetailResponse {
    /// The identity provider's user id.
    pub id: String,
    /// Given name.
    pub first_name: Option<String>,
    /// Family name.
    pub last_name: Option<String>,
    /// Birth date (`YYYY-MM-DD`).
    #[schema(value_type = Option<String>, format = Date)]
    pub birth_date: Option<chrono::NaiveDate>,
    /// E-mail address.
    pub email: Option<String>,
    /// Phone number.
    pub phone_number: Option<String>,
    /// Orders; empty when the order service could not answer in time.
    pub orders: Vec<OrderSummary>,
    /// Payments; empty when the payment service could not answer in time.
    pub payments: Vec<PaymentSummary>,
}

impl From<CustomerDetail> for CustomerDetailResponse {
    fn from(detail: CustomerDetail) -> Self {
        let customer = detail.customer;
        Self {
            id: customer.id,
            first_name: customer.first_name,
            last_name: customer.last_name,
            birth_date: customer.birth_date,
            email: customer.email,
            phone_number: customer.phone_number,
            orders: detail.orders,
            payments: detail.payments,
        }
    }
}

/// A2: a slice of the customers, service accounts left out (cached 5 min;
/// `x-cache: HIT|MISS`).
#[utoipa::path(get, path = "/account/customer", params(RangeQuery),
    responses((status = 200, body = [Customer]), (status = 400, body = platform::http::error::ErrorBody),
        (status = 503, body = platform::http::error::ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    _manager: Manager,
    Query(query): Query<RangeQuery>,
) -> Result<(CacheStatus, Json<Vec<Customer>>), ApiError> {
    let range = UserRange::new(query.start, query.end).map_err(CustomerError::from)?;
    let (customers, status) = state.customers.list(range).await?;
    Ok((status, Json(customers)))
}

/// A3: one customer (cached 30 min; `x-cache: HIT|MISS`).
#[utoipa::path(get, path = "/account/customer/{id}",
    responses((status = 200, body = Customer), (status = 404, body = platform::http::error::ErrorBody)))]
pub async fn get_one(
    State(state): State<AppState>,
    _manager: Manager,
    Path(id): Path<String>,
) -> Result<(CacheStatus, Json<Customer>), ApiError> {
    let (customer, status) = state.customers.get(&id).await?;
    Ok((status, Json(customer)))
}

/// A4: the customer with their orders and payments; either list is empty when its
/// service cannot answer within the timeout (the fallback).
#[utoipa::path(get, path = "/account/customer/{id}/detail",
    responses((status = 200, body = CustomerDetailResponse), (status = 404, body = platform::http::error::ErrorBody)))]
pub async fn detail(
    State(state): State<AppState>,
    Manager(manager): Manager,
    Path(id): Path<String>,
) -> Result<Json<CustomerDetailResponse>, ApiError> {
    let detail = state.customers.detail(&id, &manager.token).await?;
    Ok(Json(detail.into()))
}

/// A5: enables the customer in the identity provider.
#[utoipa::path(put, path = "/account/customer/{id}/activate",
    responses((status = 200, body = OperationResult), (status = 404, body = platform::http::error::ErrorBody)))]
pub async fn activate(
    State(state): State<AppState>,
    _manager: Manager,
    Path(id): Path<String>,
) -> Result<OperationResult, ApiError> {
    state.customers.set_enabled(&id, true).await?;
    Ok(OperationResult::success(format!(
        "Customer {id} is activated."
    )))
}

/// A6: disables the customer in the identity provider (no new tokens; issued ones stay
/// valid until they expire).
#[utoipa::path(put, path = "/account/customer/{id}/deactivate",
    responses((status = 200, body = OperationResult), (status = 404, body = platform::http::error::ErrorBody)))]
pub async fn deactivate(
    State(state): State<AppState>,
    _manager: Manager,
    Path(id): Path<String>,
) -> Result<OperationResult, ApiError> {
    state.customers.set_enabled(&id, false).await?;
    Ok(OperationResult::success(format!(
        "Customer {id} is deactivated."
    )))
}

/// The customer routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/account/customer", get(list))
        .route("/account/customer/{id}", get(get_one))
        .route("/account/customer/{id}/detail", get(detail))
        .route("/account/customer/{id}/activate", put(activate))
        .route("/account/customer/{id}/deactivate", put(deactivate))
}
