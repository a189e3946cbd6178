"""The workspace and its ``config.toml``.

A workspace is a folder with a ``config.toml`` (found from the current
directory upwards, the way git finds its repository), or the one named by
``--workspace`` / ``PROCESSOR_WORKSPACE``.  Only ``processor init`` and
``processor demo`` make one: every other command refuses to run without a
``config.toml``, so nothing (ledger, folders) is ever created by accident in the
wrong folder.  Keys left out of the file take the defaults below.
"""

from __future__ import annotations

import logging
import os
import re
import tomllib
from dataclasses import Field, dataclass, field, replace
from functools import cached_property
from pathlib import Path

from processor.common import clock
from processor.common.outputs import KIND_OF_NAME
from processor.common.paths import WORKSPACE_ENV
from processor.common.imap_settings import IMAP_CONFIG_TEXT, ImapSettings, imap_settings
from processor.common.rulebook import Rulebook, load_rulebook

LOG = logging.getLogger(__name__)
CONFIG_NAME = "config.toml"
DEFAULT_CONFIG_TEXT = """\
# 示范点联系指导月报表处理程序 — 配置文件
# 所有路径均相对于本文件所在的文件夹。删除某一项即使用默认值。

[paths]
inbox = "inbox"            # 收件箱：各单位把月报表放到这里（可为共享文件夹）
outbox = "outbox"          # 发件箱：回执、报告、汇总表
archive = "archive"        # 原件存档（只读，按内容哈希存放）
ledger = "ledger.sqlite"   # 台账数据库
roster = "roster.xlsx"     # 名册：单位、企业组人员、分片联系
rulebook = ""              # 规则库；留空使用程序自带的 schemas/requirements.toml

[intake]
stable_seconds = 2.0       # 文件大小和修改时间保持不变多少秒后才处理（防止复制未完成）
close_settle_seconds = 0.5 # 实时模式下，写入方已关闭且工作簿完整的文件，只需静止这么多秒即可处理
poll_interval = 2.0        # 轮询模式（网络共享文件夹）的扫描间隔，秒
rescan_seconds = 60        # 监视时每隔多少秒全面扫描一次收件箱，以防漏掉文件
max_file_mb = 20           # 单个文件大小上限
max_uncompressed_mb = 200  # 解压后总大小上限
max_ratio = 200            # 单个压缩成员的压缩比上限（防“压缩炸弹”）
max_rows = 5000            # 每个工作表的行数上限
max_columns = 100          # 每个工作表的列数上限
timeout_seconds = 60       # 单个文件的处理时限
memory_mb = 1024           # 单个文件处理时的内存上限
require_unit_folder = true # 只有放在本单位文件夹（收件箱/单位名称/）中的报表才代表该单位；根目录或名册外文件夹中的文件只回执，不登记到任何单位
share_path_for_units = ""  # 各单位看到的报送文件夹位置（如 "\\\\fileserver\\报送"），写进催报、退回邮件；留空则只告诉报送邮箱

[report]
office = "中共××市委组织部企业组"   # 报告落款单位
addressee = "中共××市委组织部"       # 主送：报告呈报的上级机关或领导，标题下顶格（不能是落款单位本身）
title_prefix = ""                    # 报告标题前缀，如“××市”

[schedule]
nightly_at = "22:30"       # 每晚汇总并发送报告的时间（24 小时制）

[calendar]
timezone = "Asia/Shanghai" # 本单位所在时区：收件日期、截止日期和逾期天数都按这个时区计算，与服务器的时区设置无关
start_month = ""           # 本工作区开始收集的第一个报表月份（如 "2026-12"），此前的月份不计入任何统计；留空则从规则库的起始月份算起

[smtp]
host = ""                  # 邮件服务器；留空则只生成 .eml 文件，不发送
port = 465
security = "ssl"           # ssl、starttls 或 none
user = ""
password_env = "PROCESSOR_SMTP_PASSWORD"   # 密码只从这个环境变量读取，不写在文件里
sender = ""
recipients = []            # 企业组收件人，如 ["qyz@example.gov.cn"]
reports = ["monthly_report", "half_year_report", "year_report", "assignment_table", "reminder_list", "summary_data"]
                           # 随邮件发送的报告：月度汇总报告、半年工作报告、年度工作总结、分组情况一览表、催报名单、汇总数据
                           # （另有 site_dossier 示范点档案、overview 总览、chart 图表）
max_attempts = 8           # 发送失败后最多重试次数（间隔逐次加倍）
deadline_seconds = 120     # 每次发送的总时限（秒）：连接、加密、登录和发送合计，超时即断开，稍后重试
partial_periods = false    # 是否发送刚开始不久（未过一半）的半年、年度报告（标题注明“阶段情况”）；默认不发，过半后再发

[remind]
enabled = false            # 是否给各单位发催报邮件（名册“单位”表的“电子邮箱”列）；默认不发
days_before = 2            # 截止日前几天提醒尚未报送的单位（0 为不提前提醒）
repeat_days = 3            # 截止日后，对未报送或已退回待重报的单位每隔几天再催一次（0 为只催一次）
""" + IMAP_CONFIG_TEXT


