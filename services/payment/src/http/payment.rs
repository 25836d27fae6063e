//! `/payment` routes of payments (P2–P7).

use axum::{
    Router,
    extract::State,
    routing::{get, post},
};
use chrono::{DateTime, Utc};
use platform::{
    auth::{Customer, Manager},
    cache::CacheStatus,
    http::{ErrorResponse, Json, OperationResult, Path, Query},
};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{ApiError, AppState};
use crate::{
    domain::{Line, Payment, PaymentId, PaymentStatus, ProductId},
    ports::{CustomerSummary, Page},
};

/// Largest page.
pub const MAX_PAGE_SIZE: i64 = 100;

/// A product line on the wire: `{id, name, price, category, quantity}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ProductResponse {
    /// Product id.
    pub id: ProductId,
    /// Name.
    pub name: String,
    /// Unit price, exact to the cent.
    #[serde(with = "rust_decimal::serde::float")]
    #[schema(value_type = f64)]
    pub price: Decimal,
    /// Category.
    pub category: String,
    /// Units.
    pub quantity: i32,
}

impl From<Line> for ProductResponse {
    fn from(line: Line) -> Self {
        Self {
            id: line.id,
            name: line.name,
            price: line.price,
            category: line.category,
            quantity: line.quantity,
        }
    }
}

/// A payment on the wire.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PaymentResponse {
    /// Id.
    pub id: PaymentId,
    /// The customer.
    pub customer_id: String,
    /// The product snapshot.
    pub products: Vec<ProductResponse>,
    /// Total, exact to the cent.
    #[serde(with = "rust_decimal::serde::float")]
    #[schema(value_type = f64)]
    pub total_price: Decimal,
    /// Status.
    pub status: PaymentStatus,
    /// When it was accepted (ISO-8601).
    pub created_date: DateTime<Utc>,
    /// Why it was cancelled; null unless CANCELLED.
    pub cancellation_reason: Option<String>,
}

impl From<Payment> for PaymentResponse {
    fn from(payment: Payment) -> Self {
        Self {
            id: payment.id,
            customer_id: payment.customer_id,
            products: payment.products.into_iter().map(Into::into).collect(),
            total_price: payment.total_price,
            status: payment.status,
            created_date: payment.created_date,
            cancellation_reason: payment.cancellation_reason,
        }
    }
}

/// P5: the payment and its customer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PaymentDetailResponse {
    /// The payment.
    pub payment: PaymentResponse,
    /// The customer; names are null when the identity provider could not answer.
    pub customer: CustomerSummary,
}

/// Paging parameters.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
pub struct PageQuery {
    /// 0-based page (default 0).
    page_number: Option<i64>,
    /// 1..=100 (default 10).
    page_size: Option<i64>,
}

impl PageQuery {
    fn page(&self) -> Result<Page, ErrorResponse> {
        let number = self.page_number.unwrap_or(0);
        let size = self.page_size.unwrap_or(10);
        if number < 0 {
            return Err(ErrorResponse::validation(format!(
                "pageNumber: must not be negative, got {number}"
            )));
        }
        if !(1..=MAX_PAGE_SIZE).contains(&size) {
            return Err(ErrorResponse::validation(format!(
                "pageSize: must be between 1 and {MAX_PAGE_SIZE}, got {size}"
            )));
        }
        Ok(Page { number, size })
    }
}

fn responses(payments: Vec<Payment>) -> Vec<PaymentResponse> {
    payments.into_iter().map(Into::into).collect()
}

/// P2 (also served without the trailing slash).
#[utoipa::path(get, path = "/payment/", params(PageQuery),
    responses((status = 200, body = [PaymentResponse]), (status = 400, body = platform::http::error::ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    _manager: Manager,
    Query(query): Query<PageQuery>,
) -> Result<Json<Vec<PaymentResponse>>, ApiError> {
    let payments = state.payments.list(query.page()?).await?;
    Ok(Json(responses(payments)))
}

/// P3: the caller's payments (cached; `x-cache: HIT|MISS`).
#[utoipa::path(get, path = "/payment/ofCurrentCustomer",
    responses((status = 200, body = [PaymentResponse])))]
pub async fn of_current_customer(
    State(state): State<AppState>,
    Customer(user): Customer,
) -> Result<(CacheStatus, Json<Vec<PaymentResponse>>), ApiError> {
    let (payments, status) = state.payments.of_customer(&user.id).await?;
    Ok((status, Json(responses(payments))))
}

/// P4 (cached; `x-cache: HIT|MISS`).
#[utoipa::path(get, path = "/payment/{id}",
    responses((status = 200, body = PaymentResponse), (status = 404, body = platform::http::error::ErrorBody)))]
pub async fn get_one(
    State(state): State<AppState>,
    _manager: Manager,
    Path(id): Path<PaymentId>,
) -> Result<(CacheStatus, Json<PaymentResponse>), ApiError> {
    let (payment, status) = state.payments.get(id).await?;
    Ok((status, Json(payment.into())))
}

/// P5: the payment with its customer's names from the identity provider.
#[utoipa::path(get, path = "/payment/{id}/detail",
    responses((status = 200, body = PaymentDetailResponse), (status = 404, body = platform::http::error::ErrorBody)))]
pub async fn detail(
    State(state): State<AppState>,
    _manager: Manager,
    Path(id): Path<PaymentId>,
) -> Result<Json<PaymentDetailResponse>, ApiError> {
    let (payment, customer) = state.payments.detail(id).await?;
    Ok(Json(PaymentDetailResponse {
        payment: payment.into(),
        customer,
    }))
}

/// P6: a customer's payments (what account shows; cached).
#[utoipa::path(get, path = "/payment/ofCustomer/{customerId}",
    responses((status = 200, body = [PaymentResponse])))]
pub async fn of_customer(
    State(state): State<AppState>,
    _manager: Manager,
    Path(customer_id): Path<String>,
) -> Result<(CacheStatus, Json<Vec<PaymentResponse>>), ApiError> {
    let (payments, status) = state.payments.of_customer(&customer_id).await?;
    Ok((status, Json(responses(payments))))
}

/// P7: checkout. 400 for an empty cart, 409 without a primary address.
#[utoipa::path(post, path = "/payment/accept",
    responses((status = 200, body = OperationResult), (status = 400, body = platform::http::error::ErrorBody),
        (status = 409, body = platform::http::error::ErrorBody)))]
pub async fn accept(
    State(state): State<AppState>,
    Customer(user): Customer,
) -> Result<OperationResult, ApiError> {
    state.payments.accept(&user.id).await?;
    Ok(OperationResult::success("Payment is accepted."))
}

/// The payment routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/payment", get(list))
        .route("/payment/", get(list))
        .route("/payment/ofCurrentCustomer", get(of_current_customer))
        .route("/payment/ofCustomer/{customer_id}", get(of_customer))
        .route("/payment/accept", post(accept))
        .route("/payment/{id}", get(get_one))
        .route("/payment/{id}/detail", get(detail))
}
