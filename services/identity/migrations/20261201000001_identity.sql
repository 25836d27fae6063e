-- Realms, their roles and clients, users with their credentials and brute-force state,
-- and the RS256 signing keys. Usernames and emails are stored lower-case, as Keycloak
-- stores them, so uniqueness and lookups are case-insensitive.
CREATE TABLE realm (
    name                       TEXT PRIMARY KEY CHECK (length(name) > 0),
    enabled                    BOOLEAN NOT NULL,
    access_token_lifespan_s    BIGINT  NOT NULL CHECK (access_token_lifespan_s > 0),
    sso_session_idle_timeout_s BIGINT  NOT NULL CHECK (sso_session_idle_timeout_s > 0),
    login_with_email_allowed   BOOLEAN NOT NULL,
    brute_force_protected      BOOLEAN NOT NULL,
    failure_factor             INT     NOT NULL CHECK (failure_factor >= 0),
    wait_increment_s           BIGINT  NOT NULL CHECK (wait_increment_s >= 0),
    max_failure_wait_s         BIGINT  NOT NULL CHECK (max_failure_wait_s >= 0),
    max_delta_time_s           BIGINT  NOT NULL CHECK (max_delta_time_s >= 0),
    default_role               TEXT    NOT NULL,
    imported_at                TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE realm_role (
    realm       TEXT   NOT NULL REFERENCES realm (name) ON DELETE CASCADE,
    name        TEXT   NOT NULL,
    description TEXT,
    composites  TEXT[] NOT NULL DEFAULT '{}',
    PRIMARY KEY (realm, name)
);

CREATE TABLE client (
    realm                        TEXT    NOT NULL REFERENCES realm (name) ON DELETE CASCADE,
    client_id                    TEXT    NOT NULL,
    enabled                      BOOLEAN NOT NULL,
    public_client                BOOLEAN NOT NULL,
    secret                       TEXT,
    direct_access_grants_enabled BOOLEAN NOT NULL,
    service_accounts_enabled     BOOLEAN NOT NULL,
    standard_flow_enabled        BOOLEAN NOT NULL,
    redirect_uris                TEXT[]  NOT NULL DEFAULT '{}',
    audiences                    TEXT[]  NOT NULL DEFAULT '{}',
    PRIMARY KEY (realm, client_id),
    CHECK (public_client OR secret IS NOT NULL)
);

CREATE TABLE user_entity (
    id                     UUID    PRIMARY KEY,
    realm                  TEXT    NOT NULL REFERENCES realm (name) ON DELETE CASCADE,
    username               TEXT    NOT NULL CHECK (length(username) > 0 AND username = lower(username)),
    email                  TEXT    CHECK (email = lower(email)),
    email_verified         BOOLEAN NOT NULL DEFAULT FALSE,
    first_name             TEXT,
    last_name              TEXT,
    enabled                BOOLEAN NOT NULL DEFAULT FALSE,
    created_timestamp      BIGINT  NOT NULL,
    attributes             JSONB   NOT NULL DEFAULT '{}'::jsonb,
    realm_roles            TEXT[]  NOT NULL DEFAULT '{}',
    client_roles           JSONB   NOT NULL DEFAULT '{}'::jsonb,
    service_account_client TEXT,
    password_hash          TEXT,
    password_temporary     BOOLEAN NOT NULL DEFAULT FALSE,
    failed_logins          INT     NOT NULL DEFAULT 0 CHECK (failed_logins >= 0),
    last_failure_at        TIMESTAMPTZ,
    locked_until           TIMESTAMPTZ
);
CREATE UNIQUE INDEX user_entity_username ON user_entity (realm, username);
CREATE UNIQUE INDEX user_entity_email ON user_entity (realm, email) WHERE email IS NOT NULL;
CREATE UNIQUE INDEX user_entity_service_account ON user_entity (realm, service_account_client)
    WHERE service_account_client IS NOT NULL;
-- Prefix searches (`search=tom`) on the username use this one.
CREATE INDEX user_entity_username_pattern ON user_entity (realm, username text_pattern_ops);

-- The newest key (highest seq) signs; the one before it stays published.
CREATE TABLE signing_key (
    seq             BIGSERIAL PRIMARY KEY,
    kid             TEXT NOT NULL UNIQUE,
    algorithm       TEXT NOT NULL DEFAULT 'RS256',
    private_key_pem TEXT NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);
