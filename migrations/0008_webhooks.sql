-- Alerts by webhook (issue 10, part 3): subscriptions, the conditions they
-- watch, an outbox of events written in the same transaction as the fact each
-- reports, and the log of every delivery attempt.  The decisions are the
-- engine's (sql/webhook_*.sql); these are the tables they work on.

-- A subscription: a URL an administrator set, the events it wants (as the
-- API showed them, defaults filled in), and its signing secret in the
-- Standard Webhooks form "whsec_<base64 of 32 random bytes>".  The secret has
-- to be kept as it is to sign with; the API shows it once, in the 201.
CREATE TABLE webhooks (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    url         text NOT NULL CHECK (length(url) BETWEEN 1 AND 2048),
    description text NOT NULL DEFAULT '' CHECK (length(description) <= 200),
    secret      text NOT NULL CHECK (secret LIKE 'whsec\_%'),
    events      jsonb NOT NULL CHECK (jsonb_typeof(events) = 'array'),
    created_at  timestamptz NOT NULL
);
CREATE INDEX webhooks_page ON webhooks (created_at, id);

-- One row per event a subscription watches: its parameter (threshold: hours,
-- days, units, refusals or failures, by type), and the state that makes a
-- condition fire once per crossing (fired), count consecutive sync failures
-- or refusals in a window (counter, window_start).  Rows are locked while
-- they are evaluated, so two instances never fire one crossing twice.
CREATE TABLE webhook_conditions (
    webhook_id     uuid NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    n              integer NOT NULL,             -- its place in webhooks.events
    type           text NOT NULL,
    allotment      text,                         -- allotment.low: professional | analyzer
    threshold      bigint,
    window_seconds bigint,                       -- refusals.high
    fired          boolean NOT NULL DEFAULT false,
    counter        bigint NOT NULL DEFAULT 0,
    window_start   timestamptz,
    PRIMARY KEY (webhook_id, n)
);
CREATE INDEX webhook_conditions_type ON webhook_conditions (type);

-- The outbox: one row per event and subscription, written by the
-- transaction that recorded the fact.  Its id is the message's webhook-id
-- (the same on every retry); payload is the body, exactly as it is signed.
-- state: pending (to be sent at next_attempt_at), delivered, failed (it ran
-- out of attempts).
CREATE TABLE webhook_outbox (
    id              uuid PRIMARY KEY,
    webhook_id      uuid NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    type            text NOT NULL,
    payload         text NOT NULL,
    created_at      timestamptz NOT NULL,
    state           text NOT NULL DEFAULT 'pending'
                    CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL,
    finished_at     timestamptz
);
-- What is due is few whatever the history: a partial index.
CREATE INDEX webhook_outbox_due ON webhook_outbox (next_attempt_at) WHERE state = 'pending';
CREATE INDEX webhook_outbox_hook ON webhook_outbox (webhook_id, created_at);
CREATE INDEX webhook_outbox_finished ON webhook_outbox (finished_at) WHERE state <> 'pending';

-- The delivery log: every attempt, its answer, and who sent it.
CREATE TABLE webhook_attempts (
    id          uuid PRIMARY KEY,
    outbox_id   uuid NOT NULL REFERENCES webhook_outbox (id) ON DELETE CASCADE,
    webhook_id  uuid NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    attempt     integer NOT NULL,
    at          timestamptz NOT NULL,
    outcome     text NOT NULL CHECK (outcome IN ('delivered', 'retrying', 'failed')),
    status_code integer,                         -- NULL: no HTTP answer
    error       text,
    duration_ms integer NOT NULL,
    deliverer   text NOT NULL                    -- host:pid of the allotd that sent it
);
CREATE INDEX webhook_attempts_page ON webhook_attempts (webhook_id, at, id);
CREATE INDEX webhook_attempts_outbox ON webhook_attempts (outbox_id);
