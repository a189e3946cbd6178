"""Nightly consolidation: rules over the ledger (findings, quality), report contexts, the overview, status, and the run that writes the outbox."""
