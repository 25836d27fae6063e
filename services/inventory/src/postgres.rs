//! The Postgres adapter: products, stock locking, and the outbox writes.
//! `sqlx::Error` stops here; the use cases see [`StoreError`].

use sqlx::{PgConnection, PgPool, Row, migrate::Migrator, postgres::PgRow};

use crate::{
    domain::{Category, NewProduct, Product, ProductId, StockLevel},
    events::ProductAvailable,
    ports::{Page, ProductStore, StoreError},
};

/// The service's migrations.
pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// Runs the platform's and the service's migrations.
pub async fn migrate(pool: &PgPool) -> Result<(), sqlx::migrate::MigrateError> {
    platform::postgres::migrate(pool, &MIGRATOR).await
}

fn store_error(err: sqlx::Error) -> StoreError {
    if platform::postgres::is_unavailable(&err) {
        StoreError::Unavailable(err.to_string())
    } else {
        StoreError::Other(err.to_string())
    }
}

/// The product columns, as a macro so queries stay `&'static str` (sqlx refuses dynamic SQL).
macro_rules! columns {
    () => {
        "id, name, price, category, quantity, is_available_in_region"
    };
}

fn product(row: &PgRow) -> Result<Product, sqlx::Error> {
    let category: String = row.try_get("category")?;
    Ok(Product {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        price: row.try_get("price")?,
        category: category
            .parse::<Category>()
            .map_err(|err| sqlx::Error::Decode(Box::new(err)))?,
        quantity: row.try_get("quantity")?,
        available_in_region: row.try_get("is_available_in_region")?,
    })
}

/// Products in Postgres.
#[derive(Debug, Clone)]
pub struct PgProductStore {
    pool: PgPool,
}

impl PgProductStore {
    /// A store over `pool`.
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }
}

impl ProductStore for PgProductStore {
    async fn page(&self, page: Page) -> Result<Vec<Product>, StoreError> {
        sqlx::query(concat!(
            "SELECT ",
            columns!(),
            " FROM product ORDER BY id LIMIT $1 OFFSET $2"
        ))
        .bind(page.size)
        .bind(page.number.saturating_mul(page.size))
        .try_map(|row: PgRow| product(&row))
        .fetch_all(&self.pool)
        .await
        .map_err(store_error)
    }

    async fn get(&self, id: ProductId) -> Result<Option<Product>, StoreError> {
        sqlx::query(concat!(
            "SELECT ",
            columns!(),
            " FROM product WHERE id = $1"
        ))
        .bind(id)
        .try_map(|row: PgRow| product(&row))
        .fetch_optional(&self.pool)
        .await
        .map_err(store_error)
    }

    async fn get_many(&self, ids: &[ProductId]) -> Result<Vec<Product>, StoreError> {
        sqlx::query(concat!(
            "SELECT ",
            columns!(),
            " FROM product WHERE id = ANY($1) ORDER BY id"
        ))
        .bind(ids)
        .try_map(|row: PgRow| product(&row))
        .fetch_all(&self.pool)
        .await
        .map_err(store_error)
    }

    async fn insert(&self, new: &NewProduct) -> Result<Product, StoreError> {
        sqlx::query(concat!("INSERT INTO product (name, price, category, quantity) VALUES ($1, $2, $3, $4) RETURNING ", columns!(), ""))
        .bind(&new.name)
        .bind(new.price)
        .bind(new.category.as_str())
        .bind(new.quantity)
        .try_map(|row: PgRow| product(&row))
        .fetch_one(&self.pool)
        .await
        .map_err(store_error)
    }

    async fn update(&self, id: ProductId, new: &NewProduct) -> Result<Option<Product>, StoreError> {
        sqlx::query(concat!(
            "UPDATE product SET name = $2, price = $3, category = $4, quantity = $5,
                 last_modified_date = now(), version = version + 1
             WHERE id = $1 RETURNING ",
            columns!(),
            ""
        ))
        .bind(id)
        .bind(&new.name)
        .bind(new.price)
        .bind(new.category.as_str())
        .bind(new.quantity)
        .try_map(|row: PgRow| product(&row))
        .fetch_optional(&self.pool)
        .await
        .map_err(store_error)
    }