# The defaults are written once, in the text above (what `init` writes); the settings take theirs from it.
_DEFAULTS = tomllib.loads(DEFAULT_CONFIG_TEXT)
DEFAULT_OFFICE = _DEFAULTS["report"]["office"]
DEFAULT_ADDRESSEE = _DEFAULTS["report"]["addressee"]
_CASTS = {"float": float, "int": int, "str": str, "bool": bool, "tuple[str, ...]": tuple}


class ConfigError(ValueError):
    """A config value is missing or wrong; the message names the key in Chinese."""


def _limited(low, high):
    """A numeric setting with the range a config file may give it (checked at load)."""
    return field(metadata={"range": (low, high)})


def _settings(section: str):
    """Make a frozen dataclass of a config section; each field's default is the value
    DEFAULT_CONFIG_TEXT gives it, of the field's type (60 for a float field is 60.0)."""
    def make(cls):
        for name, annotation in cls.__annotations__.items():
            value = _CASTS[annotation](_DEFAULTS[section][name])
            declared = cls.__dict__.get(name)
            if isinstance(declared, Field):
                declared.default = value
            else:
                setattr(cls, name, value)
        return dataclass(frozen=True)(cls)
    return make


@_settings("intake")
class IntakeSettings:
    stable_seconds: float = _limited(0, 3600)
    close_settle_seconds: float = _limited(0, 3600)
    poll_interval: float = _limited(0.1, 3600)
    rescan_seconds: float = _limited(1, 86400)
    max_file_mb: float = _limited(0.01, 10240)
    max_uncompressed_mb: float = _limited(0.01, 102400)
    max_ratio: float = _limited(1, 100000)
    max_rows: int = _limited(1, 1048576)        # Excel's own limits
    max_columns: int = _limited(1, 16384)
    timeout_seconds: float = _limited(1, 3600)
    memory_mb: int = _limited(64, 1048576)
    require_unit_folder: bool
    share_path_for_units: str


@_settings("smtp")
class SmtpSettings:
    host: str
    port: int = _limited(1, 65535)
    security: str
    user: str
    password_env: str
    sender: str
    recipients: tuple[str, ...]
    reports: tuple[str, ...]
    max_attempts: int = _limited(1, 100)
    deadline_seconds: float = _limited(1, 3600)
    partial_periods: bool

    @property
    def password(self) -> str:
        return os.environ.get(self.password_env, "")


@_settings("remind")
class RemindSettings:
    enabled: bool
    days_before: int = _limited(0, 28)
    repeat_days: int = _limited(0, 366)


