//! The generators: one pure function per entity, `(plan, index) → row`, each drawing from
//! a random generator keyed by the plan's seed and the index alone (see [`crate::rng`]).
//! The loader calls them to fill the databases; contract and load tests call them to know
//! what a seeded database holds (`generate::user(&plan, 7).username` logs in with
//! [`LOAD_TEST_PASSWORD`]) or to build provider states that look like production data.
//!
//! The rules the data follows:
//! - users are CUSTOMERs (Keycloak's default role); about 1 % are also MANAGER; usernames
//!   and emails are unique (they carry the user's index) and use reserved example domains;
//! - every user has 1–3 addresses with distinct names, exactly one of them primary, and
//!   payment's projection of that primary address (`"<zip> <city>, <country>"`);
//! - products are named per category, with realistic prices, stock and a region flag;
//! - about a third of the users have a cart (a few of them empty) with 1–4 lines;
//! - payments belong to users (some buy far more than others), hold 1–5 lines of
//!   distinct products whose popularity is skewed (a few products are in many payments),
//!   total exactly Σ price × quantity, and are PENDING, APPROVED, CANCELLED or REFUNDED;
//! - approved and refunded payments have exactly one order, at the primary address; its
//!   status follows the payment (refunded ⇒ cancelled) and its age (preparing, on the
//!   way, delivered);
//! - every timestamp lies in the plan's period, and children never predate parents.

use chrono::{DateTime, Utc};
use fake::locales::{Data, EN};
use inventory::domain::Category;
use order::domain::{CancellationReason, OrderStatus};
use payment::domain::{PaymentStatus, payment::DEFAULT_CANCELLATION_REASON};
use rand::{Rng, RngCore};
use rand_chacha::ChaCha8Rng;
use rust_decimal::Decimal;
use uuid::Uuid;

use crate::{
    plan::Plan,
    rng::{Kind, rng, uuid},
};

/// The password of every seeded user unless `SEEDER_USER_PASSWORD` says otherwise: what
/// load tests log in with. Not a secret; never leave it on users of a reachable shop.
pub const LOAD_TEST_PASSWORD: &str = "ironvessel-load-test";

/// The realm seeded users belong to.
pub const REALM: &str = identity::startup::REALM;

/// Keycloak's default role of the realm; its composites include CUSTOMER.
pub const DEFAULT_ROLE: &str = "default-roles-ironvessel";

/// The role about 1 % of the users also have.
pub const MANAGER_ROLE: &str = "MANAGER";

/// The most addresses a user has; address ids are spaced by it.
pub const MAX_ADDRESSES: u64 = 3;

const EMAIL_DOMAINS: [&str; 3] = ["example.com", "example.org", "example.net"];

const ADDRESS_NAMES: [&str; 8] = [
    "home",
    "work",
    "parents",
    "office",
    "holiday home",
    "studio",
    "grandparents",
    "gym",
];

const ADJECTIVES: [&str; 16] = [
    "Compact",
    "Classic",
    "Ergonomic",
    "Premium",
    "Rustic",
    "Sleek",
    "Heavy-Duty",
    "Lightweight",
    "Modern",
    "Vintage",
    "Smart",
    "Deluxe",
    "Essential",
    "Pro",
    "Eco",
    "Portable",
];

const ELECTRONICS: [&str; 12] = [
    "Laptop",
    "Phone",
    "Tablet",
    "Headphones",
    "Monitor",
    "Keyboard",
    "Speaker",
    "Camera",
    "Smartwatch",
    "Router",
    "Charger",
    "Television",
];
const FURNITURE: [&str; 10] = [
    "Desk",
    "Chair",
    "Sofa",
    "Bookshelf",
    "Wardrobe",
    "Bed Frame",
    "Coffee Table",
    "Lamp",
    "Dresser",
    "Stool",
];
const CLOTHING: [&str; 12] = [
    "Skirt", "Pants", "Jacket", "Shirt", "Sweater", "Dress", "Coat", "Scarf", "Jeans", "Hoodie",
    "Boots", "Sneakers",
];
const TOOLS: [&str; 12] = [
    "Clipper",
    "Ice Pick",
    "Hammer",
    "Drill",
    "Screwdriver Set",
    "Wrench",
    "Saw",
    "Pliers",
    "Tape Measure",
    "Level",
    "Sander",
    "Chisel",
];

