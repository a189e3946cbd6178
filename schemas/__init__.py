"""Validation models and rulebook data — the single source of truth.

``processor.schemas.form`` declares every sheet of the monthly form, ``processor.schemas.roster``
the office's roster workbook, and ``requirements.toml`` every number of the
implementation opinion.  Templates, dropdowns, error messages, ledger tables
and report tables are all derived from these declarations.
"""
