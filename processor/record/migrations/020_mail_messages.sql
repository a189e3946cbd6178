-- Frozen: never edit a released migration; add a new numbered file instead.
-- Forms by email (SPEC §12).  One row per message taken from the 报送 mailbox, written BEFORE the
-- message is moved to the processed folder: a message seen again (a crash before the move, or the
-- same message under a new UIDVALIDITY) is recognised here and never taken twice.
CREATE TABLE mail_messages (
    id INTEGER PRIMARY KEY,
    mailbox TEXT NOT NULL,             -- user@host/folder the message was read from
    uidvalidity INTEGER NOT NULL,
    uid INTEGER NOT NULL,
    message_id TEXT,                   -- the Message-ID header as sent (NULL when it had none)
    content_key TEXT NOT NULL,         -- sha256 of Message-ID and the attachments' hashes
    sender TEXT NOT NULL,              -- the From address, lower case
    unit TEXT,                         -- the roster unit of that address (NULL: not in the roster)
    subject TEXT,
    references_ TEXT,                  -- the References header as sent (the reply continues it)
    received_at TEXT NOT NULL,
    verdict TEXT NOT NULL,             -- forms / unknown-sender / no-attachment / no-form / held / too-large / too-many
    state TEXT NOT NULL CHECK (state IN ('taken', 'ingested', 'moved', 'held')),
    moved_at TEXT,
    note TEXT,                         -- why it was held (SPF/DKIM/DMARC), in Chinese
    automatic INTEGER NOT NULL DEFAULT 0,  -- an auto-reply, bounce or list mail (RFC 3834): never answered
    UNIQUE (mailbox, uidvalidity, uid)
);
CREATE INDEX idx_mail_messages_key ON mail_messages(content_key);
CREATE INDEX idx_mail_messages_state ON mail_messages(state);

-- The message's attachments: each spreadsheet enters the intake as a file of the sender's unit.
CREATE TABLE mail_parts (
    id INTEGER PRIMARY KEY,
    mail_id INTEGER NOT NULL REFERENCES mail_messages(id),
    seq INTEGER NOT NULL,              -- order in the message (a .zip's forms follow it)
    name TEXT NOT NULL,                -- the attachment's name as decoded
    sha256 TEXT NOT NULL,
    size INTEGER NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('form', 'other', 'refused')),
    inbox_path TEXT,                   -- where a form was put for the intake (relative to the inbox)
    file_id INTEGER REFERENCES files(id),
    note TEXT,                         -- why an attachment was not taken, in Chinese
    UNIQUE (mail_id, seq)
);
CREATE INDEX idx_mail_parts_file ON mail_parts(file_id);

-- The answer to each message, sent once through the SMTP path (same back-off as report mail).
CREATE TABLE mail_replies (
    id INTEGER PRIMARY KEY,
    mail_id INTEGER NOT NULL UNIQUE REFERENCES mail_messages(id),
    address TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'failed', 'dry-run')),
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    next_attempt_at TEXT,
    created_at TEXT NOT NULL,
    sent_at TEXT,
    message_id TEXT
);
CREATE INDEX idx_mail_replies_status ON mail_replies(status);
