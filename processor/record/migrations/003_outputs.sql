-- Frozen: never edit a released migration; add a new numbered file instead.
CREATE TABLE outputs (
    path TEXT PRIMARY KEY,             -- relative to the outbox
    kind TEXT NOT NULL,
    period TEXT,
    sha256 TEXT NOT NULL,
    inputs_hash TEXT NOT NULL,         -- fingerprint of the ledger rows it was built from
    version INTEGER NOT NULL DEFAULT 1,
    built_at TEXT NOT NULL
);
