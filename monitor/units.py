"""How figures, sources and tables are written for people: one place, so every output agrees."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlsplit

from wcwidth import wcswidth, wcwidth

CURRENCY_PREFIX: dict[str, str] = {"USD": "$", "CNY": "RMB ", "RMB": "RMB ", "HKD": "HK$", "EUR": "€", "GBP": "£"}


def compact(value: float) -> str:
    """2.8e9 -> '2.8B', 7.67e8 -> '767M', 2.028e9 -> '2.028B' (four significant digits, as sources write)."""
    for div, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")):
        if abs(value) >= div:
            return f"{value / div:.4g}{suffix}"
    return f"{value:.4g}"


def amount(value: float | None, unit: str | None) -> str:
    """'$3.6B', 'RMB 26B', '16.67%', '45M'."""
    if value is None:
        return "?"
    u = (unit or "").upper()
    if u == "PERCENT":
        return f"{value:g}%"
    if u in ("COUNT", ""):
        return compact(value)
    prefix = CURRENCY_PREFIX.get(u)
    return f"{prefix}{compact(value)}" if prefix else f"{compact(value)} {u}"


def source_name(source: str) -> str:
    """A short name for a source: a URL's host without www., else a file's name."""
    try:
        host = urlsplit(source).hostname if "://" in source else None
    except ValueError:
        host = None
    if host:
        return host.removeprefix("www.")
    return source.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1] or source


def display_width(text: str) -> int:
    """Terminal columns a string takes: CJK and most emoji take two (wcwidth), controls none."""
    w = wcswidth(text)
    return w if w >= 0 else sum(max(0, wcwidth(ch)) for ch in text)


def text_table(rows: list[list[str]], headers: list[str]) -> str:
    """Left-aligned columns under a header and a rule, two spaces apart (CLI listings).

    Widths are display widths, so a column of Chinese feed names lines up with one of ASCII names.
    """
    cells = [[str(c) for c in r] for r in [headers, *rows]]
    widths = [max(display_width(x) for x in col) for col in zip(*cells, strict=False)]

    def line(r: list[str]) -> str:
        return "  ".join(c + " " * (w - display_width(c)) for c, w in zip(r, widths, strict=False)).rstrip()

    return "\n".join([line(cells[0]), line(["-" * w for w in widths]), *(line(r) for r in cells[1:])])


def relative_time(when: datetime | None, now: datetime) -> str:
    """'just now', '5 min ago', 'in 3 h', '2 d ago': how long ago or ahead, to a person."""
    if when is None:
        return "-"
    secs = (when - now).total_seconds()
    span = abs(secs)
    if span < 45:
        return "just now" if secs <= 0 else "in a moment"
    for limit, size, unit in ((90 * 60, 60, "min"), (36 * 3600, 3600, "h"), (float("inf"), 86400, "d")):
        if span < limit:
            n = f"{round(span / size)} {unit}"
            return f"{n} ago" if secs < 0 else f"in {n}"
    raise AssertionError("unreachable")  # pragma: no cover