const EXPLANATIONS: [&str; 5] = [
    "Ordered by mistake.",
    "Found it cheaper elsewhere.",
    "It has not arrived after two weeks.",
    "No longer needed after all.",
    "Changed my mind.",
];

fn pick<'a, R: RngCore>(rng: &mut R, items: &[&'a str]) -> &'a str {
    items[rng.random_range(0..items.len())]
}

/// A city name from fake's English word lists ("Port Aliceton", "Smithville"): picked
/// and concatenated directly, because fake's own `CityName` expands a template with
/// `str::replace` and was the seeder's single costliest call (every order and payment
/// projection regenerates its customer's addresses).
fn city<R: RngCore>(rng: &mut R) -> String {
    let mut city = String::with_capacity(24);
    if rng.random_ratio(1, 5) {
        city.push_str(pick(rng, <EN as Data>::ADDRESS_CITY_PREFIX));
        city.push(' ');
    }
    city.push_str(if rng.random_ratio(1, 3) {
        pick(rng, <EN as Data>::NAME_FIRST_NAME)
    } else {
        pick(rng, <EN as Data>::NAME_LAST_NAME)
    });
    city.push_str(pick(rng, <EN as Data>::ADDRESS_CITY_SUFFIX));
    city
}

/// A North American phone number, `(NXX) NXX-XXXX`.
fn phone_number<R: RngCore>(rng: &mut R) -> String {
    format!(
        "({}) {}-{:04}",
        rng.random_range(200..1000),
        rng.random_range(200..1000),
        rng.random_range(0..10_000)
    )
}

/// Lower-case ASCII letters and digits only, for usernames and emails.
fn slug(name: &str) -> String {
    name.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

fn micros(at: DateTime<Utc>) -> i64 {
    at.timestamp_micros()
}

fn at(micros: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(micros).unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// A time uniformly between `from` and `to` (`from` when the span is empty).
fn between<R: RngCore>(rng: &mut R, from: i64, to: i64) -> i64 {
    if to <= from {
        from
    } else {
        rng.random_range(from..=to)
    }
}

fn money(cents: i64) -> Decimal {
    Decimal::new(cents, 2)
}

/// A seeded identity user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// The index within the plan.
    pub index: u64,
    /// The id (the `sub` of their tokens, the `customer_id` everywhere else).
    pub id: Uuid,
    /// `first.last.<n>`, lower-case, unique.
    pub username: String,
    /// `first.last.<n>@example.com` (or `.org`, `.net`), unique.
    pub email: String,
    /// Given name.
    pub first_name: String,
    /// Family name.
    pub last_name: String,
    /// Whether they are also a MANAGER.
    pub manager: bool,
    /// When they registered.
    pub created_at: DateTime<Utc>,
    /// The `birthDate` attribute, `YYYY-MM-DD`.
    pub birth_date: String,
    /// The `phoneNumber` attribute.
    pub phone_number: String,
}

impl User {
    /// Directly granted realm roles, as identity stores them.
    pub fn realm_roles(&self) -> Vec<&'static str> {
        if self.manager {
            vec![DEFAULT_ROLE, MANAGER_ROLE]
        } else {
            vec![DEFAULT_ROLE]
        }
    }

    /// "First Last".
    pub fn full_name(&self) -> String {
        format!("{} {}", self.first_name, self.last_name)
    }

    /// The `attributes` JSON identity stores.
    pub fn attributes_json(&self) -> String {
        serde_json::json!({
            "birthDate": [self.birth_date],
            "phoneNumber": [self.phone_number],
        })
        .to_string()
    }
}

/// The id of user `index` (cheaper than [`user`] when only the id is needed).
pub fn user_id(plan: &Plan, index: u64) -> Uuid {
    uuid(plan.seed, Kind::UserId, plan.offsets.users + index)
}

