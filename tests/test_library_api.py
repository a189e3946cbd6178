"""The library API a script uses (processor.workspace.Workspace): the whole pipeline on a real
workspace, with progress through callbacks and nothing printed."""

from __future__ import annotations

import datetime as dt
import json

from processor.validate.roster import workspace_roster
from processor.validate.samples import fill_form
from processor.workspace import Workspace

MONTH = "2026-10"
TODAY = dt.date(2026, 11, 30)


def test_a_script_runs_the_pipeline_through_the_workspace_api(tmp_path, capsys):
    ws = Workspace.create(tmp_path / "ws")
    roster = workspace_roster(ws.config)
    units = roster.unit_names[:2]
    for unit in units:  # each unit's form in its own inbox folder
        (ws.config.inbox / unit).mkdir()
        fill_form(ws.config.inbox / unit / f"{unit}.xlsx", roster=roster, rulebook=ws.config.rulebook, unit=unit,
                  month=MONTH, seed=1)

    started, done = [], []
    inbox = ws.process(on_start=started.append, on_done=done.append)
    assert started == [2] and len(done) == 2
    assert sorted(o.unit for o in inbox.outcomes) == sorted(units)
    assert {o.status for o in inbox.outcomes} == {"accepted"} and not inbox.waiting

    status = Workspace.open(ws.root).status(MONTH, today=TODAY)  # a second handle on the same folder
    submitted = {line["unit"] for line in status["units"] if line["received"]}
    assert submitted == set(units) and status["month"] == MONTH

    outputs = []
    result = ws.consolidate(month=MONTH, today=TODAY, on_output=outputs.append)
    assert result.written and (ws.config.outbox / "manifest.json").is_file()
    listed = json.loads((ws.config.outbox / "manifest.json").read_text(encoding="utf-8"))["outputs"]
    assert outputs and set(outputs) <= set(listed)  # one call per output, named as the manifest names it

    sent = ws.send(dry_run=True)
    assert sent.dry_run and len(sent.dry_run_files) == 1 and sent.dry_run_files[0].suffix == ".eml"
    assert ws.check().ok

    backup = ws.backup(tmp_path / "backup")
    assert backup.ok and (tmp_path / "backup" / "config.toml").is_file()
    assert capsys.readouterr().out == ""  # the library reports through return values and callbacks only


def test_open_finds_the_workspace_from_the_environment(tmp_path, monkeypatch):
    made = Workspace.create(tmp_path / "ws")
    monkeypatch.setenv("PROCESSOR_WORKSPACE", str(made.root))
    assert Workspace.open().root == made.root
