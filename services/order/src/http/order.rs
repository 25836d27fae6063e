//! `/order` routes (O2–O9 and ship).

use axum::{
    Router,
    extract::State,
    routing::{get, put},
};
use chrono::{DateTime, Utc};
use platform::{
    auth::{Customer, Manager},
    cache::CacheStatus,
    http::{ErrorResponse, Json, OperationResult, Path, Query},
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{ApiError, AppState};
use crate::{
    app::{OrderDetail, OrderError},
    domain::{Cancellation, Order, OrderId, OrderStatus},
    ports::{CustomerName, Page, PaymentSummary},
};

/// Largest page.
pub const MAX_PAGE_SIZE: i64 = 100;

/// An order on the wire (`OrderResponse`); `cancellation` is null unless cancelled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrderResponse {
    /// Id.
    pub id: OrderId,
    /// Status, by name.
    pub status: OrderStatus,
    /// The customer (token `sub`).
    pub customer_id: String,
    /// The payment it came from.
    pub payment_id: i64,
    /// Delivery address.
    pub address: String,
    /// When it was created (ISO-8601).
    pub created_date: DateTime<Utc>,
    /// Why it was cancelled, when it was.
    pub cancellation: Option<Cancellation>,
    /// Who received it, when delivered.
    pub recipient: Option<String>,
}

impl From<Order> for OrderResponse {
    fn from(order: Order) -> Self {
        Self {
            id: order.id,
            status: order.status,
            customer_id: order.customer_id,
            payment_id: order.payment_id,
            address: order.address,
            created_date: order.created_date,
            cancellation: order.cancellation,
            recipient: order.recipient,
        }
    }
}

fn responses(orders: Vec<Order>) -> Vec<OrderResponse> {
    orders.into_iter().map(Into::into).collect()
}

/// An order with its customer and payment (`OrderDetailResponse`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrderDetailResponse {
    /// The order.
    pub order: OrderResponse,
    /// The customer; names are null when the identity provider could not answer.
    pub customer: CustomerName,
    /// The payment; null when the payment service could not answer in time.
    pub payment: Option<PaymentSummary>,
}

impl From<OrderDetail> for OrderDetailResponse {
    fn from(detail: OrderDetail) -> Self {
        Self {
            order: detail.order.into(),
            customer: detail.customer,
            payment: detail.payment,
        }
    }
}

/// O7 body. The reason is a name (`DELIVERY_TOOK_TOO_LONG`, ...), read as text so an
/// unknown one gets a message listing the known ones.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CancelRequest {
    /// `DELIVERY_TOOK_TOO_LONG`, `FOUND_BETTER_ALTERNATIVE` or `DONT_NEED_ANYMORE`.
    cancellation_reason: String,
    /// At most 500 characters.
    explanation: Option<String>,
}

/// O8 body.
#[derive(Debug, Deserialize, ToSchema)]
pub struct DeliverRequest {
    /// Who received the order: 1..=100 characters.
    recipient: String,
}

/// O9 body.
#[derive(Debug, Deserialize, ToSchema)]
pub struct DeliveryAddressRequest {
    /// The new address: 1..=200 characters.
    address: String,
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

/// O2: a page of all orders.
#[utoipa::path(get, path = "/order", params(PageQuery),
    responses((status = 200, body = [OrderResponse]), (status = 400, body = platform::http::error::ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    _manager: Manager,
    Query(query): Query<PageQuery>,
) -> Result<Json<Vec<OrderResponse>>, ApiError> {
    let orders = state.orders.list(query.page()?).await?;
    Ok(Json(responses(orders)))
}

/// O2 at the original's path, with the trailing slash.
#[utoipa::path(get, path = "/order/", params(PageQuery),
    responses((status = 200, body = [OrderResponse]), (status = 400, body = platform::http::error::ErrorBody)))]
pub async fn list_slash(
    state: State<AppState>,
    manager: Manager,
    query: Query<PageQuery>,
) -> Result<Json<Vec<OrderResponse>>, ApiError> {
    list(state, manager, query).await
}

/// O3: the caller's orders (cached 60 min; `x-cache: HIT|MISS`).
#[utoipa::path(get, path = "/order/ofCurrentCustomer",
    responses((status = 200, body = [OrderResponse])))]
pub async fn of_current_customer(
    State(state): State<AppState>,
    Customer(user): Customer,
) -> Result<(CacheStatus, Json<Vec<OrderResponse>>), ApiError> {
    let (orders, status) = state.orders.of_customer(&user.id).await?;
    Ok((status, Json(responses(orders))))
}

/// O4: one order (cached 15 min, evicted on every change; `x-cache: HIT|MISS`).
#[utoipa::path(get, path = "/order/{id}",
    responses((status = 200, body = OrderResponse), (status = 404, body = platform::http::error::ErrorBody)))]
pub async fn get_one(
    State(state): State<AppState>,
    _manager: Manager,
    Path(id): Path<OrderId>,
) -> Result<(CacheStatus, Json<OrderResponse>), ApiError> {
    let (order, status) = state.orders.get(id).await?;
    Ok((status, Json(order.into())))
}

