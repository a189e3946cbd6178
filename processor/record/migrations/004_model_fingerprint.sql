-- Frozen: never edit a released migration; add a new numbered file instead.
-- The fingerprint of the form models' sheet columns that migrations 001-004 built
-- (processor.ledger.model_fingerprint).  A later migration that adds or changes a
-- sheet column updates it in the same file, e.g.
--   ALTER TABLE sites ADD COLUMN x TEXT;
--   UPDATE _meta SET value = '<new fingerprint>' WHERE key = 'model_fingerprint';
CREATE TABLE _meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
INSERT INTO _meta (key, value) VALUES ('model_fingerprint', '7a156d7a22f107ed');
