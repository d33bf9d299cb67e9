"""How figures, sources and tables are written for people: one place, so every output agrees."""

from __future__ import annotations

from urllib.parse import urlsplit

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


def text_table(rows: list[list[str]], headers: list[str]) -> str:
    """Left-aligned columns under a header and a rule, two spaces apart (CLI listings)."""
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *rows, strict=False)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    lines = [fmt.format(*headers), fmt.format(*("-" * w for w in widths))]
    lines += [fmt.format(*(str(c) for c in r)) for r in rows]
    return "\n".join(line.rstrip() for line in lines)
