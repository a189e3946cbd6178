-- Frozen: never edit a released migration; add a new numbered file instead.
CREATE TABLE deliveries (
    id INTEGER PRIMARY KEY,
    output_path TEXT NOT NULL,         -- relative to the outbox
    output_sha256 TEXT NOT NULL,
    recipients TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending','sent','failed','dry-run')),
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    next_attempt_at TEXT,
    created_at TEXT NOT NULL,
    sent_at TEXT,
    message_id TEXT,
    UNIQUE (output_path, output_sha256, recipients)
);
