-- Frozen: never edit a released migration; add a new numbered file instead.
-- What a report is built from (submissions, roster, rules, template), apart from what it shows:
-- a report rebuilt only because its as-of date moved keeps its basis and is not mailed again.
ALTER TABLE outputs ADD COLUMN basis_hash TEXT;
ALTER TABLE deliveries ADD COLUMN basis_hash TEXT;
