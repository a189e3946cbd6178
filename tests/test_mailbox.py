"""Forms by email (SPEC §12): the 报送 mailbox on a real IMAP server (Dovecot), answers by reply to a
real SMTP server (aiosmtpd), the same intake as the inbox folder."""

from __future__ import annotations

import email
import json

import pytest
from click.testing import CliRunner

from deliver_helpers import smtp_server, make_workspace
from form_helpers import filled_form, set_cells
from imap_helpers import PASSWORD, PASSWORD_ENV, imap_config
from processor.common.config import ConfigError, load_workspace
from processor.deliver.replies import fetch_mail
from processor.record.ledger import Ledger

from mailbox_helpers import LUOYUAN, form_mail, serving


# --- config ------------------------------------------------------------------------------------

def test_imap_section_is_in_the_template_and_checked(tmp_path):
    from processor.common.config import DEFAULT_CONFIG_TEXT, Workspace
    import tomllib

    raw = tomllib.loads(DEFAULT_CONFIG_TEXT)
    assert raw["imap"]["host"] == "" and raw["imap"]["password_env"] == "PROCESSOR_IMAP_PASSWORD"
    assert "密码只从这个环境变量读取" in DEFAULT_CONFIG_TEXT.split("[imap]")[1]
    assert not Workspace(tmp_path, raw).imap.enabled
    for table, words in (({"security": "tls"}, "imap.security"), ({"port": 0}, "imap.port"),
                         ({"pasword_env": "X"}, "imap.pasword_env"),
                         ({"host": "mail.example.gov.cn"}, "imap.user"),
                         ({"max_attachments": "3"}, "imap.max_attachments")):
        with pytest.raises(ConfigError, match=words):
            _ = Workspace(tmp_path, {**raw, "imap": {**raw["imap"], **table}}).imap


# --- end to end ---------------------------------------------------------------------------------

def test_an_emailed_form_is_taken_like_a_dropped_file_and_answered_by_reply(mailbox, tmp_path):
    form = filled_form(tmp_path / "罗源县10月月报表.xlsx").read_bytes()
    sent = form_mail(LUOYUAN, [("罗源县10月月报表.xlsx", form)])
    mailbox.deliver(sent)

    result = mailbox.fetch()

    [taken] = result.report.taken
    assert (taken.unit, taken.verdict, taken.forms) == ("罗源县", "forms", ["罗源县10月月报表.xlsx"])
    [row] = mailbox.ledger_rows("SELECT * FROM files")
    assert (row["status"], row["unit"], row["month"], row["original_name"]) == \
        ("accepted", "罗源县", "2026-10", "罗源县10月月报表.xlsx")
    assert row["receipt_path"] and (mailbox.ws.outbox / row["receipt_path"]).is_file(), "same receipt in 回执"
    assert (mailbox.ws.archive / row["archive_path"]).is_file()
    assert not any(p.is_file() for p in mailbox.ws.inbox.rglob("*")), "nothing left in the inbox"
    # the message is moved to the processed folder
    assert mailbox.server.count(mailbox.user) == 0
    assert mailbox.server.count(mailbox.user, "已处理") == 1
    # answered by reply, once
    [answer] = mailbox.answers()
    assert answer["Subject"] == "Re: 罗源县10月份月报表"
    assert answer["In-Reply-To"] == sent["Message-ID"]
    assert sent["Message-ID"] in answer["References"]
    assert answer["To"] == LUOYUAN
    assert answer["Reply-To"] == mailbox.user
    text = answer.get_body(("plain",)).get_content()
    html = answer.get_body(("html",)).get_content()
    number = f"{row['received_at'][:4]}-{row['id']:06d}"
    assert number in text and "已接收" in text
    assert number in html
    [reply] = mailbox.ledger_rows("SELECT * FROM mail_replies")
    assert reply["status"] == "sent" and reply["message_id"] == answer["Message-ID"]

    again = mailbox.fetch()  # nothing new: nothing taken, nobody answered again
    assert again.report.taken == [] and len(mailbox.answers()) == 1


