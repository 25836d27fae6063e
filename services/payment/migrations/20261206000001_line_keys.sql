-- A payment's or a cart's line is identified by its owner and its product, as in the
-- original (a JPA @ElementCollection, rows with no identity of their own). The surrogate
-- `id` was never read; it cost a sequence, eight bytes a row and a second unique index
-- to maintain on the largest table (the seeder rebuilt it in 2.5 s of a 20 s load).
ALTER TABLE payment_product
    DROP COLUMN id,
    DROP CONSTRAINT payment_product_line,
    ADD CONSTRAINT payment_product_pkey PRIMARY KEY (payment_id, product_id);
ALTER TABLE cart_product
    DROP COLUMN id,
    DROP CONSTRAINT cart_product_line,
    ADD CONSTRAINT cart_product_pkey PRIMARY KEY (cart_id, product_id);
