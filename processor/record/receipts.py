"""Receipts (回执): one per file received, written into ``outbox/回执/<单位>/<月份>/``.

A receipt is an HTML page (opens with a double click, prints cleanly) and a
JSON twin for scripts.  Everything in it comes from the file's ledger row, so
writing it again after a crash gives the same file.  A rejected file also gets
the annotated copy of the submitter's own workbook beside its receipt.

The intake has the annotated copy built in its sandbox (``annotate=``); a workbook
too complex for the sandbox's limits is noted in its ledger row (``summary_json``
``annotated_copy = "too-complex"``), so that writing the receipt again (recovery)
never tries again, and the receipt says :data:`TOO_COMPLEX` instead.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from collections.abc import Callable

import jinja2

from processor.common import clock, cnfmt
from processor.validate.annotate import TOO_COMPLEX, TooComplex, write_annotated_copy
from processor.validate.errors import Problem
from processor.common.fsutil import atomic_write_text, fsync_folder, safe_join, safe_name
from processor.record.ledger import (ACCEPTED, DUPLICATE, REJECTED, STATUS_CN, Ledger, receipt_id_prefix,
                                     receipt_number)
from processor.common.paths import TEMPLATES_DIR
from processor.common.periods import MONTH_RE, submission_deadline
from processor.record.resubmission import EMPTY, changes_between
from processor.schemas.layout import FORM_LAYOUT

UNKNOWN_UNIT = "未识别单位"
UNKNOWN_MONTH = "未识别月份"

_env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES_DIR), autoescape=True,
                          undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
_CN_ORDINALS = "一二三四五六七八九十"


def _shown(value, empty: str = EMPTY) -> str:
    """A value as a clerk reads it: nothing is "（空）", never "None"."""
    return empty if value is None or value == "" else str(value)


_env.filters["shown"] = _shown
_env.globals["cn_ordinal"] = lambda n: _CN_ORDINALS[n - 1] if 0 < n <= len(_CN_ORDINALS) else str(n)


def receipt_unit(row, roster=None) -> str:
    """The unit a receipt belongs to: the per-unit inbox folder, else a declared unit the roster knows."""
    declared = row["unit"]
    if declared and roster is not None and roster.unit(declared) is None:
        declared = None  # a misspelt 填报单位 must not invent a folder
    return row["folder_unit"] or declared or UNKNOWN_UNIT


def receipt_folder(ws, row, roster=None) -> Path:
    """``回执/<单位>/<月份>/``; a file of a unit folder the roster does not know (a unit not yet in
    it, a misspelt folder) is answered in ``回执/未识别单位/<that folder>/<月份>/``, where the one who
    dropped it can find it and no unit's folder is spoken for."""
    unit = receipt_unit(row, roster)
    month = row["month"] if row["month"] and MONTH_RE.match(row["month"]) else UNKNOWN_MONTH
    folder = _inbox_folder(row) if unit == UNKNOWN_UNIT else None
    return safe_join(ws.receipts_dir, unit, folder, month) if folder else safe_join(ws.receipts_dir, unit, month)


def _inbox_folder(row) -> str | None:
    """The first folder of the file's place in the inbox, readable; None for the inbox root."""
    value = row["inbox_path"]
    if isinstance(value, bytes):  # a name that is not UTF-8 (GBK from a Windows share)
        value = value.decode("gb18030", "replace")
    parts = str(value).split("/")
    return parts[0] if len(parts) > 1 and parts[0].strip() else None


def receipt_stem(row) -> str:
    stem = Path(row["original_name"]).stem
    return safe_name(f"{receipt_id_prefix(row['id'])}{STATUS_CN[_receipt_status(row)]}_{stem}")


def annotated_copy_path(ws, row, roster=None) -> Path:
    """Where a rejected file's annotated copy lies, beside its receipt."""
    return receipt_folder(ws, row, roster) / f"{receipt_stem(row)}_批注.xlsx"


