-- Products and their stock (reference §2.2), with the audit and optimistic-locking
-- columns of every aggregate table, and the checks the original left to luck.
CREATE TABLE product (
    id                     BIGSERIAL PRIMARY KEY,
    name                   VARCHAR(150)   NOT NULL CHECK (length(btrim(name)) > 0),
    price                  NUMERIC(10, 2) NOT NULL CHECK (price >= 0),
    category               VARCHAR(50)    NOT NULL
        CHECK (category IN ('ELECTRONICS', 'FURNITURE', 'CLOTHING', 'TOOL')),
    quantity               INT            NOT NULL CHECK (quantity >= 0),
    is_available_in_region BOOLEAN        NOT NULL DEFAULT TRUE,
    created_date           TIMESTAMPTZ    NOT NULL DEFAULT now(),
    last_modified_date     TIMESTAMPTZ,
    version                INT            NOT NULL DEFAULT 0
);
CREATE INDEX product_category ON product (category);
