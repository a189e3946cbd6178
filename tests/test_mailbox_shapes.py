"""Real mail as clients send it: attachment names in every encoding Chinese mail clients use,
forwarded messages, several forms, a .zip, inline pictures, no form at all, hostile attachments,
limits and failed sender authentication — through the real IMAP server, answered by reply."""

from __future__ import annotations

import base64
import io
import quopri
import zipfile
from email.mime.application import MIMEApplication
from email.mime.image import MIMEImage
from email.mime.message import MIMEMessage
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import make_msgid

import pytest

from form_helpers import filled_form, scenario_form
from processor.intake.mail_parse import FORM, Limits, parse_mail
from mailbox_helpers import LUOYUAN, form_mail

LIMITS = Limits(max_attachments=20, max_file_bytes=20 << 20, max_uncompressed_bytes=200 << 20, max_ratio=200)
NAME = "罗源县喆10月月报表.xlsx"  # 喆 is in GBK, not in GB2312: a GB2312 label must still read it
PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==")


@pytest.fixture(scope="module")
def form_bytes(tmp_path_factory) -> bytes:
    return filled_form(tmp_path_factory.mktemp("form") / "f.xlsx").read_bytes()


def envelope(sender: str = LUOYUAN, subject: str = "月报表") -> MIMEMultipart:
    root = MIMEMultipart()
    root["From"] = sender
    root["To"] = "baosong@example.gov.cn"
    root["Subject"] = subject
    root["Message-ID"] = make_msgid(domain="county.example.gov.cn")
    root.attach(MIMEText("请查收。", "plain", "utf-8"))
    return root


def raw_part(data: bytes, content_type: str, disposition: str) -> MIMEApplication:
    """An attachment whose name headers are written exactly as a client writes them."""
    part = MIMEApplication(data, "octet-stream")
    del part["Content-Type"], part["Content-Disposition"]
    part["Content-Type"] = content_type
    part["Content-Disposition"] = disposition
    return part


def b_word(text: str, charset: str) -> str:
    return f"=?{charset}?B?{base64.b64encode(text.encode(charset if charset != 'GB2312' else 'gbk')).decode()}?="


def q_word(text: str, charset: str) -> str:
    encoded = quopri.encodestring(text.encode(charset), header=True).decode().replace("=\n", "")
    return f"=?{charset}?Q?{encoded}?="


def names_of(message) -> list[str]:
    return [a.name for a in parse_mail(message.as_bytes(), LIMITS).forms]


# --- names -------------------------------------------------------------------------------------

@pytest.mark.parametrize("word", [
    lambda: b_word(NAME, "GB2312"),    # Outlook / Foxmail: GBK bytes labelled GB2312
    lambda: b_word(NAME, "GBK"),
    lambda: b_word(NAME, "GB18030"),
    lambda: q_word(NAME, "GB18030"),
    lambda: b_word(NAME, "UTF-8"),    # QQ Mail
    lambda: q_word(NAME, "UTF-8"),
], ids=["gb2312-label-b", "gbk-b", "gb18030-b", "gb18030-q", "utf8-b", "utf8-q"])
def test_rfc2047_names_in_every_charset_clients_use(form_bytes, word):
    encoded = word()
    message = envelope()
    message.attach(raw_part(form_bytes, f'application/octet-stream; name="{encoded}"',
                            f'attachment; filename="{encoded}"'))
    assert names_of(message) == [NAME]


def test_rfc2231_continuations_with_a_charset(form_bytes):
    raw = NAME.encode("utf-8")
    pieces = [raw[:10], raw[10:25], raw[25:]]
    continued = "; ".join(f"filename*{i}*={'utf-8' + chr(39) * 2 if i == 0 else ''}"
                          + "".join(f"%{b:02X}" for b in piece) for i, piece in enumerate(pieces))
    message = envelope()
    message.attach(raw_part(form_bytes, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                            f"attachment; {continued}"))
    assert names_of(message) == [NAME]


def test_rfc2231_gbk_charset_and_a_raw_8bit_gbk_name(form_bytes):
    gbk = "".join(f"%{b:02X}" for b in NAME.encode("gbk"))
    message = envelope()
    message.attach(raw_part(form_bytes, "application/octet-stream", f"attachment; filename*=gb2312''{gbk}"))
    raw = message.as_bytes().replace(b"%", b"%")  # as written
    assert [a.name for a in parse_mail(raw, LIMITS).forms] == [NAME]

    eight_bit = envelope().as_bytes()  # a client that writes the GBK bytes straight into the header
    boundary = eight_bit.split(b"boundary=\"")[1].split(b"\"")[0]
    part = (b"--" + boundary + b"\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; "
            b"filename=\"" + NAME.encode("gbk") + b"\"\r\nContent-Transfer-Encoding: base64\r\n\r\n"
            + base64.encodebytes(form_bytes) + b"\r\n")
    eight_bit = eight_bit.replace(b"--" + boundary + b"--", part + b"--" + boundary + b"--")
    assert [a.name for a in parse_mail(eight_bit, LIMITS).forms] == [NAME]


