"""One status per problem in every document: a requirement whose period has not ended (at risk, not yet due)
is named with one word everywhere the office reads it — the monthly, half-year and yearly reports, the
dossiers, the 总览 page, the receipts, the mails and ``processor status`` (finding 7 of the signable reports:
"存在风险" in some documents and "待完成" in others named the same state)."""

from __future__ import annotations

import email
import os
import re
import subprocess
import sys
from email import policy
from pathlib import Path

import pytest
from docx import Document
from openpyxl import load_workbook

from processor.consolidate.findings import AT_RISK, MET, STATUS_CN

# the words a document of the office has used for a requirement whose period has not ended
AT_RISK_WORDS = ("待完成", "存在风险")
# and for one met ("不符合" and "未达标" are other words: the failed state, or a form's own errors)
MET_WORDS = ("达标", "符合")
NOT_MET = re.compile("不符合|未达标")


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """`processor demo` as it is run, on its own day: every kind of document of a year and a month."""
    from demo_helpers import demo_copy

    return demo_copy(tmp_path_factory)


def _docx_text(path: Path) -> str:
    doc = Document(path)
    parts = [p.text for p in doc.paragraphs]
    parts += [c.text for t in doc.tables for r in t.rows for c in r.cells]
    parts += [p.text for s in doc.sections for h in (s.header, s.footer) for p in h.paragraphs]
    return "\n".join(parts)


def _xlsx_text(path: Path) -> str:
    book = load_workbook(path, read_only=True)
    return "\n".join(str(v) for ws in book.worksheets for row in ws.iter_rows(values_only=True) for v in row
                     if v is not None)


def _eml_text(path: Path) -> str:
    message = email.message_from_bytes(path.read_bytes(), policy=policy.default)
    parts = [message["Subject"] or ""]
    parts += [p.get_content() for p in message.walk() if p.get_content_maintype() == "text"]
    return "\n".join(parts)


READERS = {".docx": _docx_text, ".xlsx": _xlsx_text, ".html": lambda p: re.sub(r"<[^>]+>", "", p.read_text("utf-8")),
           ".eml": _eml_text}


def documents(ws) -> dict[str, str]:
    """Every document of the workspace's outbox an operator, a leader or a county reads, by its path, and the
    answer of ``processor status``."""
    texts = {str(p.relative_to(ws.outbox)): READERS[p.suffix](p) for p in sorted(ws.outbox.rglob("*"))
             if p.suffix in READERS and p.is_file()}
    env = {k: v for k, v in os.environ.items() if k != "PROCESSOR_WORKSPACE"}
    status = subprocess.run([sys.executable, "-m", "processor", "-w", str(ws.root), "status"], capture_output=True,
                            text=True, env=env, timeout=300)
    assert status.returncode == 0, status.stderr
    texts["processor status"] = status.stdout
    return texts


def words_used(texts: dict[str, str]) -> dict[str, list[str]]:
    """Each at-risk word with the documents that use it."""
    return {word: [name for name, text in texts.items() if word in text] for word in AT_RISK_WORDS}


@pytest.mark.slow
def test_every_document_of_the_demo_names_a_requirement_still_running_with_one_word(demo):
    texts = documents(demo.workspace)
    kinds = {name.split("/")[0] for name in texts}
    assert {"月度汇总报告", "半年工作报告", "年度工作总结", "示范点档案", "总览.html", "回执",
            "processor status"} <= kinds, kinds
    used = words_used(texts)
    named = [word for word, where in used.items() if where]
    assert named == [STATUS_CN[AT_RISK]], {word: where[:5] for word, where in used.items()}
    # the word is read in the reports, the dossiers, the 总览 page and the receipts alike
    assert {name.split("/")[0] for name in used[STATUS_CN[AT_RISK]]} >= {"月度汇总报告", "示范点档案", "总览.html"}
    # a requirement met is named with one word too (the 总览 page once said 符合 where the reports say 达标)
    met = {word: [name for name, text in texts.items() if word in NOT_MET.sub("", text)] for word in MET_WORDS}
    assert [word for word, where in met.items() if where] == [STATUS_CN[MET]], {w: d[:5] for w, d in met.items()}
    assert {name.split("/")[0] for name in met[STATUS_CN[MET]]} >= {"月度汇总报告", "示范点档案", "总览.html"}