/// O5: the order with its customer and payment; the payment is null when the payment
/// service cannot answer within the timeout, the names are null when the identity
/// provider cannot.
#[utoipa::path(get, path = "/order/{id}/detail",
    responses((status = 200, body = OrderDetailResponse), (status = 404, body = platform::http::error::ErrorBody)))]
pub async fn detail(
    State(state): State<AppState>,
    Manager(manager): Manager,
    Path(id): Path<OrderId>,
) -> Result<Json<OrderDetailResponse>, ApiError> {
    let detail = state.orders.detail(id, &manager.token).await?;
    Ok(Json(detail.into()))
}

/// O6: a customer's orders (used by account; cached 60 min; `x-cache: HIT|MISS`).
#[utoipa::path(get, path = "/order/ofCustomer/{customerId}",
    params(("customerId" = String, Path, description = "The identity provider's user id")),
    responses((status = 200, body = [OrderResponse])))]
pub async fn of_customer(
    State(state): State<AppState>,
    _manager: Manager,
    Path(customer_id): Path<String>,
) -> Result<(CacheStatus, Json<Vec<OrderResponse>>), ApiError> {
    let (orders, status) = state.orders.of_customer(&customer_id).await?;
    Ok((status, Json(responses(orders))))
}

/// O7: the customer cancels their own order (404 for someone else's); the payment is
/// refunded and the stock restored through `order.cancelled`.
#[utoipa::path(put, path = "/order/{id}/cancel", request_body = CancelRequest,
    responses((status = 200, body = OperationResult), (status = 400, body = platform::http::error::ErrorBody),
        (status = 404, body = platform::http::error::ErrorBody), (status = 409, body = platform::http::error::ErrorBody)))]
pub async fn cancel(
    State(state): State<AppState>,
    Customer(user): Customer,
    Path(id): Path<OrderId>,
    Json(body): Json<CancelRequest>,
) -> Result<OperationResult, ApiError> {
    let cancellation = Cancellation::new(&body.cancellation_reason, body.explanation.as_deref())
        .map_err(OrderError::from)?;
    state.orders.cancel(id, &user.id, cancellation).await?;
    Ok(OperationResult::success("Your order is cancelled."))
}

/// Ship (new): a manager sends a preparing order on its way.
#[utoipa::path(put, path = "/order/{id}/ship",
    responses((status = 200, body = OperationResult), (status = 404, body = platform::http::error::ErrorBody),
        (status = 409, body = platform::http::error::ErrorBody)))]
pub async fn ship(
    State(state): State<AppState>,
    _manager: Manager,
    Path(id): Path<OrderId>,
) -> Result<OperationResult, ApiError> {
    state.orders.ship(id).await?;
    Ok(OperationResult::success("The order is on its way."))
}

/// O8: a manager records the delivery of an order on its way.
#[utoipa::path(put, path = "/order/{id}/deliver", request_body = DeliverRequest,
    responses((status = 200, body = OperationResult), (status = 400, body = platform::http::error::ErrorBody),
        (status = 404, body = platform::http::error::ErrorBody), (status = 409, body = platform::http::error::ErrorBody)))]
pub async fn deliver(
    State(state): State<AppState>,
    _manager: Manager,
    Path(id): Path<OrderId>,
    Json(body): Json<DeliverRequest>,
) -> Result<OperationResult, ApiError> {
    let order = state.orders.deliver(id, &body.recipient).await?;
    Ok(OperationResult::success(format!(
        "The order is delivered to {}",
        order.recipient.unwrap_or_default()
    )))
}

/// O9: the customer changes the delivery address of their own preparing order (404 for
/// someone else's).
#[utoipa::path(put, path = "/order/{id}/deliveryAddress", request_body = DeliveryAddressRequest,
    responses((status = 200, body = OperationResult), (status = 400, body = platform::http::error::ErrorBody),
        (status = 404, body = platform::http::error::ErrorBody), (status = 409, body = platform::http::error::ErrorBody)))]
pub async fn delivery_address(
    State(state): State<AppState>,
    Customer(user): Customer,
    Path(id): Path<OrderId>,
    Json(body): Json<DeliveryAddressRequest>,
) -> Result<OperationResult, ApiError> {
    let order = state
        .orders
        .change_address(id, &user.id, &body.address)
        .await?;
    Ok(OperationResult::success(format!(
        "Your delivery address is updated successfully. New address: {}",
        order.address
    )))
}

/// The order routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/order", get(list))
        .route("/order/", get(list_slash))
        .route("/order/ofCurrentCustomer", get(of_current_customer))
        .route("/order/ofCustomer/{customer_id}", get(of_customer))
        .route("/order/{id}", get(get_one))
        .route("/order/{id}/detail", get(detail))
        .route("/order/{id}/cancel", put(cancel))
        .route("/order/{id}/ship", put(ship))
        .route("/order/{id}/deliver", put(deliver))
        .route("/order/{id}/deliveryAddress", put(delivery_address))
}
