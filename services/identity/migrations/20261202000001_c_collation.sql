-- User names, e-mails and realm names are compared byte by byte: they are lower-cased
-- identifiers, not prose, so the database's linguistic collation buys nothing and costs
-- every index comparison a strcoll() call (index builds on these columns ran 2.4x slower
-- under C.UTF-8 than under "C"). With "C", the unique (realm, username) index also serves
-- `username LIKE 'tom%'` prefix searches, so the text_pattern_ops copy of it goes.
ALTER TABLE user_entity
    ALTER COLUMN realm TYPE TEXT COLLATE "C",
    ALTER COLUMN username TYPE TEXT COLLATE "C",
    ALTER COLUMN email TYPE TEXT COLLATE "C";
DROP INDEX user_entity_username_pattern;