    async fn set_region(
        &self,
        id: ProductId,
        available: bool,
    ) -> Result<Option<Product>, StoreError> {
        sqlx::query(concat!("UPDATE product SET is_available_in_region = $2, last_modified_date = now(), version = version + 1
             WHERE id = $1 RETURNING ", columns!(), ""))
        .bind(id)
        .bind(available)
        .try_map(|row: PgRow| product(&row))
        .fetch_optional(&self.pool)
        .await
        .map_err(store_error)
    }

    async fn delete(&self, ids: &[ProductId]) -> Result<u64, StoreError> {
        sqlx::query("DELETE FROM product WHERE id = ANY($1)")
            .bind(ids)
            .execute(&self.pool)
            .await
            .map(|result| result.rows_affected())
            .map_err(store_error)
    }

    async fn publish_added_to_cart(&self, event: ProductAvailable) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await.map_err(store_error)?;
        platform::messaging::outbox::enqueue(&mut tx, event)
            .await
            .map_err(store_error)?;
        tx.commit().await.map_err(store_error)
    }
}

/// Locks the stock rows of `ids` (in id order, so concurrent checks cannot deadlock)
/// for the rest of the transaction.
pub async fn lock_stock(
    tx: &mut PgConnection,
    ids: &[ProductId],
) -> Result<Vec<StockLevel>, sqlx::Error> {
    sqlx::query(
        "SELECT id, quantity, is_available_in_region FROM product
         WHERE id = ANY($1) ORDER BY id FOR UPDATE",
    )
    .bind(ids)
    .try_map(|row: PgRow| {
        Ok(StockLevel {
            id: row.try_get("id")?,
            quantity: row.try_get("quantity")?,
            available_in_region: row.try_get("is_available_in_region")?,
        })
    })
    .fetch_all(&mut *tx)
    .await
}

/// Writes new stock levels (within the transaction that locked them).
pub async fn set_stock(
    tx: &mut PgConnection,
    levels: &[(ProductId, i32)],
) -> Result<(), sqlx::Error> {
    let (ids, quantities): (Vec<ProductId>, Vec<i32>) = levels.iter().copied().unzip();
    sqlx::query(
        "UPDATE product p SET quantity = s.quantity, last_modified_date = now(), version = p.version + 1
         FROM UNNEST($1::bigint[], $2::int[]) AS s(id, quantity) WHERE p.id = s.id",
    )
    .bind(&ids)
    .bind(&quantities)
    .execute(&mut *tx)
    .await
    .map(drop)
}

/// Loads the original system's eight demo products (ids 1–8) into an empty table.
pub async fn load_demo_products(pool: &PgPool) -> Result<bool, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let existing: i64 = sqlx::query_scalar("SELECT count(*) FROM product")
        .fetch_one(&mut *tx)
        .await?;
    if existing > 0 {
        return Ok(false);
    }
    sqlx::query(
        "INSERT INTO product (id, name, price, category, quantity, is_available_in_region) VALUES
            (1, 'Clipper', 2.5, 'TOOL', 1, true),
            (2, 'Laptop', 3000, 'ELECTRONICS', 5, true),
            (3, 'Phone', 5, 'ELECTRONICS', 6, true),
            (4, 'Skirt', 20, 'CLOTHING', 3, true),
            (5, 'Pants', 500, 'CLOTHING', 7, true),
            (6, 'Apple', 499.99, 'ELECTRONICS', 4, false),
            (7, 'Ice Pick', 53, 'TOOL', 12, true),
            (8, 'Desk', 25, 'FURNITURE', 3, true)",
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "SELECT setval(pg_get_serial_sequence('product', 'id'), (SELECT max(id) FROM product))",
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(true)
}