# --- shapes, end to end ------------------------------------------------------------------------

def test_a_forwarded_message_carrying_the_form_is_taken(mailbox, form_bytes):  # noqa: F811
    original = envelope(sender="clerk@county.example.com", subject="10月报表")
    original.attach(raw_part(form_bytes, f'application/octet-stream; name="{b_word(NAME, "GB2312")}"',
                             f'attachment; filename="{b_word(NAME, "GB2312")}"'))
    forward = envelope(subject="转发: 10月报表")
    forward.attach(MIMEMessage(original))
    mailbox.deliver(forward)
    [taken] = mailbox.fetch().report.taken
    assert (taken.verdict, taken.forms) == ("forms", [NAME])
    [row] = mailbox.ledger_rows("SELECT status, unit FROM files")
    assert row == {"status": "accepted", "unit": "罗源县"}


def test_several_forms_in_one_message_get_one_receipt_each_in_one_reply(mailbox, tmp_path, form_bytes):  # noqa: F811
    september = scenario_form(tmp_path / "九月.xlsx", "罗源县", "2026-09").read_bytes()
    mailbox.deliver(form_mail(LUOYUAN, [("十月.xlsx", form_bytes), ("九月.xlsx", september)]))
    mailbox.fetch()
    rows = mailbox.ledger_rows("SELECT * FROM files ORDER BY id")
    assert sorted(r["month"] for r in rows) == ["2026-09", "2026-10"]
    assert all(r["receipt_path"] for r in rows)
    [answer] = mailbox.answers()
    text = answer.get_body(("plain",)).get_content()
    for r in rows:
        assert f"{r['received_at'][:4]}-{r['id']:06d}" in text


def stand_in(n: int, name: str) -> str:
    suffix = name[name.rindex("."):]
    return f"{n}".ljust(len(name.encode("gbk")) - len(suffix), "A") + suffix


def test_a_zip_of_forms_with_windows_names_is_unpacked(mailbox, tmp_path, form_bytes):  # noqa: F811
    september = scenario_form(tmp_path / "九月.xlsx", "罗源县", "2026-09").read_bytes()
    buffer = io.BytesIO()
    names = {"十月报表.xlsx": form_bytes, "九月报表.xlsx": september, "说明.txt": b"x"}
    with zipfile.ZipFile(buffer, "w") as archive:
        for n, (name, data) in enumerate(names.items()):  # ASCII stand-ins of the GBK names' length
            archive.writestr(stand_in(n, name), data)
    packed = buffer.getvalue()
    for n, name in enumerate(names):  # Windows' zip tool: the names in CP936, no UTF-8 flag
        packed = packed.replace(stand_in(n, name).encode(), name.encode("gbk"))
    message = envelope()
    message.attach(raw_part(packed, "application/zip", f'attachment; filename="{b_word("报表.zip", "GBK")}"'))
    mailbox.deliver(message)
    [taken] = mailbox.fetch().report.taken
    assert taken.forms == ["十月报表.xlsx", "九月报表.xlsx"]
    assert sorted(r["month"] for r in mailbox.ledger_rows("SELECT month FROM files")) == ["2026-09", "2026-10"]
    assert "说明.txt" in mailbox.answers()[0].get_body(("plain",)).get_content()


def test_inline_pictures_and_signatures_are_not_attachments(mailbox, form_bytes):  # noqa: F811
    message = envelope()
    related = MIMEMultipart("related")
    related.attach(MIMEText('<p>请查收</p><img src="cid:logo">', "html", "utf-8"))
    logo = MIMEImage(PNG, "png")
    logo.add_header("Content-ID", "<logo>")
    logo.add_header("Content-Disposition", "inline", filename="image001.png")
    related.attach(logo)
    message.attach(related)
    message.attach(raw_part(form_bytes, "application/octet-stream", 'attachment; filename="form.xlsx"'))
    mailbox.deliver(message)
    [taken] = mailbox.fetch().report.taken
    assert (taken.forms, taken.others) == (["form.xlsx"], [])
    assert "不是 .xlsx 月报表" not in mailbox.answers()[0].get_body(("plain",)).get_content()


def test_no_attachment_is_answered_that_no_form_was_found(mailbox):  # noqa: F811
    mailbox.deliver(envelope(subject="报表已填好"))
    [taken] = mailbox.fetch().report.taken
    assert taken.verdict == "no-attachment"
    assert "未找到报表附件" in mailbox.answers()[0].get_body(("plain",)).get_content()
    assert mailbox.ledger_rows("SELECT * FROM files") == []


