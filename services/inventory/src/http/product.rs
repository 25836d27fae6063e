//! `/inventory/product` routes (I2–I11).

use axum::{
    Router,
    extract::State,
    http::StatusCode,
    routing::{get, post},
};
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
    domain::{Availability, Category, NewProduct, Product, ProductId},
    ports::Page,
};

/// Largest page and largest `ids` list.
pub const MAX_PAGE_SIZE: i64 = 100;

/// A product on the wire: `{id, name, price, category, quantity}` (the region flag stays inside).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ProductResponse {
    /// Id.
    pub id: ProductId,
    /// Name.
    pub name: String,
    /// Price, exact to the cent.
    #[serde(with = "rust_decimal::serde::float")]
    #[schema(value_type = f64)]
    pub price: Decimal,
    /// Category.
    pub category: Category,
    /// Units in stock.
    pub quantity: i32,
}

impl From<Product> for ProductResponse {
    fn from(product: Product) -> Self {
        Self {
            id: product.id,
            name: product.name,
            price: product.price,
            category: product.category,
            quantity: product.quantity,
        }
    }
}

/// I5 body.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CreateProductRequest {
    name: String,
    #[serde(with = "rust_decimal::serde::float")]
    #[schema(value_type = f64)]
    price: Decimal,
    category: Category,
    quantity: i64,
}

/// I8 body.
#[derive(Debug, Deserialize, ToSchema)]
pub struct UpdateProductRequest {
    id: ProductId,
    name: String,
    #[serde(with = "rust_decimal::serde::float")]
    #[schema(value_type = f64)]
    price: Decimal,
    category: Category,
    quantity: i64,
}

/// I7 body.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ChangeAvailabilityRequest {
    id: ProductId,
    availability: bool,
}

/// I9 body.
#[derive(Debug, Deserialize, ToSchema)]
pub struct AddToCartRequest {
    quantity: i64,
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

/// `ids=1,2,3`.
#[derive(Debug, Deserialize, IntoParams)]
pub struct IdsQuery {
    /// Comma-separated product ids (at most 100).
    ids: String,
}

impl IdsQuery {
    fn parse(&self) -> Result<Vec<ProductId>, ErrorResponse> {
        let ids = self
            .ids
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| {
                s.parse::<ProductId>().map_err(|_| {
                    ErrorResponse::validation(format!("ids: {s:?} is not a valid product id"))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        if ids.is_empty() {
            return Err(ErrorResponse::validation(
                "ids: at least one product id is required",
            ));
        }
        if ids.len() > MAX_PAGE_SIZE as usize {
            return Err(ErrorResponse::validation(format!(
                "ids: at most {MAX_PAGE_SIZE} ids per request, got {}",
                ids.len()
            )));
        }
        Ok(ids)
    }
}

/// `quantity=N`.
#[derive(Debug, Deserialize, IntoParams)]
pub struct QuantityQuery {
    /// Units wanted, ≥ 1.
    quantity: i64,
}

/// I2.
#[utoipa::path(get, path = "/inventory/product", params(PageQuery),
    responses((status = 200, body = [ProductResponse]), (status = 400, body = platform::http::error::ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    _user: Customer,
    Query(query): Query<PageQuery>,
) -> Result<Json<Vec<ProductResponse>>, ApiError> {
    let products = state.inventory.list(query.page()?).await?;
    Ok(Json(products.into_iter().map(Into::into).collect()))
}

/// I3 (cached; `x-cache: HIT|MISS`).
#[utoipa::path(get, path = "/inventory/product/{id}",
    responses((status = 200, body = ProductResponse), (status = 404, body = platform::http::error::ErrorBody)))]
pub async fn get_one(
    State(state): State<AppState>,
    _user: Customer,
    Path(id): Path<ProductId>,
) -> Result<(CacheStatus, Json<ProductResponse>), ApiError> {
    let (product, status) = state.inventory.get(id).await?;
    Ok((status, Json(product.into())))
}

/// I4.
#[utoipa::path(get, path = "/inventory/product/ids", params(IdsQuery),
    responses((status = 200, body = [ProductResponse]), (status = 400, body = platform::http::error::ErrorBody)))]
pub async fn get_many(
    State(state): State<AppState>,
    _user: Customer,
    Query(query): Query<IdsQuery>,
) -> Result<Json<Vec<ProductResponse>>, ApiError> {
    let products = state.inventory.get_many(&query.parse()?).await?;
    Ok(Json(products.into_iter().map(Into::into).collect()))
}

/// I5: 201 with the created product.
#[utoipa::path(post, path = "/inventory/product", request_body = CreateProductRequest,
    responses((status = 201, body = ProductResponse), (status = 400, body = platform::http::error::ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    _manager: Manager,
    Json(body): Json<CreateProductRequest>,
) -> Result<(StatusCode, Json<ProductResponse>), ApiError> {
    let product = NewProduct::new(&body.name, body.price, body.category, body.quantity)
        .map_err(crate::app::InventoryError::from)?;
    let product = state.inventory.create(product).await?;
    Ok((StatusCode::CREATED, Json(product.into())))
}

/// I6.
#[utoipa::path(get, path = "/inventory/product/{id}/isAvailable", params(QuantityQuery),
    responses((status = 200, body = Availability), (status = 404, body = platform::http::error::ErrorBody)))]
