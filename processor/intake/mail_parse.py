"""Reading one message of the 报送 mailbox: who sent it, and which of its attachments are forms.

Mail arrives as clients write it, not as the standards ask: attachment names in RFC 2047
encoded words (GBK, GB18030, GB2312 that is really GBK, UTF-8; B and Q), RFC 2231 parameters
(continuations, a charset), raw 8-bit GBK names, forms inside a forwarded message
(``message/rfc822``) or a .zip (member names in CP936 without the UTF-8 flag).  Inline images
and signatures are not attachments.  Nothing in a message is executed, fetched or followed:
this module only decodes bytes; the forms go to the sandboxed intake like any inbox file.
"""

from __future__ import annotations

import email
import email.errors
import email.header
import email.utils
import hashlib
import io
import re
import zipfile
from dataclasses import dataclass, field
from email.message import Message
from pathlib import PurePosixPath

FORM_SUFFIXES = (".xlsx", ".xlsm", ".xls", ".ods", ".et")
"""Names taken as a monthly form (the intake says what is wrong with an .et or a macro workbook)."""
ZIP_SUFFIXES = (".zip",)
MAX_NESTING = 3  # forwarded messages inside forwarded messages
FORM, OTHER, REFUSED = "form", "other", "refused"

# Chinese mail clients label GBK text as GB2312 (and GB18030 is a superset of both).
_CHARSET_ALIASES = {"gb2312": "gb18030", "gbk": "gb18030", "x-gbk": "gb18030", "cp936": "gb18030",
                    "gb_2312-80": "gb18030", "euc-cn": "gb18030", "x-euc-cn": "gb18030", "utf8": "utf-8"}