/// When user `index` registered: somewhere in the first 90 % of the period, so that every
/// user has time to buy something.
fn user_created(plan: &Plan, index: u64) -> i64 {
    let since = micros(plan.since());
    let span = micros(plan.until) - since;
    let fraction: f64 = rng(plan.seed, Kind::User, index).random();
    since + (fraction * 0.9 * span as f64) as i64
}

/// The generator of user `index`, past the registration time (see `user_created`), and
/// their first and last name: the first draws of [`user`].
fn named<'a>(plan: &Plan, index: u64) -> (ChaCha8Rng, &'a str, &'a str) {
    let mut rng = rng(plan.seed, Kind::User, index);
    let _: f64 = rng.random();
    let first_name = pick(&mut rng, <EN as Data>::NAME_FIRST_NAME);
    let last_name = pick(&mut rng, <EN as Data>::NAME_LAST_NAME);
    (rng, first_name, last_name)
}

/// The first and last name of user `index` (cheaper than [`user`]).
fn names(plan: &Plan, index: u64) -> (&'static str, &'static str) {
    let (_, first, last) = named(plan, index);
    (first, last)
}

/// User `index` of the plan.
pub fn user(plan: &Plan, index: u64) -> User {
    let (mut rng, first_name, last_name) = named(plan, index);
    let manager = rng.random_ratio(1, 100);
    let domain = pick(&mut rng, &EMAIL_DOMAINS);
    let global = plan.offsets.users + index;
    let handle = format!("{}.{}.{global}", slug(first_name), slug(last_name));
    let birth_year = rng.random_range(1950..=2006);
    let birth_month = rng.random_range(1..=12);
    let birth_day = rng.random_range(1..=28);
    let phone_number = phone_number(&mut rng);
    User {
        index,
        id: user_id(plan, index),
        email: format!("{handle}@{domain}"),
        username: handle,
        first_name: first_name.to_owned(),
        last_name: last_name.to_owned(),
        manager,
        created_at: at(user_created(plan, index)),
        birth_date: format!("{birth_year:04}-{birth_month:02}-{birth_day:02}"),
        phone_number,
    }
}

/// A customer's postal address (account's `address` row).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    /// Id.
    pub id: i64,
    /// The owner.
    pub customer_id: Uuid,
    /// Name, unique per customer.
    pub name: &'static str,
    /// Country (at most 50 characters).
    pub country: &'static str,
    /// City.
    pub city: String,
    /// Zip code.
    pub zip_code: String,
    /// Whether it is the primary address.
    pub is_primary: bool,
    /// When it was added.
    pub created_at: DateTime<Utc>,
}

impl Address {
    /// `"<zip> <city>, <country>"`, as account announces it and payment and order store it.
    pub fn full_address(&self) -> String {
        format!("{} {}, {}", self.zip_code, self.city, self.country)
    }
}

/// The addresses of user `index`: 1–3, distinct names, exactly one primary.
pub fn addresses(plan: &Plan, index: u64) -> Vec<Address> {
    let mut rng = rng(plan.seed, Kind::Address, index);
    let count = match rng.random_range(0..100) {
        0..50 => 1,
        50..85 => 2,
        _ => 3,
    };
    // Usually the first address stayed primary; sometimes a later one took over.
    let primary = if rng.random_ratio(4, 5) {
        0
    } else {
        rng.random_range(0..count)
    };
    let first_name = rng.random_range(0..ADDRESS_NAMES.len());
    let customer_id = user_id(plan, index);
    let mut created = user_created(plan, index);
    let until = micros(plan.until);
    (0..count)
        .map(|slot| {
            created = between(
                &mut rng,
                created,
                (created + 30 * 86_400_000_000).min(until),
            );
            let city = city(&mut rng);
            let zip_code = format!("{:05}", rng.random_range(1_000..100_000));
            Address {
                id: plan.offsets.addresses + (index * MAX_ADDRESSES + slot) as i64 + 1,
                customer_id,
                name: ADDRESS_NAMES[(first_name + slot as usize) % ADDRESS_NAMES.len()],
                country: countries()[rng.random_range(0..countries().len())],
                city,
                zip_code,
                is_primary: slot == primary,
                created_at: at(created),
            }
        })
        .collect()
}

