//! The Postgres adapter: addresses, the per-customer write lock, and the outbox writes.
//! `sqlx::Error` stops here; the use cases see [`StoreError`], with a unique violation
//! of the name constraint translated into [`StoreError::Duplicate`].

use sqlx::{PgPool, Postgres, Row, Transaction, migrate::Migrator, postgres::PgRow};

use crate::{
    domain::{Address, AddressId, NewAddress},
    events::PrimaryAddressSaved,
    ports::{AddressStore, AddressTx, Page, StoreError},
};

/// The service's migrations.
pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// Runs the platform's and the service's migrations.
pub async fn migrate(pool: &PgPool) -> Result<(), sqlx::migrate::MigrateError> {
    platform::postgres::migrate(pool, &MIGRATOR).await
}

/// The unique constraint on `(customer_id, name)`.
const NAME_CONSTRAINT: &str = "address_customer_name";

fn store_error(err: sqlx::Error) -> StoreError {
    if let sqlx::Error::Database(db) = &err
        && db.is_unique_violation()
        && db.constraint() == Some(NAME_CONSTRAINT)
    {
        return StoreError::Duplicate;
    }
    if platform::postgres::is_unavailable(&err) {
        StoreError::Unavailable(err.to_string())
    } else {
        StoreError::Other(err.to_string())
    }
}

/// The address columns, as a macro so queries stay `&'static str` (sqlx refuses dynamic SQL).
macro_rules! columns {
    () => {
        "id, customer_id, name, country, city, zip_code, is_primary"
    };
}

fn address(row: &PgRow) -> Result<Address, sqlx::Error> {
    Ok(Address {
        id: row.try_get("id")?,
        customer_id: row.try_get("customer_id")?,
        name: row.try_get("name")?,
        country: row.try_get("country")?,
        city: row.try_get("city")?,
        zip_code: row.try_get("zip_code")?,
        is_primary: row.try_get("is_primary")?,
    })
}

/// Addresses in Postgres.
#[derive(Debug, Clone)]
pub struct PgAddressStore {
    pool: PgPool,
}

impl PgAddressStore {
    /// A store over `pool`.
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }
}

impl AddressStore for PgAddressStore {
    type Tx = PgAddressTx;

    async fn page(&self, customer_id: &str, page: Page) -> Result<Vec<Address>, StoreError> {
        sqlx::query(concat!(
            "SELECT ",
            columns!(),
            " FROM address WHERE customer_id = $1 ORDER BY id LIMIT $2 OFFSET $3"
        ))
        .bind(customer_id)
        .bind(page.size)
        .bind(page.number.saturating_mul(page.size))
        .try_map(|row: PgRow| address(&row))
        .fetch_all(&self.pool)
        .await
        .map_err(store_error)
    }

    async fn begin(&self, customer_id: &str) -> Result<PgAddressTx, StoreError> {
        let mut tx = self.pool.begin().await.map_err(store_error)?;
        // Serializes the writes of one customer until commit or rollback: "the first
        // address is primary" reads a count, and two concurrent first addresses must not
        // both see zero.
        sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
            .bind(customer_id)
            .execute(&mut *tx)
            .await
            .map_err(store_error)?;
        Ok(PgAddressTx {
            tx,
            customer_id: customer_id.to_owned(),
        })
    }
}

/// A transaction on one customer's addresses.
#[derive(Debug)]
pub struct PgAddressTx {
    tx: Transaction<'static, Postgres>,
    customer_id: String,
}

impl PgAddressTx {
    async fn one(
        &mut self,
        sql: &'static str,
        id: Option<AddressId>,
    ) -> Result<Option<Address>, StoreError> {
        let mut query = sqlx::query(sql).bind(&self.customer_id);
        if let Some(id) = id {
            query = query.bind(id);
        }
        query
            .try_map(|row: PgRow| address(&row))
            .fetch_optional(&mut *self.tx)
            .await
            .map_err(store_error)
    }
}

impl AddressTx for PgAddressTx {
    async fn count(&mut self) -> Result<i64, StoreError> {
        sqlx::query_scalar("SELECT count(*) FROM address WHERE customer_id = $1")
            .bind(&self.customer_id)
            .fetch_one(&mut *self.tx)
            .await
            .map_err(store_error)
    }