@dataclass
class Attachment:
    name: str
    data: bytes
    kind: str                 # FORM / OTHER / REFUSED
    note: str | None = None   # why it is not taken, in Chinese

    @property
    def sha(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


@dataclass
class ParsedMail:
    sender: str                       # lower case address
    sender_name: str
    message_id: str | None            # with its angle brackets, as sent
    subject: str
    references: str
    auth_failure: str | None          # "SPF、DMARC 未通过" when the office's server says so
    automatic: bool = False           # an auto-reply, a bounce, list mail: answering it could loop
    attachments: list[Attachment] = field(default_factory=list)
    ignored_inline: int = 0           # inline images, signatures

    @property
    def forms(self) -> list[Attachment]:
        return [a for a in self.attachments if a.kind == FORM]

    def content_key(self) -> str:
        """What identifies the message whatever its UID: its Message-ID and the attachments' bytes (a
        message without a Message-ID: its sender and subject instead)."""
        digest = hashlib.sha256()
        digest.update((self.message_id or f"{self.sender}\n{self.subject}").encode("utf-8", "replace"))
        for a in self.attachments:
            digest.update(b"\0" + a.sha.encode())
        return digest.hexdigest()


@dataclass(frozen=True)
class Limits:
    max_attachments: int
    max_file_bytes: int
    max_uncompressed_bytes: int
    max_ratio: float


def charset_of(label: str | None) -> str:
    label = (label or "").strip().lower()
    return _CHARSET_ALIASES.get(label, label or "utf-8")


def _decode_bytes(data: bytes, charset: str | None) -> str:
    try:
        return data.decode(charset_of(charset), "replace")
    except LookupError:  # a charset Python does not know: the usual ones in turn
        return _guess_decode(data)


def _guess_decode(data: bytes) -> str:
    for codec in ("utf-8", "gb18030"):
        try:
            return data.decode(codec)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")


def decode_words(text: str) -> str:
    """A header value or parameter with RFC 2047 encoded words (anywhere, even inside quotes, as
    Outlook and Foxmail write them) or raw 8-bit bytes, as text."""
    if not text:
        return ""
    if any("\udc80" <= ch <= "\udcff" for ch in text):  # raw 8-bit bytes, kept by the parser as surrogates
        text = _guess_decode(text.encode("ascii", "surrogateescape"))
    if "=?" not in text:
        return text
    # adjacent encoded words split across folded lines: the whitespace between them is no text
    text = re.sub(r"\?=\s+=\?", "?==?", text)
    try:
        pieces = email.header.decode_header(text)
    except (email.errors.HeaderParseError, ValueError, LookupError):
        return text
    out = []
    for piece, charset in pieces:
        out.append(_decode_bytes(piece, charset) if isinstance(piece, bytes) else piece)
    return "".join(out)


def filename_of(part: Message) -> str | None:
    """The attachment's name: RFC 2231 (``filename*``, continuations, charset), then RFC 2047 in
    ``filename=`` or Content-Type's ``name=``; decoded with the label the client gave (GB2312 read as
    GB18030)."""
    raw = {key.lower(): value for key, value in part.raw_items()}
    for header, param in (("content-disposition", "filename"), ("content-type", "name")):
        text = raw.get(header)
        if isinstance(text, str) and any("\udc80" <= ch <= "\udcff" for ch in text):
            # raw 8-bit bytes in the header (a client writing GBK straight in): read them, then the parameter
            holder = Message()
            holder[header] = _guess_decode(text.encode("ascii", "surrogateescape"))
            value = holder.get_param(param, header=header)
        else:
            value = part.get_param(param, header=header)
        if value is None:
            continue
        if isinstance(value, tuple):  # RFC 2231: (charset, language, percent-decoded bytes as text)
            charset, _language, raw = value
            name = _decode_bytes(bytes(raw, "raw-unicode-escape"), charset or "utf-8")
        else:
            name = decode_words(email.utils.unquote(value))
        name = name.replace("\\", "/").split("/")[-1].strip().strip("\x00")
        if name:
            return name
    return None


def parse_address(value: str | None) -> tuple[str, str]:
    name, address = email.utils.parseaddr(decode_words(str(value or "")))
    return name, address.strip().lower()


_AUTH_METHODS = ("spf", "dkim", "dmarc")
_FAILING = ("fail", "softfail", "permerror")


def authentication_failure(message: Message) -> str | None:
    """What the office's own server found failing (SPF/DKIM/DMARC) in the topmost
    ``Authentication-Results`` (the one it added; those below came with the message), or None."""
    headers = message.get_all("Authentication-Results") or []
    if not headers:
        return None
    results = str(headers[0]).lower()
    failed = [m.upper() for m in _AUTH_METHODS
              if re.search(rf"\b{m}\s*=\s*({'|'.join(_FAILING)})\b", results)]
    if "DKIM" in failed and re.search(r"\bdkim\s*=\s*pass\b", results):  # one of several signatures held
        failed.remove("DKIM")
    return "、".join(failed) + " 未通过" if failed else None


_BULK = ("bulk", "junk", "list", "auto_reply")
_DAEMONS = ("mailer-daemon", "postmaster", "noreply", "no-reply")


def is_automatic(message: Message) -> bool:
    """Mail no person sent (RFC 3834 and the usual headers of out-of-office replies, bounces and
    lists): an answer to it could start a mail loop, so it gets none."""
    auto = str(message.get("Auto-Submitted") or "").strip().lower()
    if auto and auto != "no":
        return True
    if str(message.get("Precedence") or "").strip().lower() in _BULK:
        return True
    if any(message.get(h) for h in ("X-Autoreply", "X-Autorespond", "List-Id")):
        return True
    if str(message.get("Return-Path") or "").strip() == "<>":
        return True
    _, sender = parse_address(message.get("From"))
    return sender.split("@")[0] in _DAEMONS


def parse_mail(raw: bytes, limits: Limits) -> ParsedMail:
    """The message's sender, identity and attachments (each named and classified)."""
    message = email.message_from_bytes(raw)
    sender_name, sender = parse_address(message.get("Reply-To") if not message.get("From") else message.get("From"))
    parsed = ParsedMail(sender=sender, sender_name=sender_name,
                        message_id=(str(message.get("Message-ID") or "").strip() or None),
                        subject=decode_words(str(message.get("Subject") or "")).strip(),
                        references=" ".join(str(message.get("References") or "").split()),
                        auth_failure=authentication_failure(message), automatic=is_automatic(message))
    _collect(message, parsed, limits, depth=0)
    return parsed


def _collect(message: Message, parsed: ParsedMail, limits: Limits, depth: int) -> None:
    for part in _leaves(message, depth):
        name = filename_of(part)
        ctype = part.get_content_type()
        disposition = part.get_content_disposition()
        if ctype == "message/rfc822" and depth < MAX_NESTING:  # a forwarded message: its forms count
            inner = part.get_payload()
            for sub in (inner if isinstance(inner, list) else [inner]):
                if isinstance(sub, Message):
                    _collect(sub, parsed, limits, depth + 1)
            continue
        if name is None:
            continue  # the body (text, HTML), or an unnamed inline part
        if ctype.startswith("image/") and (disposition == "inline" or part.get("Content-ID")):
            parsed.ignored_inline += 1  # a signature or a picture in the text
            continue
        data = part.get_payload(decode=True) or b""
        _add(parsed, name, data, limits)


def _leaves(message: Message, depth: int):
    """The message's parts that are not containers (a message/rfc822 part is yielded whole)."""
    if message.get_content_type() == "message/rfc822" and depth > 0:
        yield message
        return
    if message.is_multipart():
        for part in message.get_payload():
            if part.get_content_type() == "message/rfc822":
                yield part
            else:
                yield from _leaves(part, depth)
    else:
        yield message


def _add(parsed: ParsedMail, name: str, data: bytes, limits: Limits) -> None:
    suffix = PurePosixPath(name).suffix.lower()
    if len(data) > limits.max_file_bytes:
        parsed.attachments.append(Attachment(name, data[:0], REFUSED,
                                             f"附件大小 {len(data) / 1048576:.1f} MB，超过上限 "
                                             f"{limits.max_file_bytes / 1048576:g} MB"))
    elif suffix in FORM_SUFFIXES:
        parsed.attachments.append(Attachment(name, data, FORM))
    elif suffix in ZIP_SUFFIXES:
        _unzip(parsed, name, data, limits)
    else:
        parsed.attachments.append(Attachment(name, b"", OTHER, "不是 .xlsx 月报表"))


def zip_member_name(info: zipfile.ZipInfo) -> str:
    """A member's name: UTF-8 when flagged, else the CP936 bytes Windows' zip tool writes."""
    name = info.filename
    if not info.flag_bits & 0x800:
        try:
            name = name.encode("cp437").decode("gb18030")
        except (UnicodeEncodeError, UnicodeDecodeError):
            pass
    return name.replace("\\", "/").split("/")[-1]


def _unzip(parsed: ParsedMail, name: str, data: bytes, limits: Limits) -> None:
    """The forms of a .zip, each under the intake's limits; a nested archive is not opened."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = [i for i in archive.infolist() if not i.is_dir()]
    except (zipfile.BadZipFile, OSError, ValueError):
        parsed.attachments.append(Attachment(name, b"", REFUSED, "压缩包已损坏，无法打开"))
        return
    if len(members) > limits.max_attachments:
        parsed.attachments.append(Attachment(name, b"", REFUSED,
                                             f"压缩包中有 {len(members)} 个文件，超过上限 {limits.max_attachments} 个"))
        return
    total = sum(i.file_size for i in members)
    if total > limits.max_uncompressed_bytes:
        parsed.attachments.append(Attachment(name, b"", REFUSED, "压缩包解压后过大"))
        return
    with archive:
        for info in members:
            member = zip_member_name(info)
            if not member or member.startswith("."):
                continue
            shown = f"{name}/{member}"
            suffix = PurePosixPath(member).suffix.lower()
            if suffix not in FORM_SUFFIXES:
                parsed.attachments.append(Attachment(shown, b"", OTHER, "不是 .xlsx 月报表"))
                continue
            if info.file_size > limits.max_file_bytes or (
                    info.compress_size and info.file_size / info.compress_size > limits.max_ratio):
                parsed.attachments.append(Attachment(shown, b"", REFUSED, "压缩包中的文件过大或压缩比异常"))
                continue
            try:
                content = _read_member(archive, info, limits.max_file_bytes)
            except (zipfile.BadZipFile, OSError, ValueError, NotImplementedError, RuntimeError):
                parsed.attachments.append(Attachment(shown, b"", REFUSED, "压缩包中的文件无法解压（损坏或加密）"))
                continue
            parsed.attachments.append(Attachment(member, content, FORM))


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int) -> bytes:
    """A member's bytes, never more than ``limit`` whatever its header says."""
    out = bytearray()
    with archive.open(info) as fh:
        while block := fh.read(1 << 16):
            out += block
            if len(out) > limit:
                raise ValueError("member larger than declared")
    return bytes(out)