ANNOTATION_TOO_COMPLEX = "too-complex"  # summary_json["annotated_copy"] of a file over the sandbox's limits

Annotator = Callable[[Path, list[Problem], Path], "Path | None"]


def write_receipt(ws, ledger: Ledger, row, *, roster=None, preview: list[dict] = (),
                  annotate: Annotator = write_annotated_copy) -> Path:
    """Write (or rewrite) the receipt of one arrival; returns the HTML path.

    ``preview`` is what the opinion still asks of the unit (rows as made by
    :func:`processor.consolidate.preview.findings_preview`); the caller computes it, so the
    record stage does not depend on the rules.  ``annotate(src, errors, dest)`` builds a rejected
    file's annotated copy (the intake passes its sandbox's); it returns None for a workbook that
    cannot be opened and raises :class:`TooComplex` for one over the limits."""
    folder = receipt_folder(ws, row, roster)
    stem = receipt_stem(row)
    annotated_name = note = None
    problems = [Problem.from_dict(p) for p in json.loads(row["problems_json"] or "[]")]
    if came_by_mail(ledger, row):  # the receipt, its JSON twin and the annotated copy speak of the sender, not of a folder
        problems = [as_mailed(p, row["folder_unit"]) for p in problems]
    if row["status"] == REJECTED:  # .xls and .ods forms too: their annotated copy is an .xlsx
        annotated_name = annotated_copy_path(ws, row, roster).name
        try:
            annotated = _annotated_copy(ledger, row, annotate, ws.archive / row["archive_path"],
                                        [p for p in problems if p.is_error], folder / annotated_name)
        except TooComplex:
            annotated, note = None, TOO_COMPLEX
        if annotated is None:  # the workbook itself could not be opened: nothing to annotate
            annotated_name = None
    context = receipt_context(ws, ledger, row, problems, annotated_name, list(preview), roster)
    context["annotated_note"] = note
    html_path = folder / f"{stem}.html"
    atomic_write_text(html_path, _env.get_template("receipt.html").render(**context), sync_folder=False)
    try:
        atomic_write_text(folder / f"{stem}.json", indented_json(_json_view(row, problems, context)),
                          sync_folder=False)
        fsync_folder(folder)  # both names at once
    except BaseException:  # a receipt is the pair or nothing; the retry writes both
        html_path.unlink(missing_ok=True)
        raise
    return html_path


_text_json = json.encoder.encode_basestring  # ensure_ascii=False's encoder of a text (C)


class _NotPlain(Exception):
    """A value :func:`indented_json` leaves to the json module."""


def indented_json(value) -> str:
    """``json.dumps(value, ensure_ascii=False, indent=2)``, character for character, at a fraction of
    its cost: with ``indent`` the json module encodes in pure Python, value by value.  Anything but
    dicts with text keys, lists, texts, numbers, booleans and None is left to the json module."""
    try:
        return _indented(value, "\n")
    except _NotPlain:
        return json.dumps(value, ensure_ascii=False, indent=2)


def _indented(value, newline: str) -> str:
    if isinstance(value, dict):
        if not value:
            return "{}"
        inner = newline + "  "
        parts = []
        for key, item in value.items():
            if not isinstance(key, str):
                raise _NotPlain
            parts.append(f"{_text_json(key)}: {_indented(item, inner)}")
        return "{" + inner + ("," + inner).join(parts) + newline + "}"
    if isinstance(value, (list, tuple)):
        if not value:
            return "[]"
        inner = newline + "  "
        return "[" + inner + ("," + inner).join(_indented(item, inner) for item in value) + newline + "]"
    if isinstance(value, str):
        return _text_json(value)
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return int.__repr__(value)
    if isinstance(value, float):
        if value != value:
            return "NaN"
        if value in (float("inf"), float("-inf")):
            return "Infinity" if value > 0 else "-Infinity"
        return float.__repr__(value)
    raise _NotPlain


