"""企业组联系党建示范点月报表批处理 — the submissions processor.

One subpackage per stage, each importing only the ones below it (docs/architecture.md;
checked by import-linter): deliver → intake → consolidate → render → record → validate → common.
``processor.workspace`` is the library API over them and ``processor.cli`` a thin layer on top.
"""

__version__ = "1.0.0"
