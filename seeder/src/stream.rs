//! Streams: the unit the loader splits into chunks. A stream walks one kind of parent
//! (users, products or payments) and writes every row that hangs off each parent into
//! the tables of one database, so a chunk of parents is one transaction that writes
//! whole aggregates (a payment and its lines, a cart and its lines).

use std::ops::Range;

use crate::{
    copy::CopyBuffer,
    generate::{self, REALM},
    plan::Plan,
    target::Service,
};

/// A table as the loader writes it: the column list of its `COPY`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Table {
    pub(crate) name: &'static str,
    columns: &'static str,
    fields: i16,
}

impl Table {
    /// `COPY <table> (<columns>) FROM STDIN (FORMAT binary)`.
    pub(crate) fn copy_statement(&self) -> String {
        format!(
            "COPY {} ({}) FROM STDIN (FORMAT binary)",
            self.name, self.columns
        )
    }
}

const USER_ENTITY: Table = Table {
    name: "user_entity",
    columns: "id, realm, username, email, email_verified, first_name, last_name, enabled, \
              created_timestamp, attributes, realm_roles, client_roles, service_account_client, \
              password_hash, password_temporary, failed_logins, last_failure_at, locked_until",
    fields: 18,
};
const ADDRESS: Table = Table {
    name: "address",
    columns: "id, customer_id, name, country, city, zip_code, is_primary, created_date, \
              last_modified_date, version",
    fields: 10,
};
const PRODUCT: Table = Table {
    name: "product",
    columns: "id, name, price, category, quantity, is_available_in_region, created_date, \
              last_modified_date, version",
    fields: 9,
};
const CUSTOMER: Table = Table {
    name: "customer",
    columns: "id, address, saved_at",
    fields: 3,
};
const CART: Table = Table {
    name: "cart",
    columns: "id, customer_id, created_date, last_modified_date, version",
    fields: 5,
};
const CART_PRODUCT: Table = Table {
    name: "cart_product",
    columns: "cart_id, product_id, name, price, category, quantity",
    fields: 6,
};
const PAYMENT: Table = Table {
    name: "payment",
    columns: "id, customer_id, total_price, status, cancellation_reason, created_date, \
              last_modified_date, version",
    fields: 8,
};
const PAYMENT_PRODUCT: Table = Table {
    name: "payment_product",
    columns: "payment_id, product_id, name, price, category, quantity",
    fields: 6,
};
const ORDERS: Table = Table {
    name: "orders",
    columns: "id, status, customer_id, payment_id, address, cancellation_reason, \
              cancellation_explanation, recipient, created_date, last_modified_date, version",
    fields: 11,
};

/// The streams, one per (parent, database).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Stream {
    Users,
    Addresses,
    Products,
    Customers,
    Payments,
    Orders,
}

/// What the encoders need besides the plan.
#[derive(Debug, Clone)]
pub(crate) struct Context {
    pub(crate) plan: Plan,
    /// The PHC string every seeded user gets.
    pub(crate) password_hash: String,
    /// Every product of the plan, by index: payment and cart lines copy them.
    pub(crate) catalog: Vec<generate::Product>,
}

impl Context {
    pub(crate) fn new(plan: Plan, password_hash: String) -> Self {
        let catalog = (0..plan.products)
            .map(|i| generate::product(&plan, i))
            .collect();
        Self {
            plan,
            password_hash,
            catalog,
        }
    }
}

impl Stream {
    pub(crate) const ALL: [Self; 6] = [
        Self::Users,
        Self::Addresses,
        Self::Products,
        Self::Customers,
        Self::Payments,
        Self::Orders,
    ];

