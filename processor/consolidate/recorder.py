"""What the processor wrote into the outbox, and what a person changed there.

The ``outputs`` table holds each output's current version; ``output_versions`` every version the
processor ever wrote at a path (recorded before the file is put in place).  A file whose bytes are none
of those is a person's edit: it is left as it is and the new version goes beside it.  Kept apart from
the consolidation run so that ``processor status`` can list edited files without the report builders.
"""

from __future__ import annotations

import itertools
from pathlib import Path

from processor.common import outputs as K
from processor.common.fsutil import sha256_file
from processor.record.ledger import Ledger, now_iso


def edited_outputs(ws, ledger: Ledger) -> list[dict]:
    """The outbox files a person changed (bytes the processor never wrote at that path), each with
    the newest version the processor wrote beside it (``new_version``, None when there is none);
    paths relative to the outbox.  For ``processor status``."""
    recorder = Recorder(ledger, ws.outbox)
    found = []
    for rel in sorted(recorder.previous):
        if not recorder.is_edited(rel):
            continue
        newest = None
        for n in itertools.count(1):
            candidate = K.new_version_path(rel, n)
            if not (ws.outbox / candidate).exists():
                break
            if candidate in recorder.known and not recorder.is_edited(candidate):
                newest = candidate
        found.append({"path": rel, "new_version": newest})
    return found


class Recorder:
    """The outputs table: read once, written in batches (a file written but not yet recorded when
    a crash comes is simply rebuilt by the next run); and every version written, recorded before
    its file is put in place (``output_versions``), which tells the processor's files from a
    person's edits."""

    BATCH = 64

    def __init__(self, ledger: Ledger, outbox: Path):
        self.ledger = ledger
        self.outbox = outbox
        self.previous = {r["path"]: dict(r) for r in ledger.query("SELECT * FROM outputs")}
        self.known: dict[str, set[str]] = {}
        self.sides: dict[str, set[str]] = {}  # a path -> the new versions written beside it
        for r in ledger.query("SELECT path, sha256 FROM output_versions"):
            self._know(r["path"], r["sha256"])
        self._pending: list[dict] = []

    def is_edited(self, rel: str) -> bool:
        """The file is there, the processor wrote this path before, and these bytes are none it wrote
        there or beside it (a new version renamed to the report's own name is the processor's again).
        A path never recorded (a ledger restored without its outbox) is the processor's to write."""
        path = self.outbox / rel
        if not self.known.get(rel) or not path.is_file():
            return False
        base = K.edited_original(rel) or rel
        family = [base, *self.sides.get(base, ())]
        return sha256_file(path) not in set().union(*(self.known.get(p, ()) for p in family))

    def drop_new_versions(self, rel: str) -> list[str]:
        """``rel`` is the processor's again (its changed copy was deleted or replaced): remove the new
        versions it wrote beside it, which are now out of date (never one a person changed)."""
        dropped = []
        for path in sorted(self.sides.get(rel, ())):
            target = self.outbox / path
            if target.is_file() and not self.is_edited(path):
                target.unlink()
                dropped.append(path)
            if not target.exists() and path in self.previous:
                self.flush()
                with self.ledger.atomic() as conn:
                    conn.execute("DELETE FROM outputs WHERE path = ?", (path,))
                del self.previous[path]
        return dropped

    def destination(self, rel: str) -> str:
        """Where this run's version of ``rel`` goes: ``rel`` itself, or, when a person changed that
        file, the first ``（程序新版）`` name beside it that is free or still the processor's own."""
        if not self.is_edited(rel):
            return rel
        for n in itertools.count(1):
            candidate = K.new_version_path(rel, n)
            path = self.outbox / candidate
            if not path.exists() or (candidate in self.known and not self.is_edited(candidate)):
                return candidate
        raise AssertionError("unreachable")

    def register(self, versions: list[tuple[str, str]]) -> None:
        """Record versions about to be put in place (committed before the files move)."""
        stamp = now_iso()
        with self.ledger.atomic() as conn:
            conn.executemany("INSERT OR IGNORE INTO output_versions (path, sha256, written_at) VALUES (?, ?, ?)",
                             [(path, digest, stamp) for path, digest in versions])
        for path, digest in versions:
            self._know(path, digest)

    def _know(self, path: str, digest: str) -> None:
        self.known.setdefault(path, set()).add(digest)
        if base := K.edited_original(path):
            self.sides.setdefault(base, set()).add(path)

    def add(self, record: dict) -> None:
        self.previous[record["path"]] = record
        self._pending.append(record)
        if len(self._pending) >= self.BATCH:
            self.flush()

    def flush(self) -> None:
        if not self._pending:
            return
        with self.ledger.atomic() as conn:
            conn.executemany("INSERT OR REPLACE INTO outputs (path, kind, period, sha256, inputs_hash, basis_hash, "
                             "version, built_at, sources_hash, update_note) VALUES (:path, :kind, :period, :sha256, "
                             ":inputs_hash, :basis_hash, :version, :built_at, :sources_hash, :update_note)",
                             [{"sources_hash": None, "update_note": None, **r} for r in self._pending])
        self._pending = []
