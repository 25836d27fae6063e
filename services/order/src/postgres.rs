//! The Postgres adapter: orders, their transactions, the outbox writes, and the insert
//! the `payment.approved` consumer makes. `sqlx::Error` stops here; the use cases see
//! [`StoreError`].

use sqlx::{PgConnection, PgPool, Postgres, Row, Transaction, migrate::Migrator, postgres::PgRow};

use crate::{
    domain::{Cancellation, CancellationReason, NewOrder, Order, OrderId, OrderStatus},
    events::OrderCancelled,
    ports::{OrderStore, OrderTx, Page, StoreError},
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

/// The order columns, as a macro so queries stay `&'static str` (sqlx refuses dynamic SQL).
macro_rules! columns {
    () => {
        "id, status, customer_id, payment_id, address, cancellation_reason, \
         cancellation_explanation, recipient, created_date"
    };
}

fn decode(err: impl std::error::Error + Send + Sync + 'static) -> sqlx::Error {
    sqlx::Error::Decode(Box::new(err))
}

fn order(row: &PgRow) -> Result<Order, sqlx::Error> {
    let status: String = row.try_get("status")?;
    let reason: Option<String> = row.try_get("cancellation_reason")?;
    let cancellation = reason
        .map(|reason| {
            Ok::<_, sqlx::Error>(Cancellation {
                cancellation_reason: reason.parse::<CancellationReason>().map_err(decode)?,
                explanation: row.try_get("cancellation_explanation")?,
            })
        })
        .transpose()?;
    Ok(Order {
        id: row.try_get("id")?,
        status: status.parse::<OrderStatus>().map_err(decode)?,
        customer_id: row.try_get("customer_id")?,
        payment_id: row.try_get("payment_id")?,
        address: row.try_get("address")?,
        created_date: row.try_get("created_date")?,
        cancellation,
        recipient: row.try_get("recipient")?,
    })
}

/// Orders in Postgres.
#[derive(Debug, Clone)]
pub struct PgOrderStore {
    pool: PgPool,
}

impl PgOrderStore {
    /// A store over `pool`.
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }
}

impl OrderStore for PgOrderStore {
    type Tx = PgOrderTx;

    async fn page(&self, page: Page) -> Result<Vec<Order>, StoreError> {
        sqlx::query(concat!(
            "SELECT ",
            columns!(),
            " FROM orders ORDER BY id LIMIT $1 OFFSET $2"
        ))
        .bind(page.size)
        .bind(page.number.saturating_mul(page.size))
        .try_map(|row: PgRow| order(&row))
        .fetch_all(&self.pool)
        .await
        .map_err(store_error)
    }

    async fn get(&self, id: OrderId) -> Result<Option<Order>, StoreError> {
        sqlx::query(concat!("SELECT ", columns!(), " FROM orders WHERE id = $1"))
            .bind(id)
            .try_map(|row: PgRow| order(&row))
            .fetch_optional(&self.pool)
            .await
            .map_err(store_error)
    }

    async fn of_customer(&self, customer_id: &str) -> Result<Vec<Order>, StoreError> {
        sqlx::query(concat!(
            "SELECT ",
            columns!(),
            " FROM orders WHERE customer_id = $1 ORDER BY id"
        ))
        .bind(customer_id)
        .try_map(|row: PgRow| order(&row))
        .fetch_all(&self.pool)
        .await
        .map_err(store_error)
    }

    async fn begin(&self) -> Result<PgOrderTx, StoreError> {
        Ok(PgOrderTx {
            tx: self.pool.begin().await.map_err(store_error)?,
        })
    }
}

/// A transaction on orders.
#[derive(Debug)]
pub struct PgOrderTx {
    tx: Transaction<'static, Postgres>,
}

impl OrderTx for PgOrderTx {
    async fn lock(&mut self, id: OrderId) -> Result<Option<Order>, StoreError> {
        sqlx::query(concat!(
            "SELECT ",
            columns!(),
            " FROM orders WHERE id = $1 FOR UPDATE"
        ))
        .bind(id)
        .try_map(|row: PgRow| order(&row))
        .fetch_optional(&mut *self.tx)
        .await
        .map_err(store_error)
    }

    async fn save(&mut self, order: &Order) -> Result<(), StoreError> {
        let cancellation = order.cancellation.as_ref();
        sqlx::query(
            "UPDATE orders SET status = $2, address = $3, cancellation_reason = $4,
                 cancellation_explanation = $5, recipient = $6,
                 last_modified_date = now(), version = version + 1
             WHERE id = $1",
        )
        .bind(order.id)
        .bind(order.status.as_str())
        .bind(&order.address)
        .bind(cancellation.map(|c| c.cancellation_reason.as_str()))
        .bind(cancellation.and_then(|c| c.explanation.as_deref()))
        .bind(order.recipient.as_deref())
        .execute(&mut *self.tx)
        .await
        .map(drop)
        .map_err(store_error)
    }

    async fn publish(&mut self, event: OrderCancelled) -> Result<(), StoreError> {
        platform::messaging::outbox::enqueue(&mut self.tx, event)
            .await
            .map(drop)
            .map_err(store_error)
    }

    async fn commit(self) -> Result<(), StoreError> {
        self.tx.commit().await.map_err(store_error)
    }
}

/// Creates a `PREPARING` order for a payment, inside the consumer's transaction.
/// `None` when the payment already has an order (a duplicated approval).
pub async fn insert_order(
    tx: &mut PgConnection,
    new: &NewOrder,
) -> Result<Option<OrderId>, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO orders (status, customer_id, payment_id, address)
         VALUES ('PREPARING', $1, $2, $3)
         ON CONFLICT (payment_id) DO NOTHING RETURNING id",
    )
    .bind(&new.customer_id)
    .bind(new.payment_id)
    .bind(&new.address)
    .fetch_optional(&mut *tx)
    .await
}

/// Loads the original system's three demo orders (ids 1–3, payments 1–3) into an empty
/// table and moves the id sequence past them.
pub async fn load_demo_orders(pool: &PgPool) -> Result<bool, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let existing: i64 = sqlx::query_scalar("SELECT count(*) FROM orders")
        .fetch_one(&mut *tx)
        .await?;
    if existing > 0 {
        return Ok(false);
    }
    sqlx::query(
        "INSERT INTO orders (id, status, customer_id, payment_id, address, recipient) VALUES
            (1, 'DELIVERED', '47ac2317-2da2-457a-90d6-48d5a0f9739a', 1, '3841 birmingham, uk', 'Judge Holden'),
            (2, 'ON_THE_WAY', 'c908ce9d-faec-4570-b84d-71a4e77f2f4a', 2, '38234 oslo, norway', NULL),
            (3, 'PREPARING', '47ac2317-2da2-457a-90d6-48d5a0f9739a', 3, '7472 new mexico, us', NULL)",
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "SELECT setval(pg_get_serial_sequence('orders', 'id'), (SELECT max(id) FROM orders))",
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(true)
}
