"""企业组联系党建示范点月报表批处理 — the submissions processor.

Stages, one module each: intake → validate → ledger (record) → consolidate →
render → deliver.  ``processor.cli`` is a thin layer over these modules.
"""

__version__ = "1.0.0"
