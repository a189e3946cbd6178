-- Frozen: never edit a released migration; add a new numbered file instead.
-- The inbox entry as it was read ("device:inode:size:mtime_ns"): only that very file is removed
-- from the inbox; one saved over it meanwhile stays for the next pass.
ALTER TABLE files ADD COLUMN inbox_identity TEXT;
-- Why a recorded file could not be removed from the inbox (NULL when it was): such a file is
-- answered once, listed by `status`, and skipped by later passes while it stays unchanged.
ALTER TABLE files ADD COLUMN inbox_left TEXT;
CREATE INDEX idx_files_left_in_inbox ON files(inbox_path) WHERE inbox_left IS NOT NULL;