    async fn get(&mut self, id: AddressId) -> Result<Option<Address>, StoreError> {
        self.one(
            concat!(
                "SELECT ",
                columns!(),
                " FROM address WHERE customer_id = $1 AND id = $2"
            ),
            Some(id),
        )
        .await
    }

    async fn primary(&mut self) -> Result<Option<Address>, StoreError> {
        self.one(
            concat!(
                "SELECT ",
                columns!(),
                " FROM address WHERE customer_id = $1 AND is_primary"
            ),
            None,
        )
        .await
    }

    async fn oldest(&mut self) -> Result<Option<Address>, StoreError> {
        self.one(
            concat!(
                "SELECT ",
                columns!(),
                " FROM address WHERE customer_id = $1 ORDER BY created_date, id LIMIT 1"
            ),
            None,
        )
        .await
    }

    async fn insert(&mut self, new: &NewAddress, primary: bool) -> Result<Address, StoreError> {
        sqlx::query(concat!(
            "INSERT INTO address (customer_id, name, country, city, zip_code, is_primary)
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING ",
            columns!()
        ))
        .bind(&self.customer_id)
        .bind(&new.name)
        .bind(&new.country)
        .bind(&new.city)
        .bind(&new.zip_code)
        .bind(primary)
        .try_map(|row: PgRow| address(&row))
        .fetch_one(&mut *self.tx)
        .await
        .map_err(store_error)
    }

    async fn update(
        &mut self,
        id: AddressId,
        new: &NewAddress,
    ) -> Result<Option<Address>, StoreError> {
        sqlx::query(concat!(
            "UPDATE address SET name = $3, country = $4, city = $5, zip_code = $6,
                 last_modified_date = now(), version = version + 1
             WHERE customer_id = $1 AND id = $2 RETURNING ",
            columns!()
        ))
        .bind(&self.customer_id)
        .bind(id)
        .bind(&new.name)
        .bind(&new.country)
        .bind(&new.city)
        .bind(&new.zip_code)
        .try_map(|row: PgRow| address(&row))
        .fetch_optional(&mut *self.tx)
        .await
        .map_err(store_error)
    }

    async fn delete(&mut self, id: AddressId) -> Result<Option<Address>, StoreError> {
        self.one(
            concat!(
                "DELETE FROM address WHERE customer_id = $1 AND id = $2 RETURNING ",
                columns!()
            ),
            Some(id),
        )
        .await
    }

    async fn set_primary(
        &mut self,
        id: AddressId,
        primary: bool,
    ) -> Result<Option<Address>, StoreError> {
        sqlx::query(concat!(
            "UPDATE address SET is_primary = $3, last_modified_date = now(), version = version + 1
             WHERE customer_id = $1 AND id = $2 RETURNING ",
            columns!()
        ))
        .bind(&self.customer_id)
        .bind(id)
        .bind(primary)
        .try_map(|row: PgRow| address(&row))
        .fetch_optional(&mut *self.tx)
        .await
        .map_err(store_error)
    }

    async fn publish(&mut self, event: PrimaryAddressSaved) -> Result<(), StoreError> {
        platform::messaging::outbox::enqueue(&mut self.tx, event)
            .await
            .map(drop)
            .map_err(store_error)
    }

    async fn commit(self) -> Result<(), StoreError> {
        self.tx.commit().await.map_err(store_error)
    }
}

/// Loads the original system's two demo addresses (tommy's `home`, vader's `work`, both
/// primary) into an empty table. No events: payment seeds its own copy.
pub async fn load_demo_addresses(pool: &PgPool) -> Result<bool, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let existing: i64 = sqlx::query_scalar("SELECT count(*) FROM address")
        .fetch_one(&mut *tx)
        .await?;
    if existing > 0 {
        return Ok(false);
    }
    sqlx::query(
        "INSERT INTO address (id, customer_id, name, country, city, zip_code, is_primary) VALUES
            (1, 'c908ce9d-faec-4570-b84d-71a4e77f2f4a', 'home', 'uk', 'birmingham', '26593', true),
            (2, '47ac2317-2da2-457a-90d6-48d5a0f9739a', 'work', 'finland', 'helsinki', '48249', true)",
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "SELECT setval(pg_get_serial_sequence('address', 'id'), (SELECT max(id) FROM address))",
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(true)
}
