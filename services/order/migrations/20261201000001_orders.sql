-- Orders (reference §2.3) with the audit and optimistic-locking columns of every
-- aggregate table. Status and cancellation reason are stored by NAME (the original
-- stored the reason as an ordinal, §13.21). One order per payment: a redelivered or
-- duplicated `payment.approved` can never create a second one.
CREATE TABLE orders (
    id                       BIGSERIAL PRIMARY KEY,
    status                   VARCHAR(50)  NOT NULL
        CHECK (status IN ('PREPARING', 'ON_THE_WAY', 'DELIVERED', 'CANCELLED')),
    customer_id              VARCHAR(255) NOT NULL CHECK (length(btrim(customer_id)) > 0),
    payment_id               BIGINT       NOT NULL CONSTRAINT orders_payment_id_key UNIQUE,
    address                  VARCHAR(200) NOT NULL CHECK (length(btrim(address)) > 0),
    cancellation_reason      VARCHAR(100)
        CHECK (cancellation_reason IN ('DELIVERY_TOOK_TOO_LONG', 'FOUND_BETTER_ALTERNATIVE', 'DONT_NEED_ANYMORE')),
    cancellation_explanation VARCHAR(500),
    recipient                VARCHAR(100),
    created_date             TIMESTAMPTZ  NOT NULL DEFAULT now(),
    last_modified_date       TIMESTAMPTZ,
    version                  INT          NOT NULL DEFAULT 0,
    -- A cancellation exists exactly when the order is cancelled.
    CONSTRAINT orders_cancellation_iff_cancelled
        CHECK ((status = 'CANCELLED') = (cancellation_reason IS NOT NULL))
);
CREATE INDEX orders_customer ON orders (customer_id, id);