/// Countries that fit account's `VARCHAR(50)`.
fn countries() -> &'static [&'static str] {
    static COUNTRIES: std::sync::OnceLock<Vec<&'static str>> = std::sync::OnceLock::new();
    COUNTRIES.get_or_init(|| {
        <EN as Data>::ADDRESS_COUNTRY
            .iter()
            .copied()
            .filter(|c| c.chars().count() <= account::domain::address::MAX_COUNTRY_CHARS)
            .collect()
    })
}

/// The primary address of user `index`.
pub fn primary_address(plan: &Plan, index: u64) -> Address {
    let mut all = addresses(plan, index);
    let position = all.iter().position(|a| a.is_primary).unwrap_or(0);
    all.swap_remove(position)
}

/// Payment's projection of a customer's primary address (its `customer` row).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerAddress {
    /// The customer.
    pub customer_id: Uuid,
    /// `"<zip> <city>, <country>"`.
    pub address: String,
    /// When the address was saved.
    pub saved_at: DateTime<Utc>,
}

/// The projection row of user `index`.
pub fn customer_address(plan: &Plan, index: u64) -> CustomerAddress {
    let primary = primary_address(plan, index);
    CustomerAddress {
        customer_id: primary.customer_id,
        address: primary.full_address(),
        saved_at: primary.created_at,
    }
}

/// An inventory product.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Product {
    /// Id.
    pub id: i64,
    /// "Brand Adjective Noun".
    pub name: String,
    /// Unit price, two decimals.
    pub price: Decimal,
    /// Category.
    pub category: Category,
    /// Units in stock.
    pub quantity: i32,
    /// Whether it can be sold in the shop's region.
    pub available_in_region: bool,
    /// When it was listed.
    pub created_at: DateTime<Utc>,
}

/// Product `index` of the plan.
pub fn product(plan: &Plan, index: u64) -> Product {
    let mut rng = rng(plan.seed, Kind::Product, index);
    let (category, nouns, low, high): (_, &[&str], f64, f64) = match rng.random_range(0..10) {
        0..3 => (Category::Electronics, &ELECTRONICS, 20.0, 3_000.0),
        3..6 => (Category::Clothing, &CLOTHING, 5.0, 300.0),
        6..8 => (Category::Furniture, &FURNITURE, 30.0, 1_500.0),
        _ => (Category::Tool, &TOOLS, 3.0, 400.0),
    };
    let brand = pick(&mut rng, <EN as Data>::NAME_LAST_NAME);
    let adjective = pick(&mut rng, &ADJECTIVES);
    let noun = pick(&mut rng, nouns);
    // Prices are log-uniform in the category's range and end in .99, .49 or .00.
    let raw = (low.ln() + rng.random::<f64>() * (high.ln() - low.ln())).exp();
    let ending = [99, 49, 0][rng.random_range(0..3)];
    let cents = (raw.floor() as i64).max(1) * 100 + ending - if ending == 0 { 0 } else { 100 };
    let quantity = if rng.random_ratio(1, 20) {
        0
    } else {
        rng.random_range(1..=500)
    };
    let available_in_region = rng.random_ratio(19, 20);
    let created = between(
        &mut rng,
        micros(plan.since()),
        micros(plan.since()) + (micros(plan.until) - micros(plan.since())) / 2,
    );
    Product {
        id: plan.offsets.products + index as i64 + 1,
        name: format!("{brand} {adjective} {noun}"),
        price: money(cents.max(1)),
        category,
        quantity,
        available_in_region,
        created_at: at(created),
    }
}

/// A product with a quantity, as in a cart or a payment's snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// The product.
    pub product_id: i64,
    /// The product's name.
    pub name: String,
    /// The product's unit price.
    pub price: Decimal,
    /// The product's category.
    pub category: Category,
    /// Units, 1–5.
    pub quantity: i32,
}

