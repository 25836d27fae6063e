//! The Postgres adapter: carts, payments, the customer projection, and the outbox writes.
//! `sqlx::Error` stops here; the use cases see [`StoreError`]. The functions taking a
//! `PgConnection` run inside a caller's transaction (the consumers').

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use platform::messaging::outbox;
use rust_decimal::Decimal;
use sqlx::{PgConnection, PgPool, Row, migrate::Migrator, postgres::PgRow};

use crate::{
    domain::{Cart, CartError, CheckoutError, Line, Payment, PaymentId, PaymentStatus},
    events::PaymentSaved,
    ports::{Page, PaymentStore, StoreError},
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

/// The payment columns, as a macro so queries stay `&'static str`.
macro_rules! payment_columns {
    () => {
        "id, customer_id, total_price, status, created_date, cancellation_reason"
    };
}

fn payment_row(row: &PgRow) -> Result<Payment, sqlx::Error> {
    let status: String = row.try_get("status")?;
    Ok(Payment {
        id: row.try_get("id")?,
        customer_id: row.try_get("customer_id")?,
        products: Vec::new(),
        total_price: row.try_get("total_price")?,
        status: status
            .parse::<PaymentStatus>()
            .map_err(|err| sqlx::Error::Decode(Box::new(err)))?,
        created_date: row.try_get("created_date")?,
        cancellation_reason: row.try_get("cancellation_reason")?,
    })
}

fn line_row(row: &PgRow) -> Result<(i64, Line), sqlx::Error> {
    Ok((
        row.try_get("owner")?,
        Line {
            id: row.try_get("product_id")?,
            name: row.try_get("name")?,
            price: row.try_get("price")?,
            category: row.try_get("category")?,
            quantity: row.try_get("quantity")?,
        },
    ))
}

/// Attaches their lines to `payments`.
async fn with_lines(
    conn: &mut PgConnection,
    mut payments: Vec<Payment>,
) -> Result<Vec<Payment>, sqlx::Error> {
    let ids: Vec<PaymentId> = payments.iter().map(|p| p.id).collect();
    let lines = sqlx::query(
        "SELECT payment_id AS owner, product_id, name, price, category, quantity
         FROM payment_product WHERE payment_id = ANY($1) ORDER BY payment_id, product_id",
    )
    .bind(&ids)
    .try_map(|row: PgRow| line_row(&row))
    .fetch_all(&mut *conn)
    .await?;
    let mut by_payment: BTreeMap<i64, Vec<Line>> = BTreeMap::new();
    for (owner, line) in lines {
        by_payment.entry(owner).or_default().push(line);
    }
    for payment in &mut payments {
        payment.products = by_payment.remove(&payment.id).unwrap_or_default();
    }
    Ok(payments)
}

async fn cart_lines(conn: &mut PgConnection, cart_id: i64) -> Result<Vec<Line>, sqlx::Error> {
    let lines = sqlx::query(
        "SELECT cart_id AS owner, product_id, name, price, category, quantity
         FROM cart_product WHERE cart_id = $1 ORDER BY product_id",
    )
    .bind(cart_id)
    .try_map(|row: PgRow| line_row(&row))
    .fetch_all(&mut *conn)
    .await?;
    Ok(lines.into_iter().map(|(_, line)| line).collect())
}

/// The customer's cart with its lines; locked for the transaction when `lock`.
async fn load_cart(
    conn: &mut PgConnection,
    customer_id: &str,
    lock: bool,
) -> Result<Cart, sqlx::Error> {
    let query = if lock {
        "SELECT id FROM cart WHERE customer_id = $1 FOR UPDATE"
    } else {
        "SELECT id FROM cart WHERE customer_id = $1"
    };
    let id: Option<i64> = sqlx::query_scalar(query)
        .bind(customer_id)
        .fetch_optional(&mut *conn)
        .await?;
    let mut cart = Cart::empty(customer_id);
    if let Some(id) = id {
        cart.id = Some(id);
        cart.products = cart_lines(conn, id).await?;
    }
    Ok(cart)
}

/// Replaces the stored lines of `cart` with its current ones (creating the cart row when
/// needed) and bumps its version.
async fn save_cart(conn: &mut PgConnection, cart: &Cart) -> Result<i64, sqlx::Error> {
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO cart (customer_id) VALUES ($1)
         ON CONFLICT (customer_id) DO UPDATE
             SET last_modified_date = now(), version = cart.version + 1
         RETURNING id",
    )
    .bind(&cart.customer_id)
    .fetch_one(&mut *conn)
    .await?;
    sqlx::query("DELETE FROM cart_product WHERE cart_id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    insert_lines(conn, "cart", id, &cart.products).await?;
    Ok(id)
}

async fn insert_lines(
    conn: &mut PgConnection,
    table: &str,
    owner: i64,
    lines: &[Line],
) -> Result<(), sqlx::Error> {
    if lines.is_empty() {
        return Ok(());
    }
    let ids: Vec<i64> = lines.iter().map(|l| l.id).collect();
    let names: Vec<&str> = lines.iter().map(|l| l.name.as_str()).collect();
    let prices: Vec<Decimal> = lines.iter().map(|l| l.price).collect();
    let categories: Vec<&str> = lines.iter().map(|l| l.category.as_str()).collect();
    let quantities: Vec<i32> = lines.iter().map(|l| l.quantity).collect();
    let query = if table == "cart" {
        "INSERT INTO cart_product (cart_id, product_id, name, price, category, quantity)
         SELECT $1, * FROM UNNEST($2::bigint[], $3::varchar[], $4::numeric[], $5::varchar[], $6::int[])"
    } else {
        "INSERT INTO payment_product (payment_id, product_id, name, price, category, quantity)
         SELECT $1, * FROM UNNEST($2::bigint[], $3::varchar[], $4::numeric[], $5::varchar[], $6::int[])"
    };
    sqlx::query(query)
        .bind(owner)
        .bind(&ids)
        .bind(&names)
        .bind(&prices)
        .bind(&categories)
        .bind(&quantities)
        .execute(&mut *conn)
        .await
        .map(drop)
}

/// Adds `line` to the customer's cart, creating the cart when needed; a product already
/// there gets the quantity added (name and price stay, as in the original). The upsert
/// on the cart row serializes concurrent changes to one cart.
pub async fn merge_into_cart(
    conn: &mut PgConnection,
    customer_id: &str,
    line: &Line,
) -> Result<(), sqlx::Error> {
    let cart_id: i64 = sqlx::query_scalar(
        "INSERT INTO cart (customer_id) VALUES ($1)
         ON CONFLICT (customer_id) DO UPDATE
             SET last_modified_date = now(), version = cart.version + 1
         RETURNING id",
    )
    .bind(customer_id)
    .fetch_one(&mut *conn)
    .await?;
    sqlx::query(
        "INSERT INTO cart_product (cart_id, product_id, name, price, category, quantity)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (cart_id, product_id) DO UPDATE
             SET quantity = cart_product.quantity + EXCLUDED.quantity",
    )
    .bind(cart_id)
    .bind(line.id)
    .bind(&line.name)
    .bind(line.price)
    .bind(&line.category)
    .bind(line.quantity)
    .execute(&mut *conn)
    .await
    .map(drop)
}

/// Stores the customer's primary address as of `saved_at` (the event's time): inserts it,
/// or replaces an address saved earlier; an address saved later is kept, so events
/// applied out of order cannot bring back an old address.
pub async fn upsert_customer(
    conn: &mut PgConnection,
    customer_id: &str,
    address: &str,
    saved_at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO customer (id, address, saved_at) VALUES ($1, $2, $3)
         ON CONFLICT (id) DO UPDATE SET address = EXCLUDED.address, saved_at = EXCLUDED.saved_at
         WHERE customer.saved_at <= EXCLUDED.saved_at",
    )
    .bind(customer_id)
    .bind(address)
    .bind(saved_at)
    .execute(&mut *conn)
    .await
    .map(drop)
}