@dataclass(frozen=True)
class Workspace:
    root: Path
    raw: dict = field(default_factory=dict, hash=False)
    # intake settings given in code (see with_intake): used instead of the [intake] table of raw
    intake_settings: IntakeSettings | None = field(default=None, kw_only=True, compare=False)

    # Each folder is resolved (links followed) once, when first asked for: every file of a run then
    # lands where its first one did, and intake does not walk the path's links again for each file.
    def _path(self, key: str, default: str) -> Path:
        value = self.raw.get("paths", {}).get(key) or default
        return (self.root / value).resolve()

    @cached_property
    def inbox(self) -> Path:
        return self._path("inbox", _DEFAULTS["paths"]["inbox"])

    @cached_property
    def outbox(self) -> Path:
        return self._path("outbox", _DEFAULTS["paths"]["outbox"])

    @cached_property
    def archive(self) -> Path:
        return self._path("archive", _DEFAULTS["paths"]["archive"])

    @cached_property
    def ledger_path(self) -> Path:
        return self._path("ledger", _DEFAULTS["paths"]["ledger"])

    @cached_property
    def roster_path(self) -> Path:
        return self._path("roster", _DEFAULTS["paths"]["roster"])

    @property
    def receipts_dir(self) -> Path:
        return self.outbox / "回执"

    @property
    def lock_path(self) -> Path:
        return self.root / ".processor.lock"

    @property
    def staging_dir(self) -> Path:
        """Private copies of inbox files while they are handled (never shared, emptied at each start)."""
        return self.root / ".processor" / "staging"

    @cached_property
    def rulebook(self) -> Rulebook:
        """The rulebook as this office uses it: in its time zone, from its first month on."""
        custom = self.raw.get("paths", {}).get("rulebook")
        book = load_rulebook((self.root / custom) if custom else None)
        start = self.start_month
        if start and start > book.last:
            raise ConfigError(f"配置项 calendar.start_month（{start}）晚于规则库覆盖的最后一个月份（{book.last}），"
                              f"请在 config.toml 中改正")
        return book.for_office(self.timezone_name, start)

    @cached_property
    def timezone_name(self) -> str:
        """``[calendar] timezone``: the office's zone (an IANA name), checked against the zone database."""
        name = self._calendar().get("timezone", _DEFAULTS["calendar"]["timezone"])
        if not isinstance(name, str) or not name.strip():
            raise ConfigError(f"配置项 calendar.timezone 应为时区名称（如 \"Asia/Shanghai\"），而不是“{name}”")
        try:
            clock.zone(name)
        except clock.UnknownTimezone:
            raise ConfigError(f"配置项 calendar.timezone 的值“{name}”不是已知的时区名称（如 \"Asia/Shanghai\"），"
                              f"请在 config.toml 中改正") from None
        return name.strip()

    @property
    def timezone(self):
        """The office's zone (a tzinfo): every arrival date, deadline and day count is read in it."""
        return clock.zone(self.timezone_name)

    @cached_property
    def start_month(self) -> str | None:
        """``[calendar] start_month``: the first month this workspace collects (None: the rulebook's start)."""
        from processor.common.periods import MONTH_RE

        value = self._calendar().get("start_month", _DEFAULTS["calendar"]["start_month"])
        if value in ("", None):
            return None
        if not isinstance(value, str) or not MONTH_RE.match(value.strip()):
            raise ConfigError(f"配置项 calendar.start_month 应为“YYYY-MM”（如 \"2026-12\"），而不是“{value}”")
        return value.strip()

    def _calendar(self) -> dict:
        table = self.raw.get("calendar", {})
        if not isinstance(table, dict):
            raise ConfigError("配置项 [calendar] 应为一个表")
        unknown = set(table) - set(_DEFAULTS["calendar"])
        if unknown:
            raise ConfigError(f"配置项 calendar.{sorted(unknown)[0]} 不存在（可用：{'、'.join(_DEFAULTS['calendar'])}）")
        return table

    def check_paths(self) -> None:
        """Inbox, outbox, archive and ledger are four separate places, none of them the workspace folder
        itself and none inside another: an inbox of "." would take the ledger and the config as submissions."""
        places = {"paths.inbox": self.inbox, "paths.outbox": self.outbox, "paths.archive": self.archive,
                  "paths.ledger": self.ledger_path}
        for key, place in places.items():
            if place == self.root or place in self.root.parents:
                raise ConfigError(f"配置项 {key}（{place}）不能是工作区文件夹本身或其上级文件夹，"
                                  f"请在 config.toml 中改为其中的一个子文件夹")
        keys = list(places)
        for i, key in enumerate(keys):
            for other in keys[i + 1:]:
                a, b = places[key], places[other]
                if a == b:
                    raise ConfigError(f"配置项 {key} 和 {other} 指向同一位置（{a}），请在 config.toml 中分开设置")
                if b in a.parents or a in b.parents:
                    inner, outer = (key, other) if b in a.parents else (other, key)
                    raise ConfigError(f"配置项 {inner}（{places[inner]}）不能位于 {outer}（{places[outer]}）之中，"
                                      f"请在 config.toml 中分开设置")
        if self.inbox in self.roster_path.parents:  # it would be taken as a submission
            raise ConfigError(f"配置项 paths.roster（{self.roster_path}）不能位于 paths.inbox（{self.inbox}）之中，"
                              f"请在 config.toml 中分开设置")

    @cached_property
    def intake(self) -> IntakeSettings:
        if self.intake_settings is not None:
            return self.intake_settings
        return _section(self.raw, "intake", IntakeSettings)

    def with_intake(self, **changes) -> Workspace:
        """This workspace with some intake settings changed in code (``timeout_seconds=0.5``, …).
        Unlike values in config.toml they are not held to the ranges a config file may give, so a
        benchmark or a test can give a file a time budget under a second."""
        return replace(self, intake_settings=replace(self.intake, **changes))

    @cached_property
    def smtp(self) -> SmtpSettings:
        settings = _section(self.raw, "smtp", SmtpSettings)
        if any(name in KIND_OF_NAME for name in settings.reports):  # a config written before the identifiers
            kinds = tuple(KIND_OF_NAME.get(name, name) for name in settings.reports)
            LOG.warning("配置项 smtp.reports 使用了中文报告名称，已按 %s 理解；请改用：reports = [%s]",
                        "、".join(kinds), ", ".join(f'"{k}"' for k in kinds))
            settings = replace(settings, reports=kinds)
        if settings.security not in ("ssl", "starttls", "none"):
            raise ConfigError(f"配置项 smtp.security 只能是 ssl、starttls 或 none，而不是“{settings.security}”")
        return settings

    @cached_property
    def imap(self) -> ImapSettings:
        """``[imap]``: the 报送 mailbox read as a second inbox (:mod:`processor.common.imap_settings`)."""
        try:
            return imap_settings(self.raw, self.root)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None

    @cached_property
    def remind(self) -> RemindSettings:
        return _section(self.raw, "remind", RemindSettings)

    @property
    def office_name(self) -> str:
        return self.raw.get("report", {}).get("office", DEFAULT_OFFICE)

    @property
    def addressee(self) -> str:
        """主送: who the monthly and half-year reports are addressed to."""
        return self.raw.get("report", {}).get("addressee", DEFAULT_ADDRESSEE)

    @property
    def draft_warning(self) -> str | None:
        """The one line a consolidation prints while the 落款 is the placeholder (reports marked 样稿)
        or the 主送 is the office itself; None when the reports can be signed."""
        from processor.common.office import draft_warning

        return draft_warning(self.office_name, self.addressee)

    @property
    def title_prefix(self) -> str:
        return self.raw.get("report", {}).get("title_prefix", _DEFAULTS["report"]["title_prefix"])

    @property
    def nightly_at(self) -> tuple[int, int]:
        text = str(self.raw.get("schedule", {}).get("nightly_at", _DEFAULTS["schedule"]["nightly_at"]))
        match = re.fullmatch(r"([01]?\d|2[0-3]):([0-5]\d)", text.strip())
        if not match:
            raise ConfigError(f"配置项 schedule.nightly_at 应为“时:分”（如 22:30），而不是“{text}”")
        return int(match.group(1)), int(match.group(2))

    def ensure_folders(self) -> None:
        for folder in (self.inbox, self.outbox, self.archive, self.receipts_dir):
            folder.mkdir(parents=True, exist_ok=True)