def test_a_rejected_form_is_answered_with_its_annotated_copy_and_a_corrected_reply_is_accepted(mailbox, tmp_path):
    bad = set_cells(filled_form(tmp_path / "月报表.xlsx"), "示范点", {"G2": None}).read_bytes()
    first = form_mail(LUOYUAN, [("月报表.xlsx", bad)])
    mailbox.deliver(first)
    mailbox.fetch()
    [answer] = mailbox.answers()
    assert "已退回" in answer.get_body(("plain",)).get_content()
    [copy] = list(answer.iter_attachments())
    assert copy.get_filename().endswith("_批注.xlsx")

    # the clerk fixes the form and answers the reply with it
    good = filled_form(tmp_path / "改好的.xlsx").read_bytes()
    correction = form_mail(LUOYUAN, [("月报表.xlsx", good)], subject=answer["Subject"])
    correction["In-Reply-To"] = answer["Message-ID"]
    mailbox.deliver(correction)
    mailbox.fetch()

    rows = mailbox.ledger_rows("SELECT status, unit, month FROM files ORDER BY id")
    assert rows == [{"status": "rejected", "unit": "罗源县", "month": "2026-10"},
                    {"status": "accepted", "unit": "罗源县", "month": "2026-10"}]
    second = mailbox.answers()[1]
    assert second["Subject"] == answer["Subject"], "a reply to a reply is not Re: Re:"
    assert "已接收" in second.get_body(("plain",)).get_content()


def test_a_form_naming_another_unit_is_refused_as_for_a_wrong_folder(mailbox, tmp_path):
    other = set_cells(filled_form(tmp_path / "连江县.xlsx"), "基本信息", {"B2": "连江县"}).read_bytes()
    mailbox.deliver(form_mail(LUOYUAN, [("连江县.xlsx", other)]))
    mailbox.fetch()
    [row] = mailbox.ledger_rows("SELECT * FROM files")
    assert row["status"] == "rejected" and row["folder_unit"] == "罗源县"
    assert "unit-mismatch" in row["problems_json"]
    assert not mailbox.ledger_rows("SELECT * FROM files WHERE unit = '连江县' AND status = 'accepted'")
    text = mailbox.answers()[0].get_body(("plain",)).get_content()
    assert "发件邮箱是“罗源县”的，但填报单位写的是“连江县”" in text and "文件夹" not in text.split("回执也已")[0]


def test_an_unknown_sender_gets_one_polite_answer_and_nothing_is_taken(mailbox, tmp_path):
    form = filled_form(tmp_path / "月报表.xlsx").read_bytes()
    for _ in range(2):
        mailbox.deliver(form_mail("stranger@example.com", [("月报表.xlsx", form)]))
    result = mailbox.fetch()
    assert [t.verdict for t in result.report.taken] == ["unknown-sender", "unknown-sender"]
    assert mailbox.ledger_rows("SELECT * FROM files") == []
    assert list(mailbox.ws.archive.rglob("*.xlsx")) == []
    [answer] = mailbox.answers()
    assert answer["To"] == "stranger@example.com"
    assert "不在各单位的报送名册中" in answer.get_body(("plain",)).get_content()
    assert mailbox.server.count(mailbox.user, "已处理") == 2


def test_dry_run_lists_what_would_be_taken_and_changes_nothing(mailbox, tmp_path):
    form = filled_form(tmp_path / "月报表.xlsx").read_bytes()
    mailbox.deliver(form_mail(LUOYUAN, [("月报表.xlsx", form)]))
    result = mailbox.fetch(dry_run=True)
    [taken] = result.report.taken
    assert (taken.unit, taken.forms) == ("罗源县", ["月报表.xlsx"])
    assert mailbox.ledger_rows("SELECT * FROM files") == []
    assert mailbox.ledger_rows("SELECT * FROM mail_messages") == []
    assert mailbox.server.count(mailbox.user) == 1 and mailbox.answers() == []