/// A product index with skewed popularity: the cube of a uniform number puts about a
/// fifth of all picks on the first 1 % of the products.
fn popular_product<R: RngCore>(rng: &mut R, products: u64) -> u64 {
    let u: f64 = rng.random();
    ((u * u * u * products as f64) as u64).min(products.saturating_sub(1))
}

/// `count` lines of distinct products; line ids are `first_id`, `first_id + 1`, ...
fn lines<R: RngCore>(
    plan: &Plan,
    rng: &mut R,
    count: u64,
    catalog: Option<&[Product]>,
) -> Vec<Line> {
    let mut chosen: Vec<u64> = Vec::with_capacity(count as usize);
    for _ in 0..count.min(plan.products) {
        let mut index = popular_product(rng, plan.products);
        while chosen.contains(&index) {
            index = (index + 1) % plan.products;
        }
        chosen.push(index);
    }
    // In product order, as the services list a payment's or cart's lines, and the order
    // of the lines' key (owner, product), so a chunk's rows arrive in key order.
    chosen.sort_unstable();
    chosen
        .into_iter()
        .map(|index| {
            let product = match catalog.and_then(|c| c.get(index as usize)) {
                Some(known) => known.clone(),
                None => product(plan, index),
            };
            let quantity = match rng.random_range(0..10) {
                0..7 => 1,
                7..9 => 2,
                _ => rng.random_range(3..=5),
            };
            Line {
                product_id: product.id,
                name: product.name,
                price: product.price,
                category: product.category,
                quantity,
            }
        })
        .collect()
}

/// `Σ price × quantity`.
pub fn total(lines: &[Line]) -> Decimal {
    lines
        .iter()
        .map(|line| line.price * Decimal::from(line.quantity))
        .sum()
}

/// A customer's cart (payment's `cart` and `cart_product` rows).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cart {
    /// Id.
    pub id: i64,
    /// The owner.
    pub customer_id: Uuid,
    /// The lines; empty for a cart that was emptied.
    pub lines: Vec<Line>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}

/// The cart of user `index`, if they have one (about a third do).
pub fn cart(plan: &Plan, index: u64) -> Option<Cart> {
    cart_with(plan, index, None)
}

/// [`cart`], looking products up in `catalog` (every product of the plan, by index).
pub(crate) fn cart_with(plan: &Plan, index: u64, catalog: Option<&[Product]>) -> Option<Cart> {
    let mut rng = rng(plan.seed, Kind::Cart, index);
    if !rng.random_ratio(35, 100) {
        return None;
    }
    let count = if rng.random_ratio(15, 100) {
        0
    } else {
        rng.random_range(1..=4)
    };
    let created = between(
        &mut rng,
        user_created(plan, index),
        micros(plan.until) - 3_600_000_000,
    );
    Some(Cart {
        id: plan.offsets.carts + index as i64 + 1,
        customer_id: user_id(plan, index),
        lines: lines(plan, &mut rng, count, catalog),
        created_at: at(created),
    })
}

/// When a payment was made and decided.
struct PaymentHistory {
    customer: u64,
    status: PaymentStatus,
    created: i64,
    /// Approval or cancellation by the stock check.
    decided: Option<i64>,
    /// The order's shipment, delivery or cancellation, for approved and refunded ones.
    order_changes: Vec<i64>,
    order_status: Option<OrderStatus>,
}

const MINUTE: i64 = 60_000_000;
const DAY: i64 = 86_400_000_000;