def _annotated_copy(ledger: Ledger, row, annotate: Annotator, src: Path, errors: list[Problem],
                    dest: Path) -> Path | None:
    """The annotated copy, unless an earlier attempt found the workbook too complex (then, and when
    this attempt does, raises TooComplex; the ledger keeps that, so it is never tried again)."""
    summary = json.loads(row["summary_json"] or "{}")
    if summary.get("annotated_copy") == ANNOTATION_TOO_COMPLEX:
        raise TooComplex(TOO_COMPLEX)
    try:
        return annotate(src, errors, dest)
    except TooComplex:
        summary["annotated_copy"] = ANNOTATION_TOO_COMPLEX
        ledger.set_file(row["id"], summary_json=json.dumps(summary, ensure_ascii=False, default=str))
        raise


def came_by_mail(ledger: Ledger, row) -> bool:
    """Whether the arrival is a form taken from the 报送 mailbox (``mail_parts``, the fact ``status``
    reads too): known by its place in the inbox while the intake handles it, by its id afterwards."""
    return bool(ledger.query("SELECT 1 FROM mail_parts WHERE file_id = ? OR inbox_path = ? LIMIT 1",
                             (row["id"], row["inbox_path"])))


def as_mailed(p: Problem, sender_unit: str | None) -> Problem:
    """A problem as a clerk who sent the form by email reads it: the unit is the sender's address's,
    not a folder's (the reply by email and the receipt say the same)."""
    if p.code != "unit-mismatch":
        return p
    return dataclasses.replace(
        p, message=f"发件邮箱是“{sender_unit}”的，但填报单位写的是“{_shown(p.value)}”。",
        hint="每个单位只能报送本单位的报表；请改正填报单位，或由该单位用其登记的邮箱报送。")


def _receipt_status(row) -> str:
    # A superseded file was accepted when it arrived; its receipt says so.
    return ACCEPTED if row["status"] == "superseded" else row["status"]


def receipt_context(ws, ledger: Ledger, row, problems: list[Problem], annotated: str | None,
                    preview: list[dict], roster=None) -> dict:
    status = _receipt_status(row)
    summary = json.loads(row["summary_json"] or "{}")
    unit = receipt_unit(row, roster)
    month = _month_cn(row["month"])
    verdict = {
        ACCEPTED: f"已接收：{unit}{month}月报表已登记入台账。",
        REJECTED: f"已退回：报表有 {sum(p.is_error for p in problems)} 处问题，请修改后重新报送。",
        DUPLICATE: "重复报送：该文件此前已经收到，本次未重复登记。",
    }[status]
    context = {
        "title": "示范点联系指导月报表回执",
        "status": status,
        "verdict": verdict,
        "unit": unit,
        "month": month,
        "received": _time_cn(row["received_at"], ws.timezone_name),
        "number": receipt_number(row),
        "file_name": row["original_name"],
        "size": _size_cn(row["size"]),
        "sha256": row["sha256"],
        "sites": summary.get("sites", []),
        "sheets": [{"title": s.title, "rows": summary.get("rows", {}).get(s.key, 0)}
                   for s in FORM_LAYOUT if s.key != "basic_info"],
        "errors": [p for p in problems if p.is_error],
        "warnings": [p for p in problems if not p.is_error],
        "checks": summary.get("quality", []),  # checks across months and files (processor.consolidate.quality)
        "annotated": annotated,
        "annotated_note": None,  # why there is no annotated copy, when the reason is worth telling
        "by_mail": came_by_mail(ledger, row),  # the annotated copy goes back attached to the reply
        "preview": preview,
        "replaced": _brief(ledger, row["replaces"]),
        "changes": [c.to_dict() for c in changes_between(ledger, row["replaces"], row["id"])]
                   if row["replaces"] else [],
        "timeliness": timeliness(ledger, ws.rulebook, row),
        "original": _brief(ledger, row["duplicate_of"]),
        "office": ws.office_name,
        "issued": _date_cn(row["received_at"], ws.timezone_name),
    }
    return context


