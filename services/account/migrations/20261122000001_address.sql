-- Customer addresses (reference §2.1), with the audit and optimistic-locking columns of
-- every aggregate table, and the rules the original kept only in application code now
-- also held by the database: a name is unique per customer, and a customer has at most
-- one primary address.
CREATE TABLE address (
    id                 BIGSERIAL PRIMARY KEY,
    -- The identity provider's user id (the token's `sub`); Keycloak's are 36 characters,
    -- the column leaves room for other providers' ids.
    customer_id        VARCHAR(255) NOT NULL,
    name               VARCHAR(100) NOT NULL CHECK (length(btrim(name)) > 0),
    country            VARCHAR(50)  NOT NULL CHECK (length(btrim(country)) > 0),
    city               VARCHAR(100) NOT NULL CHECK (length(btrim(city)) > 0),
    zip_code           VARCHAR(10)  NOT NULL CHECK (length(btrim(zip_code)) > 0),
    is_primary         BOOLEAN      NOT NULL DEFAULT FALSE,
    created_date       TIMESTAMPTZ  NOT NULL DEFAULT now(),
    last_modified_date TIMESTAMPTZ,
    version            INT          NOT NULL DEFAULT 0,
    CONSTRAINT address_customer_name UNIQUE (customer_id, name)
);
CREATE UNIQUE INDEX address_one_primary_per_customer ON address (customer_id) WHERE is_primary;
CREATE INDEX address_customer ON address (customer_id, id);
