//! `/payment/cart` routes (P8–P10).

use axum::{
    Router,
    extract::State,
    routing::{delete, get},
};
use platform::{
    auth::Customer,
    cache::CacheStatus,
    http::{ErrorResponse, Json, OperationResult},
};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{ApiError, AppState, payment::ProductResponse};
use crate::domain::{Cart, ProductId};

/// A cart on the wire: `{id|null, customerId, products, totalPrice}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CartResponse {
    /// Null for a customer who never had a cart.
    pub id: Option<i64>,
    /// The owner.
    pub customer_id: String,
    /// The lines.
    pub products: Vec<ProductResponse>,
    /// `Σ price × quantity`, exact.
    #[serde(with = "rust_decimal::serde::float")]
    #[schema(value_type = f64)]
    pub total_price: Decimal,
}

impl From<Cart> for CartResponse {
    fn from(cart: Cart) -> Self {
        Self {
            total_price: cart.total_price(),
            id: cart.id,
            customer_id: cart.customer_id,
            products: cart.products.into_iter().map(Into::into).collect(),
        }
    }
}

/// P9 body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RemoveFromCartRequest {
    /// The product to take one unit of.
    product_id: ProductId,
}

/// P8: the caller's cart (cached; `x-cache: HIT|MISS`).
#[utoipa::path(get, path = "/payment/cart", responses((status = 200, body = CartResponse)))]
pub async fn get_cart(
    State(state): State<AppState>,
    Customer(user): Customer,
) -> Result<(CacheStatus, Json<CartResponse>), ApiError> {
    let (cart, status) = state.payments.cart(&user.id).await?;
    Ok((status, Json(cart.into())))
}

/// P9: removes one unit; 404 when the product is not in the cart.
#[utoipa::path(delete, path = "/payment/cart", request_body = RemoveFromCartRequest,
    responses((status = 200, body = OperationResult), (status = 400, body = platform::http::error::ErrorBody),
        (status = 404, body = platform::http::error::ErrorBody)))]
pub async fn remove_from_cart(
    State(state): State<AppState>,
    Customer(user): Customer,
    Json(body): Json<RemoveFromCartRequest>,
) -> Result<OperationResult, ApiError> {
    if body.product_id < 1 {
        return Err(ErrorResponse::validation(format!(
            "productId: must be positive, got {}",
            body.product_id
        ))
        .into());
    }
    state
        .payments
        .remove_from_cart(&user.id, body.product_id)
        .await?;
    Ok(OperationResult::success(
        "Product is removed from the cart.",
    ))
}

/// P10: empties the cart; 409 when it is already empty.
#[utoipa::path(delete, path = "/payment/cart/clear",
    responses((status = 200, body = OperationResult), (status = 409, body = platform::http::error::ErrorBody)))]
pub async fn clear_cart(
    State(state): State<AppState>,
    Customer(user): Customer,
) -> Result<OperationResult, ApiError> {
    state.payments.clear_cart(&user.id).await?;
    Ok(OperationResult::success("Your cart is now empty."))
}

/// The cart routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/payment/cart", get(get_cart).delete(remove_from_cart))
        .route("/payment/cart/clear", delete(clear_cart))
}
