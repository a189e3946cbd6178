"""The workspace as a library: create one, open one, and run each stage of the pipeline on it.

Scripts use this module the way the command line does::

    from processor.workspace import Workspace

    ws = Workspace.open("/srv/qyz")
    ws.process()
    ws.consolidate(month="2026-10")
    ws.send(dry_run=True)
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from processor.common.config import (CONFIG_NAME, DEFAULT_CONFIG_TEXT, Workspace as WorkspaceConfig, WorkspaceExists,
                                     load_workspace)
from processor.common.fsutil import atomic_write_text
from processor.record.ledger import Ledger
from processor.validate.roster import sample_roster, write_roster


def init_workspace(folder: Path | str) -> WorkspaceConfig:
    """Create a workspace: config.toml with commented defaults, a sample roster, inbox/ and outbox/,
    and an empty ledger.

    A workspace whose config exists but which never had a ledger (made before ``init`` created
    one, and nothing archived yet) only gets its ledger; anything else that exists is refused."""
    root = Path(folder).resolve()
    config = root / CONFIG_NAME
    if config.exists():
        existing = load_workspace(root)
        if existing.ledger_path.exists() or any(p.is_file() for p in existing.archive.rglob("*")):
            raise WorkspaceExists(f"{config} 已存在，不会覆盖；如需重新初始化，请先删除或改名该文件。")
        Ledger.create(existing.ledger_path).close()
        return existing
    root.mkdir(parents=True, exist_ok=True)
    ws = WorkspaceConfig(root, tomllib.loads(DEFAULT_CONFIG_TEXT), True)
    ws.inbox.mkdir(parents=True, exist_ok=True)
    ws.outbox.mkdir(parents=True, exist_ok=True)
    if not ws.roster_path.exists():
        write_roster(sample_roster(), ws.roster_path)
    Ledger.create(ws.ledger_path).close()  # only init and demo make a ledger; every other command needs one

    atomic_write_text(config, DEFAULT_CONFIG_TEXT)
    return ws