fn payment_history(plan: &Plan, index: u64) -> PaymentHistory {
    let mut rng = rng(plan.seed, Kind::Payment, index);
    // Some customers buy far more than others.
    let skew: f64 = rng.random::<f64>().powf(1.5);
    let customer = ((skew * plan.users as f64) as u64).min(plan.users.saturating_sub(1));
    let registered = user_created(plan, customer);
    let until = micros(plan.until);
    let roll = rng.random_range(0..100);
    let status = match roll {
        0..2 => PaymentStatus::Pending,
        2..80 => PaymentStatus::Approved,
        80..92 => PaymentStatus::Cancelled,
        _ => PaymentStatus::Refunded,
    };
    let created = if status == PaymentStatus::Pending {
        // Still waiting for the stock check: made in the last hour.
        between(&mut rng, (until - 60 * MINUTE).max(registered), until)
    } else {
        between(&mut rng, registered, until - 10 * MINUTE)
    };
    let decided = (status != PaymentStatus::Pending)
        .then(|| created + between(&mut rng, 1_000_000, 5 * MINUTE).min(until - created));
    let mut order_changes = Vec::new();
    let order_status = match (status, decided) {
        (PaymentStatus::Approved, Some(decided)) => {
            let age = until - decided;
            let shipped = decided + between(&mut rng, DAY / 2, 2 * DAY);
            let delivered = shipped + between(&mut rng, DAY, 5 * DAY);
            if shipped > until || age < 2 * DAY {
                Some(OrderStatus::Preparing)
            } else if delivered > until || rng.random_ratio(1, 10) {
                order_changes.push(shipped);
                Some(OrderStatus::OnTheWay)
            } else {
                order_changes.extend([shipped, delivered]);
                Some(OrderStatus::Delivered)
            }
        }
        (PaymentStatus::Refunded, Some(decided)) => {
            order_changes.push(between(&mut rng, decided + MINUTE, until).min(until));
            Some(OrderStatus::Cancelled)
        }
        _ => None,
    };
    PaymentHistory {
        customer,
        status,
        created,
        decided,
        order_changes,
        order_status,
    }
}

/// A payment with its product snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payment {
    /// Id.
    pub id: i64,
    /// The index of the paying user (see [`user`]).
    pub customer: u64,
    /// The paying user's id.
    pub customer_id: Uuid,
    /// 1–5 lines of distinct products.
    pub lines: Vec<Line>,
    /// `Σ price × quantity`.
    pub total_price: Decimal,
    /// Status.
    pub status: PaymentStatus,
    /// Why it was cancelled, when it was.
    pub cancellation_reason: Option<&'static str>,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// When its status last changed.
    pub last_modified_at: Option<DateTime<Utc>>,
    /// Optimistic-locking version: one per status change.
    pub version: i32,
}

/// Payment `index` of the plan.
pub fn payment(plan: &Plan, index: u64) -> Payment {
    payment_with(plan, index, None)
}

/// [`payment`], looking products up in `catalog` (every product of the plan, by index).
pub(crate) fn payment_with(plan: &Plan, index: u64, catalog: Option<&[Product]>) -> Payment {
    let history = payment_history(plan, index);
    let mut rng = rng(plan.seed, Kind::PaymentLines, index);
    let count = match rng.random_range(0..100) {
        0..40 => 1,
        40..65 => 2,
        65..80 => 3,
        80..92 => 4,
        _ => 5,
    };
    let lines = lines(plan, &mut rng, count, catalog);
    let refunded = (history.status == PaymentStatus::Refunded)
        .then(|| history.order_changes.last().copied())
        .flatten();
    Payment {
        id: plan.offsets.payments + index as i64 + 1,
        customer: history.customer,
        customer_id: user_id(plan, history.customer),
        total_price: total(&lines),
        lines,
        status: history.status,
        cancellation_reason: (history.status == PaymentStatus::Cancelled)
            .then_some(DEFAULT_CANCELLATION_REASON),
        created_at: at(history.created),
        last_modified_at: refunded.or(history.decided).map(at),
        version: match history.status {
            PaymentStatus::Pending => 0,
            PaymentStatus::Approved | PaymentStatus::Cancelled => 1,
            PaymentStatus::Refunded => 2,
        },
    }
}