def timeliness(ledger: Ledger, rulebook, row) -> str:
    """On time or late, with the dates: "截止11月5日，11月30日收到，逾期25天" / "按时报送（截止11月5日）".

    As everywhere (``findings.submission_states``), a unit's month counts from its first accepted
    file: a replacement, or a rejected correction, says when that one came.  Empty when the month
    is unknown or the file is a duplicate."""
    if row["status"] == DUPLICATE or not (row["month"] and MONTH_RE.match(row["month"])):
        return ""
    deadline = cnfmt.md_date(submission_deadline(row["month"], rulebook.submission_deadline_day))
    received = rulebook.local_date(row["received_at"])
    first = _first_accepted(ledger, row)
    if first is None:  # rejected, and nothing valid for the month yet
        late = (received - submission_deadline(row["month"], rulebook.submission_deadline_day)).days
        if late > 0:
            return f"截止{deadline}，{cnfmt.md_date(received)}收到，已逾期{late}天，请尽快修改后重新报送"
        return f"截止{deadline}，请在截止日期前修改后重新报送"
    counted = rulebook.local_date(first["received_at"])
    late = (counted - submission_deadline(row["month"], rulebook.submission_deadline_day)).days
    again = first["id"] != row["id"]
    kept = "；此前已接收的报表仍然有效" if row["status"] == REJECTED else ""
    if late > 0:
        text = f"截止{deadline}，{cnfmt.md_date(counted)}收到，逾期{late}天"
        return text + (f"（按首次报送计；本次为{cnfmt.md_date(received)}再次报送{kept}）" if again else "")
    return f"按时报送（截止{deadline}" + (f"，{cnfmt.md_date(counted)}首次报送{kept}" if again else "") + "）"


def _first_accepted(ledger: Ledger, row):
    """The unit's first accepted file of the month, up to and including this one."""
    unit = row["folder_unit"] or row["unit"]
    found = ledger.query("SELECT id, received_at FROM files WHERE unit = ? AND month = ? AND id <= ? "
                         "AND status IN ('accepted', 'superseded') ORDER BY id LIMIT 1",
                         (unit, row["month"], row["id"]))
    return found[0] if found else None


def _brief(ledger: Ledger, file_id) -> dict | None:
    if not file_id:
        return None
    other = ledger.file(file_id)
    return {"name": other["original_name"], "received": _time_cn(other["received_at"]),
            "number": receipt_number(other), "superseded": other["status"] == "superseded"}


def _json_view(row, problems: list[Problem], context: dict) -> dict:
    return {
        "receipt": context["number"], "status": context["status"], "unit": row["unit"],
        "folder_unit": row["folder_unit"], "month": row["month"], "received_at": row["received_at"],
        "file_name": row["original_name"], "size": row["size"], "sha256": row["sha256"],
        "rows": json.loads(row["summary_json"] or "{}").get("rows", {}),
        "replaces": context["replaced"], "duplicate_of": context["original"],
        "timeliness": context["timeliness"], "changes": context["changes"],
        "annotated_copy": context["annotated"], "annotated_copy_note": context.get("annotated_note"),
        "preview": context["preview"], "checks": context["checks"],
        "problems": [p.to_dict() for p in problems],
    }


def _month_cn(month: str | None) -> str:
    if month and MONTH_RE.match(month):
        return cnfmt.month_cn(month)
    return "（月份未识别）"


def _time_cn(iso: str, timezone: str | None = None) -> str:
    moment = clock.local_time(iso, timezone)  # the office's clock, whatever zone the time was stored in
    return f"{cnfmt.cn_date(moment)} {moment:%H:%M}"


def _date_cn(iso: str, timezone: str | None = None) -> str:
    return cnfmt.cn_date(clock.local_date(iso, timezone))


def _size_cn(size: int) -> str:
    if size < 1024:
        return f"{size} 字节"
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} KB"
    return f"{size / 1024 / 1024:.1f} MB"