/// The customer's primary address from the projection.
pub async fn customer_address(
    conn: &mut PgConnection,
    customer_id: &str,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT address FROM customer WHERE id = $1")
        .bind(customer_id)
        .fetch_optional(&mut *conn)
        .await
}

/// The payment with its lines, locked for the rest of the transaction.
pub async fn lock_payment(
    conn: &mut PgConnection,
    id: PaymentId,
) -> Result<Option<Payment>, sqlx::Error> {
    let payment = sqlx::query(concat!(
        "SELECT ",
        payment_columns!(),
        " FROM payment WHERE id = $1 FOR UPDATE"
    ))
    .bind(id)
    .try_map(|row: PgRow| payment_row(&row))
    .fetch_optional(&mut *conn)
    .await?;
    match payment {
        Some(payment) => Ok(with_lines(conn, vec![payment]).await?.pop()),
        None => Ok(None),
    }
}

/// Writes the status and cancellation reason of `payment`.
pub async fn save_status(conn: &mut PgConnection, payment: &Payment) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE payment SET status = $2, cancellation_reason = $3,
             last_modified_date = now(), version = version + 1
         WHERE id = $1",
    )
    .bind(payment.id)
    .bind(payment.status.as_str())
    .bind(&payment.cancellation_reason)
    .execute(&mut *conn)
    .await
    .map(drop)
}

