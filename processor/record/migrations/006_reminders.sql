-- Frozen: never edit a released migration; add a new numbered file instead.
-- One row per 催报 mail: a unit, a form month, a kind (提醒 / 催报 / 退回) and the interval it
-- belongs to.  The UNIQUE key is the "at most once per interval" guarantee.
CREATE TABLE reminders (
    id INTEGER PRIMARY KEY,
    unit TEXT NOT NULL,
    month TEXT NOT NULL,               -- the form month reminded of (YYYY-MM)
    kind TEXT NOT NULL,                -- 提醒 / 催报 / 退回
    slot TEXT NOT NULL,                -- the interval: its first day, and for 退回 the rejected file
    address TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending','sent','failed','dry-run','cancelled')),
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    next_attempt_at TEXT,
    created_at TEXT NOT NULL,
    sent_at TEXT,
    message_id TEXT,
    UNIQUE (unit, month, kind, slot)
);
CREATE INDEX idx_reminders_status ON reminders(status);
