-- Platform tables, applied to every service database before the service's own
-- migrations (tracked in _platform_migrations).

-- Events written in the same transaction as the state change they announce, relayed to
-- RabbitMQ with publisher confirms by the outbox relay.
CREATE TABLE outbox (
    id           BIGSERIAL PRIMARY KEY,
    event_id     UUID        NOT NULL UNIQUE,
    exchange     TEXT        NOT NULL,
    routing_key  TEXT        NOT NULL,
    event_type   TEXT        NOT NULL,
    body         JSONB       NOT NULL,
    headers      JSONB       NOT NULL DEFAULT '{}',
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    published_at TIMESTAMPTZ,
    attempts     INT         NOT NULL DEFAULT 0,
    last_error   TEXT
);
CREATE INDEX outbox_unpublished ON outbox (id) WHERE published_at IS NULL;

-- Events a consumer has applied, keyed by consumer and event id, so a redelivery is
-- recognised and acknowledged without being applied twice.
CREATE TABLE inbox (
    consumer     TEXT        NOT NULL,
    event_id     UUID        NOT NULL,
    processed_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, event_id)
);
