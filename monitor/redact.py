"""Secrets never reach a log line, an error message or a store row, whatever library wrote them.

Every secret the process reads goes through `config.secret()`, which hands the value to
`remember()`. `SecretFilter`, installed on the root logging handlers, then rewrites any record
whose message, arguments, traceback or stack mentions one: slack-sdk logging a webhook URL in
its retry handler, urllib quoting a token, an exception carrying a password. `scrub()` does the
same for text that is stored (error messages).
"""

from __future__ import annotations

import logging
import re
import threading
from urllib.parse import quote, urlsplit

MASK = "[redacted]"
_MIN_PART = 8  # a path segment shorter than this is not the secret part of a webhook URL
# A secret shorter than this (an SMTP user "u") is masked only where it stands as a whole word:
# replacing every "u" in every line would make the logs unreadable and reveal nothing more.
_MIN_SUBSTRING = 4

_lock = threading.Lock()
_secrets: tuple[str, ...] = ()  # longest first, so that a URL is masked before its parts
_short_re: re.Pattern[str] | None = None  # the short secrets, as whole words
_known: set[str] = set()  # every form remembered, long and short


def _forms(value: str) -> set[str]:
    """The value as written, URL-quoted, and for a URL its path and long segments (the secret part)."""
    forms = {value, quote(value, safe=""), quote(value, safe="/:")}
    parts = urlsplit(value) if "://" in value else None
    if parts is not None and parts.path.strip("/"):
        forms.add(parts.path)
        segments = [seg for seg in parts.path.split("/") if seg]
        # The key parts (Slack's T…/B…/secret); a plain word like "services" is not one.
        forms.update(seg for i, seg in enumerate(segments)
                     if len(seg) >= _MIN_PART and (not seg.isalpha() or i == len(segments) - 1))
    return {f for f in forms if f}


def remember(value: str | None) -> None:
    """Register a secret value (and its quoted and URL-part forms) for redaction."""
    if not value or not value.strip():
        return
    with _lock:
        known = _known | _forms(value.strip())
        if value != value.strip():
            known |= _forms(value)
        _set(known)


def _set(known: set[str]) -> None:
    global _known, _secrets, _short_re
    _known = known
    _secrets = tuple(sorted((s for s in known if len(s) >= _MIN_SUBSTRING), key=len, reverse=True))
    short = sorted((s for s in known if len(s) < _MIN_SUBSTRING), key=len, reverse=True)
    _short_re = re.compile(r"(?<!\w)(?:" + "|".join(map(re.escape, short)) + r")(?!\w)") if short else None


def forget_all() -> None:
    """Tests only: start from no known secrets."""
    with _lock:
        _set(set())


def scrub(text: str) -> str:
    """`text` with every known secret replaced by a mask."""
    for s in _secrets:
        if s in text:
            text = text.replace(s, MASK)
    if _short_re is not None:
        text = _short_re.sub(MASK, text)
    return text


class SecretFilter(logging.Filter):
    """Mask known secrets in a record (message with its arguments, traceback, stack).

    On a handler it sees every record that reaches the handler, from any logger, so a library
    cannot log around it. The record is rewritten in place: other handlers see the clean text.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if not _secrets and _short_re is None:
            return True
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a broken format string is the handler's to report
            message = str(record.msg)
        clean = scrub(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = scrub(record.exc_text)
        if record.stack_info:
            record.stack_info = scrub(record.stack_info)
        return True


def install(logger: logging.Logger | None = None) -> None:
    """Put a SecretFilter on every handler of `logger` (the root logger by default)."""
    target = logger or logging.getLogger()
    for handler in target.handlers:
        if not any(isinstance(f, SecretFilter) for f in handler.filters):
            handler.addFilter(SecretFilter())