    /// The name in `seeder_progress`.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Users => "users",
            Self::Addresses => "addresses",
            Self::Products => "products",
            Self::Customers => "customers",
            Self::Payments => "payments",
            Self::Orders => "orders",
        }
    }

    pub(crate) fn service(self) -> Service {
        match self {
            Self::Users => Service::Identity,
            Self::Addresses => Service::Account,
            Self::Products => Service::Inventory,
            Self::Customers | Self::Payments => Service::Payment,
            Self::Orders => Service::Order,
        }
    }

    /// How many parents the stream walks.
    pub(crate) fn parents(self, plan: &Plan) -> u64 {
        match self {
            Self::Users | Self::Addresses | Self::Customers => plan.users,
            Self::Products => plan.products,
            Self::Payments | Self::Orders => plan.payments,
        }
    }

    /// How many chunks of `chunk_size` parents.
    pub(crate) fn chunks(self, plan: &Plan, chunk_size: u64) -> u64 {
        self.parents(plan).div_ceil(chunk_size.max(1))
    }

    pub(crate) fn tables(self) -> &'static [Table] {
        match self {
            Self::Users => &[USER_ENTITY],
            Self::Addresses => &[ADDRESS],
            Self::Products => &[PRODUCT],
            Self::Customers => &[CUSTOMER, CART, CART_PRODUCT],
            Self::Payments => &[PAYMENT, PAYMENT_PRODUCT],
            Self::Orders => &[ORDERS],
        }
    }

    /// The rows of the parents in `range`, one buffer per table of [`Stream::tables`].
    pub(crate) fn encode(self, context: &Context, range: Range<u64>) -> Vec<CopyBuffer> {
        let mut buffers: Vec<CopyBuffer> =
            self.tables().iter().map(|_| CopyBuffer::new()).collect();
        let plan = &context.plan;
        for index in range {
            match self {
                Self::Users => user(&mut buffers[0], context, index),
                Self::Addresses => {
                    for address in generate::addresses(plan, index) {
                        buffers[0]
                            .row(ADDRESS.fields)
                            .int8(address.id)
                            .uuid_text(address.customer_id)
                            .text(address.name)
                            .text(address.country)
                            .text(&address.city)
                            .text(&address.zip_code)
                            .bool(address.is_primary)
                            .timestamptz(address.created_at)
                            .null()
                            .int4(0);
                    }
                }
                Self::Products => {
                    let product = generate::product(plan, index);
                    buffers[0]
                        .row(PRODUCT.fields)
                        .int8(product.id)
                        .text(&product.name)
                        .money(product.price)
                        .text(product.category.as_str())
                        .int4(product.quantity)
                        .bool(product.available_in_region)
                        .timestamptz(product.created_at)
                        .null()
                        .int4(0);
                }
                Self::Customers => customer(&mut buffers, context, index),
                Self::Payments => payment(&mut buffers, context, index),
                Self::Orders => {
                    if let Some(order) = generate::order(plan, index) {
                        buffers[0]
                            .row(ORDERS.fields)
                            .int8(order.id)
                            .text(order.status.as_str())
                            .uuid_text(order.customer_id)
                            .int8(order.payment_id)
                            .text(&order.address)
                            .opt_text(order.cancellation_reason.map(|r| r.as_str()))
                            .opt_text(order.cancellation_explanation)
                            .opt_text(order.recipient.as_deref())
                            .timestamptz(order.created_at)
                            .opt_timestamptz(order.last_modified_at)
                            .int4(order.version);
                    }
                }
            }
        }
        buffers
    }
}

fn user(buffer: &mut CopyBuffer, context: &Context, index: u64) {
    let user = generate::user(&context.plan, index);
    buffer
        .row(USER_ENTITY.fields)
        .uuid(user.id)
        .text(REALM)
        .text(&user.username)
        .text(&user.email)
        .bool(true)
        .text(&user.first_name)
        .text(&user.last_name)
        .bool(true)
        .int8(user.created_at.timestamp_millis())
        .jsonb(&user.attributes_json())
        .text_array(&user.realm_roles())
        .jsonb("{}")
        .null()
        .text(&context.password_hash)
        .bool(false)
        .int4(0)
        .null()
        .null();
}

fn lines(buffer: &mut CopyBuffer, owner: i64, lines: &[generate::Line]) {
    for line in lines {
        buffer
            .row(PAYMENT_PRODUCT.fields)
            .int8(owner)
            .int8(line.product_id)
            .text(&line.name)
            .money(line.price)
            .text(line.category.as_str())
            .int4(line.quantity);
    }
}

fn customer(buffers: &mut [CopyBuffer], context: &Context, index: u64) {
    let plan = &context.plan;
    let projection = generate::customer_address(plan, index);
    buffers[0]
        .row(CUSTOMER.fields)
        .uuid_text(projection.customer_id)
        .text(&projection.address)
        .timestamptz(projection.saved_at);
    if let Some(cart) = generate::cart_with(plan, index, Some(&context.catalog)) {
        buffers[1]
            .row(CART.fields)
            .int8(cart.id)
            .uuid_text(cart.customer_id)
            .timestamptz(cart.created_at)
            .null()
            .int4(0);
        lines(&mut buffers[2], cart.id, &cart.lines);
    }
}

fn payment(buffers: &mut [CopyBuffer], context: &Context, index: u64) {
    let payment = generate::payment_with(&context.plan, index, Some(&context.catalog));
    buffers[0]
        .row(PAYMENT.fields)
        .int8(payment.id)
        .uuid_text(payment.customer_id)
        .money(payment.total_price)
        .text(payment.status.as_str())
        .opt_text(payment.cancellation_reason)
        .timestamptz(payment.created_at)
        .opt_timestamptz(payment.last_modified_at)
        .int4(payment.version);
    lines(&mut buffers[1], payment.id, &payment.lines);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_stream_covers_its_database_tables_once() {
        for service in Service::ALL {
            let mut written: Vec<&str> = Stream::ALL
                .iter()
                .filter(|s| s.service() == service)
                .flat_map(|s| s.tables().iter().map(|t| t.name))
                .collect();
            written.sort_unstable();
            let mut expected = crate::schema::tables(service).to_vec();
            expected.sort_unstable();
            assert_eq!(written, expected, "{service}");
        }
    }

    #[test]
    fn column_lists_match_field_counts() {
        for stream in Stream::ALL {
            for table in stream.tables() {
                assert_eq!(
                    table.columns.split(',').count(),
                    table.fields as usize,
                    "{}",
                    table.name
                );
            }
        }
    }

    #[test]
    fn chunks_cover_every_parent() {
        let plan = Plan::with_counts(1, 1_001, 10, 3_000);
        assert_eq!(Stream::Users.chunks(&plan, 100), 11);
        assert_eq!(Stream::Payments.chunks(&plan, 1_000), 3);
        let context = Context::new(plan, "x".to_owned());
        let rows: u64 = Stream::Users.encode(&context, 0..1_001)[0].rows();
        assert_eq!(rows, 1_001);
    }
}