/// An order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Order {
    /// Id.
    pub id: i64,
    /// The payment it was created from.
    pub payment_id: i64,
    /// The customer.
    pub customer_id: Uuid,
    /// Status, consistent with the payment's.
    pub status: OrderStatus,
    /// The delivery address: the customer's primary address.
    pub address: String,
    /// Why it was cancelled, when it was.
    pub cancellation_reason: Option<CancellationReason>,
    /// The customer's words about the cancellation.
    pub cancellation_explanation: Option<&'static str>,
    /// Who received it, when delivered.
    pub recipient: Option<String>,
    /// When it was created (just after the payment's approval).
    pub created_at: DateTime<Utc>,
    /// When its status last changed.
    pub last_modified_at: Option<DateTime<Utc>>,
    /// Optimistic-locking version: one per status change.
    pub version: i32,
}

/// The order of payment `index`: only approved and refunded payments have one.
pub fn order(plan: &Plan, index: u64) -> Option<Order> {
    let history = payment_history(plan, index);
    let status = history.order_status?;
    let decided = history.decided?;
    let mut rng = rng(plan.seed, Kind::Order, index);
    let created = decided + between(&mut rng, 1_000_000, MINUTE);
    let (cancellation_reason, cancellation_explanation) = if status == OrderStatus::Cancelled {
        let reason = CancellationReason::ALL[rng.random_range(0..CancellationReason::ALL.len())];
        (
            Some(reason),
            rng.random_ratio(1, 2)
                .then(|| pick(&mut rng, &EXPLANATIONS)),
        )
    } else {
        (None, None)
    };
    let recipient = (status == OrderStatus::Delivered).then(|| {
        if rng.random_ratio(4, 5) {
            let (first, last) = names(plan, history.customer);
            format!("{first} {last}")
        } else {
            format!(
                "{} {}",
                pick(&mut rng, <EN as Data>::NAME_FIRST_NAME),
                pick(&mut rng, <EN as Data>::NAME_LAST_NAME)
            )
        }
    });
    Some(Order {
        id: plan.offsets.orders + index as i64 + 1,
        payment_id: plan.offsets.payments + index as i64 + 1,
        customer_id: user_id(plan, history.customer),
        status,
        address: primary_address(plan, history.customer).full_address(),
        cancellation_reason,
        cancellation_explanation,
        recipient,
        created_at: at(created),
        last_modified_at: history
            .order_changes
            .last()
            .map(|&change| at(change.max(created))),
        version: history.order_changes.len() as i32,
    })
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    fn plan() -> Plan {
        Plan::with_counts(3, 2_000, 200, 6_000)
    }

    fn within(plan: &Plan, at: DateTime<Utc>) -> bool {
        at >= plan.since() && at <= plan.until
    }

    #[test]
    fn generators_are_pure_functions_of_seed_and_index() {
        let plan = plan();
        assert_eq!(user(&plan, 17), user(&plan, 17));
        assert_eq!(payment(&plan, 17), payment(&plan, 17));
        assert_eq!(order(&plan, 17), order(&plan, 17));
        let other = Plan::with_counts(4, 2_000, 200, 6_000);
        assert_ne!(user(&plan, 17), user(&other, 17));
    }

    #[test]
    fn usernames_and_emails_are_unique_lower_case_and_use_example_domains() {
        let plan = plan();
        let users: Vec<User> = (0..plan.users).map(|i| user(&plan, i)).collect();
        let names: HashSet<&str> = users.iter().map(|u| u.username.as_str()).collect();
        let emails: HashSet<&str> = users.iter().map(|u| u.email.as_str()).collect();
        assert_eq!(names.len(), users.len());
        assert_eq!(emails.len(), users.len());
        for user in &users {
            assert_eq!(user.username, user.username.to_lowercase());
            assert!(
                user.email.ends_with(".com")
                    || user.email.ends_with(".org")
                    || user.email.ends_with(".net")
            );
            assert!(user.email.contains("@example."), "{}", user.email);
        }
        let managers = users.iter().filter(|u| u.manager).count();
        assert!((5..=45).contains(&managers), "{managers} managers of 2000");
    }

    #[test]
    fn every_user_has_one_to_three_addresses_with_exactly_one_primary() {
        let plan = plan();
        for index in 0..500 {
            let all = addresses(&plan, index);
            assert!((1..=3).contains(&all.len()));
            assert_eq!(all.iter().filter(|a| a.is_primary).count(), 1);
            let names: HashSet<&str> = all.iter().map(|a| a.name).collect();
            assert_eq!(names.len(), all.len());
            assert_eq!(
                customer_address(&plan, index).address,
                primary_address(&plan, index).full_address()
            );
            for address in &all {
                assert!(address.country.chars().count() <= 50);
                assert!(address.created_at >= user(&plan, index).created_at);
                assert!(within(&plan, address.created_at));
            }
        }
    }

    #[test]
    fn payment_totals_equal_the_sum_of_their_lines_of_distinct_products() {
        let plan = plan();
        for index in 0..2_000 {
            let payment = payment(&plan, index);
            assert!((1..=5).contains(&payment.lines.len()));
            assert_eq!(payment.total_price, total(&payment.lines));
            let products: HashSet<i64> = payment.lines.iter().map(|l| l.product_id).collect();
            assert_eq!(products.len(), payment.lines.len());
            for line in &payment.lines {
                let product = product(&plan, (line.product_id - 1) as u64);
                assert_eq!(
                    (line.name.as_str(), line.price),
                    (product.name.as_str(), product.price)
                );
            }
            assert!(payment.created_at >= user(&plan, payment.customer).created_at);
            assert!(within(&plan, payment.created_at));
        }
    }

    #[test]
    fn orders_exist_exactly_for_approved_and_refunded_payments_and_match_them() {
        let plan = plan();
        let mut statuses = std::collections::HashMap::new();
        for index in 0..3_000 {
            let payment = payment(&plan, index);
            *statuses.entry(payment.status).or_insert(0) += 1;
            match (payment.status, order(&plan, index)) {
                (PaymentStatus::Approved, Some(order)) => {
                    assert_ne!(order.status, OrderStatus::Cancelled);
                    assert_eq!(order.customer_id, payment.customer_id);
                    assert_eq!(order.payment_id, payment.id);
                    assert_eq!(
                        order.recipient.is_some(),
                        order.status == OrderStatus::Delivered
                    );
                    assert!(order.created_at > payment.created_at);
                }
                (PaymentStatus::Refunded, Some(order)) => {
                    assert_eq!(order.status, OrderStatus::Cancelled);
                    assert!(order.cancellation_reason.is_some());
                }
                (PaymentStatus::Pending | PaymentStatus::Cancelled, None) => {}
                (status, order) => panic!("payment {status:?} with order {order:?}"),
            }
        }
        for status in PaymentStatus::ALL {
            assert!(
                statuses.get(&status).copied().unwrap_or(0) > 10,
                "{statuses:?}"
            );
        }
    }

    #[test]
    fn product_popularity_is_skewed_towards_a_few_products() {
        let plan = Plan::with_counts(1, 10_000, 1_000, 20_000);
        let mut hits = vec![0_u32; 1_000];
        for index in 0..20_000 {
            for line in payment(&plan, index).lines {
                hits[(line.product_id - 1) as usize] += 1;
            }
        }
        let total: u32 = hits.iter().sum();
        let top: u32 = hits[..10].iter().sum();
        assert!(
            f64::from(top) / f64::from(total) > 0.1,
            "top 1 % got {top} of {total}"
        );
    }

    #[test]
    fn a_product_catalog_changes_nothing_but_speed() {
        let plan = plan();
        let catalog: Vec<Product> = (0..plan.products).map(|i| product(&plan, i)).collect();
        for index in 0..200 {
            assert_eq!(
                payment_with(&plan, index, Some(&catalog)),
                payment(&plan, index)
            );
            assert_eq!(cart_with(&plan, index, Some(&catalog)), cart(&plan, index));
        }
    }

    #[test]
    fn offsets_move_ids_and_usernames_but_keep_them_unique() {
        let mut plan = plan();
        plan.offsets.users = 2_000;
        plan.offsets.payments = 100;
        assert!(user(&plan, 0).username.ends_with(".2000"));
        assert_ne!(user_id(&plan, 0), user_id(&super::tests::plan(), 0));
        assert_eq!(payment(&plan, 0).id, 101);
    }
}
