-- Frozen: never edit a released migration; add a new numbered file instead.
-- Every version of an outbox file the processor wrote, recorded before the file is put in place.
-- A file whose bytes are none of its path's versions was changed by a person (a report opened in
-- Word and saved): consolidation leaves it as it is and writes its new version beside it.
CREATE TABLE output_versions (
    path TEXT NOT NULL,                -- relative to the outbox
    sha256 TEXT NOT NULL,
    written_at TEXT NOT NULL,
    PRIMARY KEY (path, sha256)
);
INSERT OR IGNORE INTO output_versions (path, sha256, written_at) SELECT path, sha256, built_at FROM outputs;
