//! `/account/address` routes (A7–A11): the calling customer's own addresses.

use axum::{
    Router,
    extract::State,
    routing::{delete, get, put},
};
use platform::{
    auth::Customer,
    cache::CacheStatus,
    http::{ErrorResponse, Json, OperationResult, Path, Query},
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{ApiError, AppState};
use crate::{
    app::AddressError,
    domain::{Address, AddressId, NewAddress},
    ports::Page,
};

/// Largest page.
pub const MAX_PAGE_SIZE: i64 = 100;

/// An address on the wire: `{id, name, country, city, zipCode, isPrimary}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AddressResponse {
    /// Id.
    pub id: AddressId,
    /// Name, unique per customer.
    pub name: String,
    /// Country.
    pub country: String,
    /// City.
    pub city: String,
    /// Zip code.
    pub zip_code: String,
    /// Whether this is the primary address.
    pub is_primary: bool,
}

impl From<Address> for AddressResponse {
    fn from(address: Address) -> Self {
        Self {
            id: address.id,
            name: address.name,
            country: address.country,
            city: address.city,
            zip_code: address.zip_code,
            is_primary: address.is_primary,
        }
    }
}

/// A8 body; every field is required.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AddAddressRequest {
    /// 1..=100 characters, unique among the caller's addresses.
    name: String,
    /// 1..=50 characters.
    country: String,
    /// 1..=100 characters.
    city: String,
    /// 1..=10 characters.
    zip_code: String,
}

/// A9 body; every field is required.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UpdateAddressRequest {
    /// The address to change (one of the caller's).
    id: AddressId,
    /// 1..=100 characters, unique among the caller's addresses.
    name: String,
    /// 1..=50 characters.
    country: String,
    /// 1..=100 characters.
    city: String,
    /// 1..=10 characters.
    zip_code: String,
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

fn new_address(
    name: &str,
    country: &str,
    city: &str,
    zip_code: &str,
) -> Result<NewAddress, AddressError> {
    Ok(NewAddress::new(name, country, city, zip_code)?)
}

/// A7: a page of the caller's addresses ordered by id (cached per customer and page;
/// `x-cache: HIT|MISS`).
#[utoipa::path(get, path = "/account/address", params(PageQuery),
    responses((status = 200, body = [AddressResponse]), (status = 400, body = platform::http::error::ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    Customer(user): Customer,
    Query(query): Query<PageQuery>,
) -> Result<(CacheStatus, Json<Vec<AddressResponse>>), ApiError> {
    let (addresses, status) = state.addresses.list(&user.id, query.page()?).await?;
    Ok((
        status,
        Json(addresses.into_iter().map(Into::into).collect()),
    ))
}

/// A8: adds an address; the first one becomes primary. Answers 200 with the address, as
/// the original did.
#[utoipa::path(post, path = "/account/address", request_body = AddAddressRequest,
    responses((status = 200, body = AddressResponse), (status = 400, body = platform::http::error::ErrorBody),
        (status = 409, body = platform::http::error::ErrorBody)))]
pub async fn add(
    State(state): State<AppState>,
    Customer(user): Customer,
    Json(body): Json<AddAddressRequest>,
) -> Result<Json<AddressResponse>, ApiError> {
    let address = new_address(&body.name, &body.country, &body.city, &body.zip_code)?;
    Ok(Json(state.addresses.add(&user.id, address).await?.into()))
}

/// A9: edits one of the caller's addresses, its name included.
#[utoipa::path(put, path = "/account/address", request_body = UpdateAddressRequest,
    responses((status = 200, body = AddressResponse), (status = 404, body = platform::http::error::ErrorBody),
        (status = 409, body = platform::http::error::ErrorBody)))]
pub async fn update(
    State(state): State<AppState>,
    Customer(user): Customer,
    Json(body): Json<UpdateAddressRequest>,
) -> Result<Json<AddressResponse>, ApiError> {
    let address = new_address(&body.name, &body.country, &body.city, &body.zip_code)?;
    Ok(Json(
        state
            .addresses
            .update(&user.id, body.id, address)
            .await?
            .into(),
    ))
}

/// A10: deletes one of the caller's addresses; deleting the primary one promotes the
/// oldest remaining address.
#[utoipa::path(delete, path = "/account/address/{id}",
    responses((status = 200, body = OperationResult), (status = 404, body = platform::http::error::ErrorBody)))]
pub async fn remove(
    State(state): State<AppState>,
    Customer(user): Customer,
    Path(id): Path<AddressId>,
) -> Result<OperationResult, ApiError> {
    state.addresses.remove(&user.id, id).await?;
    Ok(OperationResult::success("Address is removed."))
}

/// A11: makes one of the caller's addresses the primary one.
#[utoipa::path(put, path = "/account/address/{id}/setPrimary",
    responses((status = 200, body = OperationResult), (status = 404, body = platform::http::error::ErrorBody),
        (status = 409, body = platform::http::error::ErrorBody)))]
pub async fn set_primary(
    State(state): State<AppState>,
    Customer(user): Customer,
    Path(id): Path<AddressId>,
) -> Result<OperationResult, ApiError> {
    let address = state.addresses.set_primary(&user.id, id).await?;
    Ok(OperationResult::success(format!(
        "Your address {} is set to primary.",
        address.name
    )))
}

/// The address routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/account/address", get(list).post(add).put(update))
        .route("/account/address/{id}", delete(remove))
        .route("/account/address/{id}/setPrimary", put(set_primary))
}
