-- One database per service, created when the Postgres volume is first initialised
-- (docker-compose.yml mounts this file into /docker-entrypoint-initdb.d/).
-- `cargo xtask up` creates any that are missing on an existing server as well.
CREATE DATABASE identity;
CREATE DATABASE account;
CREATE DATABASE inventory;
CREATE DATABASE orders;
CREATE DATABASE payment;