def _section(raw: dict, name: str, cls):
    table = raw.get(name, {})
    if not isinstance(table, dict):
        raise ConfigError(f"配置项 [{name}] 应为一个表")
    defaults = cls()
    values = {}
    for key, value in table.items():
        if key not in cls.__dataclass_fields__:
            raise ConfigError(f"配置项 {name}.{key} 不存在（可用：{'、'.join(cls.__dataclass_fields__)}）")
        expected = getattr(defaults, key)
        if isinstance(expected, tuple):
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise ConfigError(f"配置项 {name}.{key} 应为文字列表，如 [\"a\", \"b\"]")
            value = tuple(value)
        elif isinstance(expected, bool):
            if not isinstance(value, bool):
                raise ConfigError(f"配置项 {name}.{key} 应为 true 或 false，而不是“{value}”")
        elif not isinstance(value, type(expected)) and not (
                isinstance(expected, float) and isinstance(value, int) and not isinstance(value, bool)):
            raise ConfigError(f"配置项 {name}.{key} 的值“{value}”类型不对，应与默认值 {expected!r} 同类")
        elif isinstance(expected, (int, float)) and value < 0:
            raise ConfigError(f"配置项 {name}.{key} 不能为负数")
        _check_range(name, key, value, cls.__dataclass_fields__[key].metadata.get("range"))
        values[key] = value
    return cls(**{**defaults.__dict__, **values})


