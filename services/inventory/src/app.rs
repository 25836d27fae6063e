//! The inventory use cases (reference §2.2 with SPEC §2's fixes), over the
//! [`ProductStore`] port and the product cache.

use std::time::Duration;

use platform::cache::{Cache, CacheStatus};

use crate::{
    domain::{
        Availability, NewProduct, Product, ProductId, UnavailableReason, ValidationError,
        product::desired_quantity,
    },
    events::ProductAvailable,
    ports::{Page, ProductStore, StoreError},
};

/// Cache name of single products (the original's `product`).
pub const PRODUCT_CACHE: &str = "product";
/// TTL of cached products (the original's 10 minutes).
pub const PRODUCT_TTL: Duration = Duration::from_secs(600);

/// Why an inventory operation failed.
#[derive(Debug, thiserror::Error)]
pub enum InventoryError {
    /// No such product.
    #[error("Product not found!")]
    NotFound(ProductId),
    /// Invalid input.
    #[error(transparent)]
    Validation(#[from] ValidationError),
    /// Add-to-cart of a product that cannot be bought.
    #[error("The product is not available. Reason: {}", .0.description())]
    NotAvailable(UnavailableReason),
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The use cases; cheap to clone.
#[derive(Debug, Clone)]
pub struct Inventory<S> {
    store: S,
    cache: Cache,
}

impl<S: ProductStore> Inventory<S> {
    /// Use cases over `store`, caching through `cache`.
    pub fn new(store: S, cache: Cache) -> Self {
        Self { store, cache }
    }

    /// I2: a page of products.
    pub async fn list(&self, page: Page) -> Result<Vec<Product>, InventoryError> {
        Ok(self.store.page(page).await?)
    }

    /// I3: one product, cache-aside.
    pub async fn get(&self, id: ProductId) -> Result<(Product, CacheStatus), InventoryError> {
        self.cache
            .get_or_load(PRODUCT_CACHE, &id.to_string(), PRODUCT_TTL, async {
                self.store
                    .get(id)
                    .await?
                    .ok_or(InventoryError::NotFound(id))
            })
            .await
    }

    /// I4: the products among `ids` that exist.
    pub async fn get_many(&self, ids: &[ProductId]) -> Result<Vec<Product>, InventoryError> {
        Ok(self.store.get_many(ids).await?)
    }

    /// I5: creates a product (available in the region).
    pub async fn create(&self, product: NewProduct) -> Result<Product, InventoryError> {
        Ok(self.store.insert(&product).await?)
    }

    /// I6: can `quantity` units be bought?
    pub async fn availability(
        &self,
        id: ProductId,
        quantity: i64,
    ) -> Result<Availability, InventoryError> {
        let quantity = desired_quantity(quantity)?;
        let (product, _) = self.get(id).await?;
        Ok(product.availability(quantity))
    }

    /// I7: sets the region flag; answers the availability for quantity 0.
    pub async fn change_region(
        &self,
        id: ProductId,
        available: bool,
    ) -> Result<Availability, InventoryError> {
        let product = self
            .store
            .set_region(id, available)
            .await?
            .ok_or(InventoryError::NotFound(id))?;
        self.evict(&[id]).await;
        Ok(product.availability(0))
    }

    /// I8: updates a product; keeps the region flag.
    pub async fn update(
        &self,
        id: ProductId,
        product: NewProduct,
    ) -> Result<Product, InventoryError> {
        let product = self
            .store
            .update(id, &product)
            .await?
            .ok_or(InventoryError::NotFound(id))?;
        self.evict(&[id]).await;
        Ok(product)
    }

    /// I9: checks availability and announces `product.available` through the outbox.
    pub async fn add_to_cart(
        &self,
        id: ProductId,
        quantity: i64,
        customer_id: &str,
    ) -> Result<(), InventoryError> {
        let quantity = desired_quantity(quantity)?;
        // Read from the store, not the cache: the decision must see the current stock.
        let product = self
            .store
            .get(id)
            .await?
            .ok_or(InventoryError::NotFound(id))?;
        if let Some(reason) = product.availability(quantity).unavailable_reason {
            return Err(InventoryError::NotAvailable(reason));
        }
        self.store
            .publish_added_to_cart(ProductAvailable {
                id,
                name: product.name,
                price: product.price,
                product_category: product.category,
                desired_quantity: quantity,
                customer_id: customer_id.to_owned(),
            })
            .await?;
        Ok(())
    }

    /// I10/I11: deletes the products among `ids` (missing ids are ignored, as in the original).
    pub async fn delete(&self, ids: &[ProductId]) -> Result<u64, InventoryError> {
        let deleted = self.store.delete(ids).await?;
        self.evict(ids).await;
        Ok(deleted)
    }

    /// Evicts cached products after a change.
    pub async fn evict(&self, ids: &[ProductId]) {
        evict_products(&self.cache, ids).await;
    }
}

/// Evicts cached products (also used by the stock-check consumer).
pub async fn evict_products(cache: &Cache, ids: &[ProductId]) {
    let keys: Vec<String> = ids.iter().map(ToString::to_string).collect();
    cache.evict(PRODUCT_CACHE, &keys).await;
}
