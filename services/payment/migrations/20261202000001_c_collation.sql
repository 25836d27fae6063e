-- Customer ids are opaque identifiers from the identity provider: compare them byte by
-- byte. Under the database's linguistic collation every index comparison on them is a
-- strcoll() call (index builds ran 2.4x slower under C.UTF-8 than under "C").
ALTER TABLE payment ALTER COLUMN customer_id TYPE VARCHAR(36) COLLATE "C";
ALTER TABLE cart ALTER COLUMN customer_id TYPE VARCHAR(36) COLLATE "C";
ALTER TABLE customer ALTER COLUMN id TYPE VARCHAR(36) COLLATE "C";