def _check_range(section: str, key: str, value, bounds) -> None:
    if bounds is not None and not bounds[0] <= value <= bounds[1]:
        low, high = (int(b) if float(b).is_integer() else b for b in bounds)
        raise ConfigError(f"配置项 {section}.{key} 的值 {value} 超出允许范围（{low} 至 {high}），"
                          f"请在 config.toml 中改正")


def load_workspace(root: Path | str) -> Workspace:
    root = Path(root).resolve()
    config = root / CONFIG_NAME
    if not config.exists():
        return Workspace(root, {})
    try:
        raw = tomllib.loads(config.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"配置文件 {config} 格式有误：{exc}") from None
    return Workspace(root, raw)


class NoWorkspace(ConfigError):
    """No config.toml where the command was pointed (or anywhere above the current folder)."""


_HOW_TO_MAKE = "新建工作区请运行 `processor init 文件夹`；已有工作区请用 -w 文件夹 或环境变量 PROCESSOR_WORKSPACE 指定。"


def find_workspace(explicit: Path | str | None = None, start: Path | None = None) -> Workspace:
    """``--workspace``, then ``$PROCESSOR_WORKSPACE``, then the nearest ``config.toml``
    above the current directory.  Without one: :class:`NoWorkspace`, never a default.

    Every config value is checked here, so a wrong one stops the command before it touches anything."""
    named = explicit or os.environ.get(WORKSPACE_ENV)
    if named:
        root = Path(named).resolve()
        if not root.is_dir():
            raise NoWorkspace(f"工作区文件夹不存在：{root}。{_HOW_TO_MAKE}")
        if not (root / CONFIG_NAME).is_file():
            raise NoWorkspace(f"{root} 不是工作区（其中没有 {CONFIG_NAME}）。{_HOW_TO_MAKE}")
        return _checked(load_workspace(root))
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / CONFIG_NAME).is_file():
            return _checked(load_workspace(folder))
    raise NoWorkspace(f"没有找到工作区：{here} 及其上级文件夹中都没有 {CONFIG_NAME}。{_HOW_TO_MAKE}")


def _checked(ws: Workspace) -> Workspace:
    _ = (ws.intake, ws.smtp, ws.remind, ws.nightly_at, ws.imap)  # each raises ConfigError naming the key
    _ = (ws.timezone_name, ws.start_month)
    ws.check_paths()
    return ws


class WorkspaceExists(ConfigError):
    """``init`` refuses to overwrite a workspace that already has a config file."""