/// Carts and payments in Postgres.
#[derive(Debug, Clone)]
pub struct PgPaymentStore {
    pool: PgPool,
}

impl PgPaymentStore {
    /// A store over `pool`.
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }

    async fn checkout_tx(
        &self,
        customer_id: &str,
    ) -> Result<Result<Payment, CheckoutError>, sqlx::Error> {
        let mut tx = self.pool.begin().await?;
        let mut cart = load_cart(&mut tx, customer_id, true).await?;
        let address = customer_address(&mut tx, customer_id).await?;
        let new = match cart.checkout(address.as_deref()) {
            Ok(new) => new,
            Err(refused) => return Ok(Err(refused)),
        };
        let mut payment = sqlx::query(concat!(
            "INSERT INTO payment (customer_id, total_price, status) VALUES ($1, $2, 'PENDING') RETURNING ",
            payment_columns!(),
            ""
        ))
        .bind(&new.customer_id)
        .bind(new.total_price)
        .try_map(|row: PgRow| payment_row(&row))
        .fetch_one(&mut *tx)
        .await?;
        insert_lines(&mut tx, "payment", payment.id, &new.products).await?;
        payment.products = new.products;
        save_cart(&mut tx, &cart).await?;
        outbox::enqueue(
            &mut tx,
            PaymentSaved {
                payment_id: payment.id,
                customer_id: customer_id.to_owned(),
                product_quantities: crate::domain::cart::quantities(&payment.products),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(Ok(payment))
    }
}

impl PaymentStore for PgPaymentStore {
    async fn page(&self, page: Page) -> Result<Vec<Payment>, StoreError> {
        let mut conn = self.pool.acquire().await.map_err(store_error)?;
        let payments = sqlx::query(concat!(
            "SELECT ",
            payment_columns!(),
            " FROM payment ORDER BY id LIMIT $1 OFFSET $2"
        ))
        .bind(page.size)
        .bind(page.number.saturating_mul(page.size))
        .try_map(|row: PgRow| payment_row(&row))
        .fetch_all(&mut *conn)
        .await
        .map_err(store_error)?;
        with_lines(&mut conn, payments).await.map_err(store_error)
    }

    async fn of_customer(&self, customer_id: &str) -> Result<Vec<Payment>, StoreError> {
        let mut conn = self.pool.acquire().await.map_err(store_error)?;
        let payments = sqlx::query(concat!(
            "SELECT ",
            payment_columns!(),
            " FROM payment WHERE customer_id = $1 ORDER BY id"
        ))
        .bind(customer_id)
        .try_map(|row: PgRow| payment_row(&row))
        .fetch_all(&mut *conn)
        .await
        .map_err(store_error)?;
        with_lines(&mut conn, payments).await.map_err(store_error)
    }

    async fn get(&self, id: PaymentId) -> Result<Option<Payment>, StoreError> {
        let mut conn = self.pool.acquire().await.map_err(store_error)?;
        let payment = sqlx::query(concat!(
            "SELECT ",
            payment_columns!(),
            " FROM payment WHERE id = $1"
        ))
        .bind(id)
        .try_map(|row: PgRow| payment_row(&row))
        .fetch_optional(&mut *conn)
        .await
        .map_err(store_error)?;
        match payment {
            Some(payment) => Ok(with_lines(&mut conn, vec![payment])
                .await
                .map_err(store_error)?
                .pop()),
            None => Ok(None),
        }
    }

    async fn cart(&self, customer_id: &str) -> Result<Cart, StoreError> {
        let mut conn = self.pool.acquire().await.map_err(store_error)?;
        load_cart(&mut conn, customer_id, false)
            .await
            .map_err(store_error)
    }

    async fn update_cart<T, F>(
        &self,
        customer_id: &str,
        op: F,
    ) -> Result<Result<T, CartError>, StoreError>
    where
        T: Send,
        F: FnOnce(&mut Cart) -> Result<T, CartError> + Send,
    {
        let mut tx = self.pool.begin().await.map_err(store_error)?;
        let mut cart = load_cart(&mut tx, customer_id, true)
            .await
            .map_err(store_error)?;
        let done = match op(&mut cart) {
            Ok(done) => done,
            Err(refused) => return Ok(Err(refused)),
        };
        save_cart(&mut tx, &cart).await.map_err(store_error)?;
        tx.commit().await.map_err(store_error)?;
        Ok(Ok(done))
    }

    async fn checkout(
        &self,
        customer_id: &str,
    ) -> Result<Result<Payment, CheckoutError>, StoreError> {
        self.checkout_tx(customer_id).await.map_err(store_error)
    }
}

/// Loads the original system's demo data into empty tables: payments 1–3 with their lines,
/// empty carts for vader, tommy and lorne, and the addresses of tommy and vader (lorne
/// has none).
pub async fn load_demo_data(pool: &PgPool) -> Result<bool, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let existing: i64 = sqlx::query_scalar("SELECT count(*) FROM payment")
        .fetch_one(&mut *tx)
        .await?;
    if existing > 0 {
        return Ok(false);
    }
    let statements = [
        "INSERT INTO payment (id, customer_id, total_price, status) VALUES
            (1, '47ac2317-2da2-457a-90d6-48d5a0f9739a', 2.5, 'APPROVED'),
            (2, 'c908ce9d-faec-4570-b84d-71a4e77f2f4a', 3000, 'APPROVED'),
            (3, '47ac2317-2da2-457a-90d6-48d5a0f9739a', 45, 'APPROVED')",
        "INSERT INTO payment_product (payment_id, product_id, name, price, category, quantity) VALUES
            (1, 1, 'Clipper', 2.5, 'TOOL', 1),
            (2, 2, 'Laptop', 3000, 'ELECTRONICS', 1),
            (3, 3, 'Phone', 5, 'ELECTRONICS', 1),
            (3, 4, 'Skirt', 20, 'CLOTHING', 2)",
        "INSERT INTO cart (id, customer_id) VALUES
            (1, '47ac2317-2da2-457a-90d6-48d5a0f9739a'),
            (2, 'c908ce9d-faec-4570-b84d-71a4e77f2f4a'),
            (3, '37a2191e-85a0-4bad-a853-1f29559c3092')
         ON CONFLICT DO NOTHING",
        "INSERT INTO customer (id, address) VALUES
            ('c908ce9d-faec-4570-b84d-71a4e77f2f4a', '26593 birmingham, uk'),
            ('47ac2317-2da2-457a-90d6-48d5a0f9739a', '48249 helsinki, finland')
         ON CONFLICT DO NOTHING",
        "SELECT setval(pg_get_serial_sequence('payment', 'id'), (SELECT max(id) FROM payment))",
        "SELECT setval(pg_get_serial_sequence('cart', 'id'), (SELECT coalesce(max(id), 1) FROM cart))",
    ];
    for statement in statements {
        sqlx::query(statement).execute(&mut *tx).await?;
    }
    tx.commit().await?;
    Ok(true)
}
