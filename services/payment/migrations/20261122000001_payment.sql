-- Carts, payments and the customer address projection (reference §2.4), with the audit
-- and optimistic-locking columns of every aggregate table, primary keys on the element
-- tables, and the rules the original kept only in application code now also held by the
-- database: one cart per customer, one line per product in a cart, positive quantities.
CREATE TABLE payment (
    id                  BIGSERIAL PRIMARY KEY,
    customer_id         VARCHAR(36)    NOT NULL,
    total_price         NUMERIC(12, 2) NOT NULL CHECK (total_price >= 0),
    status              VARCHAR(50)    NOT NULL
        CHECK (status IN ('PENDING', 'APPROVED', 'CANCELLED', 'REFUNDED')),
    cancellation_reason VARCHAR(500),
    created_date        TIMESTAMPTZ    NOT NULL DEFAULT now(),
    last_modified_date  TIMESTAMPTZ,
    version             INT            NOT NULL DEFAULT 0
);
CREATE INDEX payment_customer ON payment (customer_id, id);

-- The product snapshot of a payment.
CREATE TABLE payment_product (
    id         BIGSERIAL PRIMARY KEY,
    payment_id BIGINT         NOT NULL REFERENCES payment (id) ON DELETE CASCADE,
    product_id BIGINT         NOT NULL,
    name       VARCHAR(150)   NOT NULL,
    price      NUMERIC(10, 2) NOT NULL CHECK (price >= 0),
    category   VARCHAR(50)    NOT NULL,
    quantity   INT            NOT NULL CHECK (quantity > 0),
    CONSTRAINT payment_product_line UNIQUE (payment_id, product_id)
);

CREATE TABLE cart (
    id                 BIGSERIAL PRIMARY KEY,
    customer_id        VARCHAR(36) NOT NULL,
    created_date       TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_modified_date TIMESTAMPTZ,
    version            INT         NOT NULL DEFAULT 0,
    CONSTRAINT cart_one_per_customer UNIQUE (customer_id)
);

CREATE TABLE cart_product (
    id         BIGSERIAL PRIMARY KEY,
    cart_id    BIGINT         NOT NULL REFERENCES cart (id) ON DELETE CASCADE,
    product_id BIGINT         NOT NULL,
    name       VARCHAR(150)   NOT NULL,
    price      NUMERIC(10, 2) NOT NULL CHECK (price >= 0),
    category   VARCHAR(50)    NOT NULL,
    quantity   INT            NOT NULL CHECK (quantity > 0),
    CONSTRAINT cart_product_line UNIQUE (cart_id, product_id)
);

-- The customer's primary address, fed by `address.primary-saved` (no audit columns, as
-- in the original: it is a projection, not an aggregate). `saved_at` is the timestamp of
-- the event that wrote the address: consumers run concurrently, so an older event that
-- arrives late must not overwrite a newer address.
CREATE TABLE customer (
    id       VARCHAR(36)  PRIMARY KEY,
    address  VARCHAR(300) NOT NULL,
    saved_at TIMESTAMPTZ  NOT NULL DEFAULT now()
);
