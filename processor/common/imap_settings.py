"""``[imap]`` of ``config.toml``: the office's 报送 mailbox, read as a second inbox (SPEC §12).

The section's text (what ``init`` writes, commented in Chinese) is :data:`IMAP_CONFIG_TEXT`;
:func:`imap_settings` reads and checks the section of a loaded config.  The password is never
in the file: only the name of the environment variable that holds it.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, fields

IMAP_CONFIG_TEXT = """
[imap]
host = ""                  # 报送邮箱的收信服务器（IMAP）；留空则不读取邮箱
port = 993
security = "ssl"           # ssl（993 端口）、starttls（143 端口）或 none（仅限本机测试）
user = ""                  # 报送邮箱的登录名，如 "baosong@example.gov.cn"
password_env = "PROCESSOR_IMAP_PASSWORD"   # 密码只从这个环境变量读取，不写在文件里
address = ""               # 告诉各单位的报送邮箱地址（催报、退回邮件中写明）；留空则用 user
folder = "INBOX"           # 读取哪个邮件夹
processed_folder = "已处理" # 处理完的邮件移入此邮件夹（不存在时自动建立）
poll_interval = 300        # serve 运行时每隔多少秒查看一次邮箱（服务器支持 IDLE 时新邮件一到即处理）
max_message_mb = 25        # 单封邮件大小上限，超过的不下载，回复说明
max_attachments = 20       # 单封邮件的附件个数上限（含压缩包中的文件）
check_authentication = true # 本单位邮件服务器在 Authentication-Results 中标明 SPF/DKIM/DMARC 未通过的邮件暂不处理，列出待人工核对
ca_file = ""               # 邮件服务器使用自签名证书时，填写其 CA 证书文件；留空则按系统信任的证书验证
"""

_DEFAULTS = tomllib.loads(IMAP_CONFIG_TEXT)["imap"]
SECURITIES = ("ssl", "starttls", "none")


@dataclass(frozen=True)
class ImapSettings:
    host: str = _DEFAULTS["host"]
    port: int = _DEFAULTS["port"]
    security: str = _DEFAULTS["security"]
    user: str = _DEFAULTS["user"]
    password_env: str = _DEFAULTS["password_env"]
    address: str = _DEFAULTS["address"]
    folder: str = _DEFAULTS["folder"]
    processed_folder: str = _DEFAULTS["processed_folder"]
    poll_interval: float = float(_DEFAULTS["poll_interval"])
    max_message_mb: float = float(_DEFAULTS["max_message_mb"])
    max_attachments: int = _DEFAULTS["max_attachments"]
    check_authentication: bool = _DEFAULTS["check_authentication"]
    ca_file: str = _DEFAULTS["ca_file"]

    @property
    def enabled(self) -> bool:
        return bool(self.host.strip())

    @property
    def password(self) -> str:
        return os.environ.get(self.password_env, "")

    @property
    def mailbox_address(self) -> str:
        """The address counties send their forms to."""
        return (self.address or self.user).strip()

    @property
    def max_message_bytes(self) -> int:
        return int(self.max_message_mb * 1024 * 1024)


_RANGES = {"port": (1, 65535), "poll_interval": (5, 86400), "max_message_mb": (0.01, 1024),
           "max_attachments": (1, 1000)}


class ConfigError(ValueError):
    """A wrong ``[imap]`` value; the workspace raises it again as its own ``ConfigError``."""


def imap_settings(raw: dict, root=None) -> ImapSettings:
    """The ``[imap]`` table of a loaded config, checked; a wrong value raises ``ConfigError`` naming the key.

    ``root``: the workspace folder, against which a relative ``ca_file`` is read."""
    table = raw.get("imap", {})
    if not isinstance(table, dict):
        raise ConfigError("配置项 [imap] 应为一个表")
    defaults = ImapSettings()
    known = {f.name: f for f in fields(ImapSettings)}
    values = {}
    for key, value in table.items():
        if key not in known:
            raise ConfigError(f"配置项 imap.{key} 不存在（可用：{'、'.join(known)}）")
        expected = getattr(defaults, key)
        if isinstance(expected, bool):
            if not isinstance(value, bool):
                raise ConfigError(f"配置项 imap.{key} 应为 true 或 false，而不是“{value}”")
        elif isinstance(expected, (int, float)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or (
                    isinstance(expected, int) and not isinstance(expected, float) and not isinstance(value, int)):
                raise ConfigError(f"配置项 imap.{key} 的值“{value}”类型不对，应为数字（如 {expected!r}）")
            low, high = _RANGES[key]
            if not low <= value <= high:
                raise ConfigError(f"配置项 imap.{key} 的值 {value} 超出允许范围（{low:g} 至 {high:g}），"
                                  f"请在 config.toml 中改正")
            value = type(expected)(value)
        elif not isinstance(value, str):
            raise ConfigError(f"配置项 imap.{key} 应为文字（加英文引号），而不是“{value}”")
        values[key] = value.strip() if isinstance(value, str) else value
    settings = ImapSettings(**{**defaults.__dict__, **values})
    if settings.security not in SECURITIES:
        raise ConfigError(f"配置项 imap.security 只能是 ssl、starttls 或 none，而不是“{settings.security}”")
    if settings.enabled:
        if not settings.user:
            raise ConfigError("已配置 imap.host，但 imap.user（报送邮箱的登录名）为空，请在 config.toml 中填写")
        if not settings.folder or not settings.processed_folder or settings.folder == settings.processed_folder:
            raise ConfigError("配置项 imap.folder 和 imap.processed_folder 不能为空，也不能是同一个邮件夹")
    if settings.ca_file and root is not None:
        settings = ImapSettings(**{**settings.__dict__, "ca_file": str((root / settings.ca_file).resolve())})
    return settings


def submission_ways(ws, unit: str | None = None) -> list[str]:
    """Where a unit sends its form, as the unit can reach it: the 报送 mailbox (``[imap] address``) and
    the shared folder as the units see it (``[intake] share_path_for_units``) — never the server's own
    path to its inbox, which no county can open.  Empty when neither is configured."""
    ways = []
    if address := ws.imap.mailbox_address:
        ways.append(f"作为附件发送到报送邮箱 {address}（请用名册中登记的本单位邮箱发送，回执会回复到该邮箱）")
    if share := ws.intake.share_path_for_units.strip():
        folder = f"中本单位的文件夹（{unit}）" if unit else "中本单位的文件夹"
        ways.append(f"放入报送文件夹 {share} {folder}，回执在其中的“回执”文件夹")
    return ways