def test_fetch_command_prints_what_it_took(mailbox, tmp_path, monkeypatch):
    from processor.cli import main

    form = filled_form(tmp_path / "月报表.xlsx").read_bytes()
    mailbox.deliver(form_mail(LUOYUAN, [("月报表.xlsx", form)]))
    runner = CliRunner()
    dry = runner.invoke(main, ["-w", str(mailbox.ws.root), "fetch", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "罗源县" in dry.output and "月报表.xlsx" in dry.output
    done = runner.invoke(main, ["-w", str(mailbox.ws.root), "fetch", "--json"])
    assert done.exit_code == 0, done.output
    data = json.loads(done.output)
    assert data["taken"][0]["unit"] == "罗源县" and data["replies"]["sent"] == [LUOYUAN]
    assert email  # the module's parser is what the server sees


# --- serve ----------------------------------------------------------------------------------------

@pytest.mark.slow
def test_serve_answers_a_mailed_form_as_it_arrives(dovecot, tmp_path, monkeypatch):
    """With an hour's poll interval, a message arriving while ``serve`` runs is still answered at once:
    the server's IDLE says it came."""

    from conftest import wait_until

    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    user = dovecot.new_user()
    form = filled_form(tmp_path / "月报表.xlsx").read_bytes()
    with smtp_server() as (replies, port):
        ws = make_workspace(tmp_path / "ws", port=port, extra=imap_config(dovecot, user, extra="poll_interval = 3600\n"))
        ws = load_workspace(ws.root)
        dovecot.append(user, form_mail(LUOYUAN, [("早到的.xlsx", form)]))
        with serving(ws):
            wait_until(lambda: len(replies.messages) == 1, what="serve 启动时收取邮箱中已有的邮件并回复")
            dovecot.append(user, form_mail(LUOYUAN, [("后到的.xlsx", form)], subject="补发"))
            wait_until(lambda: len(replies.messages) == 2, what="serve 运行中新到的邮件即被收取并回复")
    assert [m["Subject"] for _, m in replies.messages] == ["Re: 罗源县10月份月报表", "Re: 补发"]
    with Ledger(ws.ledger_path) as ledger:
        assert [r["status"] for r in ledger.query("SELECT status FROM files ORDER BY id")] == ["accepted", "duplicate"]


def test_a_message_arriving_while_serve_answers_the_last_one_is_not_left_for_the_next_poll(dovecot, tmp_path, monkeypatch):
    """IDLE reports only what arrives after it starts: a message that comes between a round of fetching
    and the wait that follows it is taken at once, not an hour later at the next poll."""

    from conftest import wait_until
    from processor.deliver import replies as replies_module

    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    user = dovecot.new_user()
    form = filled_form(tmp_path / "月报表.xlsx").read_bytes()
    real_fetch, rounds = replies_module.fetch_mail, []

    def fetch_then_a_message_arrives(*args, **kwargs):
        result = real_fetch(*args, **kwargs)
        rounds.append(result)
        if len(rounds) == 1:  # after the first round, before serve waits for the next message
            dovecot.append(user, form_mail(LUOYUAN, [("后到的.xlsx", form)], subject="补发"))
        return result

    monkeypatch.setattr(replies_module, "fetch_mail", fetch_then_a_message_arrives)
    with smtp_server() as (replies, port):
        ws = make_workspace(tmp_path / "ws", port=port, extra=imap_config(dovecot, user, extra="poll_interval = 3600\n"))
        ws = load_workspace(ws.root)
        dovecot.append(user, form_mail(LUOYUAN, [("早到的.xlsx", form)]))
        with serving(ws):
            wait_until(lambda: len(replies.messages) == 2, what="两封邮件都被收取并回复，不等下一次定时查看")
    assert sorted(m["Subject"] for _, m in replies.messages) == ["Re: 罗源县10月份月报表", "Re: 补发"]


# --- security ----------------------------------------------------------------------------------------

def test_tls_is_verified_by_default_and_starttls_and_plain_work_when_configured(dovecot, tmp_path, monkeypatch):
    from processor.intake.mailbox import Mailbox, MailboxError

    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    user = dovecot.new_user()
    untrusted = make_workspace(tmp_path / "a", port=None,
                               extra=imap_config(dovecot, user).replace(f'ca_file = "{dovecot.ca}"', ""))
    with pytest.raises(MailboxError, match="服务器证书未通过验证"):
        Mailbox(load_workspace(untrusted.root))
    for security in ("starttls", "none"):
        ws = make_workspace(tmp_path / security, port=None, extra=imap_config(dovecot, user, security=security))
        box = Mailbox(load_workspace(ws.root))
        assert box.uids() == []
        box.close()


def test_credentials_come_only_from_the_environment(dovecot, tmp_path, monkeypatch):
    from processor.intake.mailbox import Mailbox, MailboxError

    monkeypatch.delenv(PASSWORD_ENV, raising=False)
    ws = make_workspace(tmp_path / "ws", port=None, extra=imap_config(dovecot, dovecot.new_user()))
    with pytest.raises(ConfigError, match=PASSWORD_ENV):
        Mailbox(load_workspace(ws.root))
    monkeypatch.setenv(PASSWORD_ENV, "wrong")
    with pytest.raises(MailboxError, match="拒绝了登录"):
        Mailbox(load_workspace(ws.root))


def test_authentication_check_can_be_turned_off(dovecot, tmp_path, monkeypatch):
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    user = dovecot.new_user()
    form = filled_form(tmp_path / "月报表.xlsx").read_bytes()
    message = form_mail(LUOYUAN, [("月报表.xlsx", form)])
    message["Authentication-Results"] = "mx.office.example.gov.cn; spf=fail; dmarc=fail"
    dovecot.append(user, message)
    with smtp_server() as (replies, port):
        ws = make_workspace(tmp_path / "ws", port=port,
                            extra=imap_config(dovecot, user, extra="check_authentication = false\n"))
        [taken] = fetch_mail(ws).report.taken
    assert taken.verdict == "forms" and len(replies.messages) == 1


def test_status_shows_each_submissions_channel_and_the_held_mail(mailbox, tmp_path):
    from processor.cli import main

    form = filled_form(tmp_path / "月报表.xlsx").read_bytes()
    mailbox.deliver(form_mail(LUOYUAN, [("月报表.xlsx", form)]))
    doubtful = form_mail(LUOYUAN, [("月报表.xlsx", form)], subject="可疑")
    doubtful["Authentication-Results"] = "mx.office.example.gov.cn; dmarc=fail"
    mailbox.deliver(doubtful)
    mailbox.fetch()
    other = set_cells(filled_form(tmp_path / "连江县.xlsx"), "基本信息", {"B2": "连江县"})
    (mailbox.ws.inbox / other.name).write_bytes(other.read_bytes())  # the folder channel, beside it
    from processor.intake.run import process_inbox

    process_inbox(mailbox.ws)
    result = CliRunner().invoke(main, ["-w", str(mailbox.ws.root), "status", "--month", "2026-10", "--json"])
    report = json.loads(result.output)
    channels = {u["unit"]: u["channel"] for u in report["units"]}
    assert channels["罗源县"] == "email" and channels["连江县"] == "folder" and channels["闽清县"] is None
    assert [h["subject"] for h in report["held_mail"]] == ["可疑"]
    shown = CliRunner().invoke(main, ["-w", str(mailbox.ws.root), "status", "--month", "2026-10"])
    assert "邮件" in shown.output and "文件夹" in shown.output and "暂不处理" in shown.output


def test_reminders_tell_units_the_mailbox_and_their_share_path_never_the_servers_path(tmp_path):
    import datetime as dt

    from processor.deliver.remind import Reminder, build_reminder
    from processor.validate.roster import workspace_roster

    config = ('\n[imap]\nhost = "mail.example.gov.cn"\nuser = "baosong@example.gov.cn"\n')
    ws = make_workspace(tmp_path / "ws", port=None, extra=config)
    text = (tmp_path / "ws" / "config.toml").read_text(encoding="utf-8")
    (tmp_path / "ws" / "config.toml").write_text(
        text.replace('share_path_for_units = ""', 'share_path_for_units = "\\\\\\\\fileserver\\\\报送"'), encoding="utf-8")
    ws = load_workspace(ws.root)
    (ws.inbox / "罗源县").mkdir()
    reminder = Reminder("罗源县", LUOYUAN, "2026-10", "催报", "2026-11-06", dt.date(2026, 11, 5), 3)
    with Ledger(ws.ledger_path) as ledger:
        message = build_reminder(ws, ledger, workspace_roster(ws), reminder)
    body = message.get_body(("plain",)).get_content()
    assert "baosong@example.gov.cn" in body
    assert "\\\\fileserver\\报送" in body and "（罗源县）" in body
    assert str(ws.inbox) not in body, "the server's own path means nothing to a county"


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    from demo_helpers import demo_copy

    # `processor demo` on the demo's own day: the session's build, which test_demo reads too
    return demo_copy(tmp_path_factory)


@pytest.mark.slow
def test_the_demo_has_forms_that_came_by_email_answered_by_reply(demo):
    with Ledger(demo.workspace.ledger_path) as ledger:
        mailed = ledger.query("SELECT f.status, m.sender, m.unit FROM mail_parts p JOIN files f ON f.id = p.file_id "
                              "JOIN mail_messages m ON m.id = p.mail_id")
        replies = ledger.query("SELECT status FROM mail_replies")
    assert len(mailed) >= 3 and {r["status"] for r in mailed} & {"accepted", "rejected"}
    assert all(r["unit"] for r in mailed)
    assert len(replies) == len(mailed) and {r["status"] for r in replies} == {"dry-run"}
    answers = [p for p in demo.emails if p.name.split("-", 2)[-1].startswith("Re")]
    assert len(answers) == len(replies)


def test_a_message_that_fails_midway_stays_for_the_next_run_and_the_others_are_taken(mailbox, tmp_path):
    from processor.common.faults import fault_action

    form = filled_form(tmp_path / "月报表.xlsx").read_bytes()
    september = __import__("form_helpers").scenario_form(tmp_path / "九月.xlsx", "罗源县", "2026-09").read_bytes()
    mailbox.deliver(form_mail(LUOYUAN, [("出错的.xlsx", september)], subject="第一封"))
    mailbox.deliver(form_mail(LUOYUAN, [("十月.xlsx", form)], subject="第二封"))

    def fail_first(path=None, **_):
        if path is not None and path.name == "出错的.xlsx":
            raise OSError("磁盘读写出错")

    with fault_action("after-validate", fail_first):
        first = mailbox.fetch()
    assert [t.subject for t in first.report.taken] == ["第二封"]
    assert mailbox.server.count(mailbox.user) == 1, "the failed message stays in the mailbox"
    second = mailbox.fetch()
    assert [(t.subject, t.again) for t in second.report.taken] == [("第一封", True)]
    assert sorted(r["month"] for r in mailbox.ledger_rows("SELECT month FROM files")) == ["2026-09", "2026-10"]
    assert sorted(m["Subject"] for m in mailbox.answers()) == ["Re: 第一封", "Re: 第二封"]


def test_a_unit_may_send_from_several_addresses_listed_in_the_roster(mailbox, tmp_path):
    import dataclasses

    from openpyxl import load_workbook

    from processor.validate.roster import sample_roster, workspace_roster, write_roster

    roster = sample_roster()
    roster.units = [dataclasses.replace(u, senders=("Clerk.Luo@QQ.com", "luoyuan@163.com"))
                    if u.name == "罗源县" else u for u in roster.units]
    write_roster(roster, mailbox.ws.roster_path)
    book = load_workbook(mailbox.ws.roster_path)
    row = next(r for r in book["单位"].iter_rows(values_only=True) if r[1] == "罗源县")
    assert "Clerk.Luo@QQ.com; luoyuan@163.com" in row, "written in the 其他报送邮箱 column"
    book["单位"].cell(row=2, column=8, value="not-an-address")  # a typo in another unit's cell: named, ignored
    book.save(mailbox.ws.roster_path)
    loaded = workspace_roster(mailbox.ws)
    assert loaded.unit("罗源县").senders == ("Clerk.Luo@QQ.com", "luoyuan@163.com")
    assert any("其他报送邮箱" in w and "H2" in w for w in loaded.warnings)

    form = filled_form(tmp_path / "月报表.xlsx").read_bytes()
    mailbox.deliver(form_mail("clerk.luo@qq.com", [("月报表.xlsx", form)]))
    [taken] = mailbox.fetch().report.taken
    assert (taken.unit, taken.verdict) == ("罗源县", "forms")
    [answer] = mailbox.answers()
    assert answer["To"] == "clerk.luo@qq.com", "the answer goes to the address that sent the form"


def test_the_template_says_where_to_send_the_form_and_where_the_answer_comes_from(tmp_path):
    from openpyxl import load_workbook

    from processor.cli import main

    config = '\n[imap]\nhost = "mail.example.gov.cn"\nuser = "baosong@example.gov.cn"\n'
    ws = make_workspace(tmp_path / "ws", port=None, extra=config)
    out = tmp_path / "模板.xlsx"
    run = CliRunner().invoke(main, ["-w", str(ws.root), "template", "--unit", "罗源县", "-o", str(out)])
    assert run.exit_code == 0, run.output
    text = "\n".join(str(c.value) for c in load_workbook(out)["填报说明"]["A"] if c.value)
    assert "报送方式" in text and "baosong@example.gov.cn" in text and "回复到发件邮箱" in text
    assert str(ws.inbox) not in text


@pytest.mark.slow
def test_serve_polls_every_interval_when_the_server_offers_no_idle(dovecot, tmp_path, monkeypatch):

    from conftest import wait_until
    from processor.intake.mailbox import Mailbox

    monkeypatch.setattr(Mailbox, "offers_idle", property(lambda self: False))
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    user = dovecot.new_user()
    form = filled_form(tmp_path / "月报表.xlsx").read_bytes()
    with smtp_server() as (replies, port):
        ws = make_workspace(tmp_path / "ws", port=port, extra=imap_config(dovecot, user, extra="poll_interval = 5\n"))
        with serving(load_workspace(ws.root)):
            wait_until(lambda: (ws.root / "logs" / "processor.log").is_file()
                       and "开始收取报送邮箱" in (ws.root / "logs" / "processor.log").read_text(encoding="utf-8"),
                       what="serve 开始收取报送邮箱")
            dovecot.append(user, form_mail(LUOYUAN, [("月报表.xlsx", form)]))
            wait_until(lambda: len(replies.messages) == 1, what="下一次轮询时收取并回复")
    assert replies.messages[0][1]["Subject"] == "Re: 罗源县10月份月报表"


def test_a_server_without_move_gets_copy_delete_and_expunge(mailbox, tmp_path, monkeypatch):
    from processor.intake.mailbox import Mailbox

    made = Mailbox.__init__

    def without_move(self, *args, **kwargs):
        made(self, *args, **kwargs)
        self.client.capabilities = tuple(c for c in self.client.capabilities if c != "MOVE")

    monkeypatch.setattr(Mailbox, "__init__", without_move)
    form = filled_form(tmp_path / "月报表.xlsx").read_bytes()
    mailbox.deliver(form_mail(LUOYUAN, [("月报表.xlsx", form)]))
    mailbox.deliver(form_mail(LUOYUAN, [("月报表.xlsx", form)], subject="再发"))
    mailbox.fetch()
    assert mailbox.server.count(mailbox.user) == 0 and mailbox.server.count(mailbox.user, "已处理") == 2


def test_fetch_without_a_mailbox_configured_says_so(workspace):
    from processor.cli import main

    run = CliRunner().invoke(main, ["-w", str(workspace.root), "fetch"])
    assert run.exit_code == 2 and "[imap]" in run.output and "Traceback" not in run.output
