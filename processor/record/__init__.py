"""The ledger (SQLite, frozen migrations) and what is written per submission: receipts, resubmission diffs, integrity check, backup."""