def test_only_a_doc_and_a_pdf_are_answered_with_what_was_found(mailbox):  # noqa: F811
    message = envelope()
    message.attach(raw_part(b"\xd0\xcf\x11\xe0", "application/msword", f'attachment; filename="{b_word("报表.doc", "GBK")}"'))
    message.attach(raw_part(b"%PDF-1.4", "application/pdf", 'attachment; filename="scan.pdf"'))
    mailbox.deliver(message)
    [taken] = mailbox.fetch().report.taken
    assert taken.verdict == "no-form" and taken.others == ["报表.doc", "scan.pdf"]
    text = mailbox.answers()[0].get_body(("plain",)).get_content()
    assert "附件中没有月报表" in text and "报表.doc" in text and "scan.pdf" in text


def test_a_hostile_workbook_goes_through_the_same_sandbox_and_is_rejected(mailbox, tmp_path):  # noqa: F811
    bomb = io.BytesIO()  # a zip bomb dressed as a workbook: one member that inflates far past the limit
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", b"<Types/>")
        archive.writestr("xl/worksheets/sheet1.xml", b"\0" * (50 << 20))
    mailbox.deliver(form_mail(LUOYUAN, [("月报表.xlsx", bomb.getvalue())]))
    mailbox.fetch()
    [row] = mailbox.ledger_rows("SELECT status FROM files")
    assert row["status"] == "rejected"
    assert "已退回" in mailbox.answers()[0].get_body(("plain",)).get_content()


def test_limits_on_attachments_and_message_size(dovecot, tmp_path, monkeypatch, form_bytes):
    from deliver_helpers import make_workspace, smtp_server
    from imap_helpers import PASSWORD, PASSWORD_ENV, imap_config
    from processor.deliver.replies import fetch_mail

    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    user = dovecot.new_user()
    with smtp_server() as (replies, port):
        ws = make_workspace(tmp_path / "ws", port=port,
                            extra=imap_config(dovecot, user, extra="max_attachments = 2\nmax_message_mb = 0.5\n"))
        dovecot.append(user, form_mail(LUOYUAN, [(f"{n}.xlsx", form_bytes) for n in range(3)]))
        big = envelope()
        big.attach(raw_part(b"\0" * (1 << 20), "application/pdf", 'attachment; filename="big.pdf"'))
        dovecot.append(user, big)
        taken = fetch_mail(ws).report.taken
    assert [t.verdict for t in taken] == ["too-many", "too-large"]
    texts = [m.get_body(("plain",)).get_content() for _, m in replies.messages]
    assert "附件过多" in texts[0] and "邮件过大" in texts[1]
    assert dovecot.count(user, "已处理") == 2


AUTH_FAIL = "mx.office.example.gov.cn; spf=fail smtp.mailfrom=example.gov.cn; dkim=none; dmarc=fail header.from=example.gov.cn"


def test_a_message_failing_spf_or_dmarc_is_held_listed_and_not_answered(mailbox, form_bytes):  # noqa: F811
    message = form_mail(LUOYUAN, [("月报表.xlsx", form_bytes)])
    message["Authentication-Results"] = AUTH_FAIL
    mailbox.deliver(message)
    report = mailbox.fetch().report
    assert [t.verdict for t in report.taken] == ["held"]
    [held] = report.held
    assert held["sender"] == LUOYUAN and "SPF" in held["note"] and "DMARC" in held["note"]
    assert mailbox.ledger_rows("SELECT * FROM files") == [] and mailbox.answers() == []
    assert mailbox.server.count(mailbox.user) == 1, "left in the mailbox for a person to look at"
    assert mailbox.fetch().report.held[0]["id"] == held["id"], "listed again, never taken twice"
    assert mailbox.ledger_rows("SELECT count(*) AS n FROM mail_messages") == [{"n": 1}]


def test_authentication_results_below_the_office_servers_own_are_not_believed(form_bytes):
    message = form_mail(LUOYUAN, [("月报表.xlsx", form_bytes)])
    message["Authentication-Results"] = "mx.office.example.gov.cn; spf=pass; dkim=pass; dmarc=pass"
    message["Authentication-Results"] = "forged.example; spf=fail"  # below: came with the message
    assert parse_mail(message.as_bytes(), LIMITS).auth_failure is None
    assert [a.kind for a in parse_mail(message.as_bytes(), LIMITS).attachments] == [FORM]


def test_auto_replies_and_bounces_are_never_answered(mailbox):  # noqa: F811
    """An out-of-office reply from a county's own address (or a bounce) must not start a mail loop."""
    away = envelope(subject="自动回复：罗源县10月份月报表")
    away["Auto-Submitted"] = "auto-replied"
    bounce = envelope(sender="MAILER-DAEMON@county.example.gov.cn", subject="Undelivered Mail")
    forged = envelope(sender="someone@elsewhere.example", subject="报表")
    forged["Authentication-Results"] = "mx.office.example.gov.cn; dmarc=fail"
    for message in (away, bounce, forged):
        mailbox.deliver(message)
    taken = mailbox.fetch().report.taken
    assert [t.verdict for t in taken] == ["no-attachment", "unknown-sender", "unknown-sender"]
    assert mailbox.answers() == [], "no answer to a robot, nor to an address the server could not verify"
    assert mailbox.server.count(mailbox.user, "已处理") == 3