pub async fn is_available(
    State(state): State<AppState>,
    _user: Customer,
    Path(id): Path<ProductId>,
    Query(query): Query<QuantityQuery>,
) -> Result<Json<Availability>, ApiError> {
    Ok(Json(
        state.inventory.availability(id, query.quantity).await?,
    ))
}

/// I7.
#[utoipa::path(post, path = "/inventory/product/changeAvailability", request_body = ChangeAvailabilityRequest,
    responses((status = 200, body = Availability), (status = 404, body = platform::http::error::ErrorBody)))]
pub async fn change_availability(
    State(state): State<AppState>,
    _manager: Manager,
    Json(body): Json<ChangeAvailabilityRequest>,
) -> Result<Json<Availability>, ApiError> {
    Ok(Json(
        state
            .inventory
            .change_region(body.id, body.availability)
            .await?,
    ))
}

/// I8.
#[utoipa::path(put, path = "/inventory/product", request_body = UpdateProductRequest,
    responses((status = 200, body = ProductResponse), (status = 404, body = platform::http::error::ErrorBody)))]
pub async fn update(
    State(state): State<AppState>,
    _manager: Manager,
    Json(body): Json<UpdateProductRequest>,
) -> Result<Json<ProductResponse>, ApiError> {
    let product = NewProduct::new(&body.name, body.price, body.category, body.quantity)
        .map_err(crate::app::InventoryError::from)?;
    Ok(Json(state.inventory.update(body.id, product).await?.into()))
}

/// I9: 409 when the product cannot be bought in that quantity.
#[utoipa::path(post, path = "/inventory/product/{id}/addToCart", request_body = AddToCartRequest,
    responses((status = 200, body = OperationResult), (status = 409, body = platform::http::error::ErrorBody)))]
pub async fn add_to_cart(
    State(state): State<AppState>,
    Customer(user): Customer,
    Path(id): Path<ProductId>,
    Json(body): Json<AddToCartRequest>,
) -> Result<OperationResult, ApiError> {
    state
        .inventory
        .add_to_cart(id, body.quantity, &user.id)
        .await?;
    Ok(OperationResult::success("Product is added to the cart."))
}

/// I10.
#[utoipa::path(delete, path = "/inventory/product/{id}", responses((status = 200, body = OperationResult)))]
pub async fn delete_one(
    State(state): State<AppState>,
    _manager: Manager,
    Path(id): Path<ProductId>,
) -> Result<OperationResult, ApiError> {
    state.inventory.delete(&[id]).await?;
    Ok(OperationResult::success("Product is deleted successfully."))
}

/// I11.
#[utoipa::path(delete, path = "/inventory/product/ids", params(IdsQuery), responses((status = 200, body = OperationResult)))]
pub async fn delete_many(
    State(state): State<AppState>,
    _manager: Manager,
    Query(query): Query<IdsQuery>,
) -> Result<OperationResult, ApiError> {
    state.inventory.delete(&query.parse()?).await?;
    Ok(OperationResult::success(
        "Products are deleted successfully.",
    ))
}

/// The product routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/inventory/product", get(list).post(create).put(update))
        .route("/inventory/product/ids", get(get_many).delete(delete_many))
        .route(
            "/inventory/product/changeAvailability",
            post(change_availability),
        )
        .route("/inventory/product/{id}", get(get_one).delete(delete_one))
        .route("/inventory/product/{id}/isAvailable", get(is_available))
        .route("/inventory/product/{id}/addToCart", post(add_to_cart))
}
