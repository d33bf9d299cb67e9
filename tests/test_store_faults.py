"""Opening the store: safe when many processes open a fresh one at once; every fault one clear error."""

from __future__ import annotations

import errno
import logging
import multiprocessing
import os
import random
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from feedserver import FeedServer

from monitor.cli import main
from monitor.errors import EXIT_CANTCREAT, EXIT_CONFIG, EXIT_IOERR, StoreError
from monitor.store import SCHEMA_VERSION, Store

OPENERS = 100


def _open_at_once(path: str, barrier: Any, results: Any) -> None:
    barrier.wait(60)
    try:
        with Store(path) as store:
            store.sync_feeds([("f", "https://example.com/feed", 900)])
        results.put("ok")
    except BaseException as exc:  # noqa: BLE001 - reported to the parent, which asserts on it
        results.put(f"{type(exc).__name__}: {exc}")


@pytest.mark.slow
def test_a_hundred_processes_opening_a_fresh_store_at_once_all_succeed(tmp_path: Path) -> None:
    """The daemon, the timer unit and a `poll --once` may all create the store at the same moment."""
    path = str(tmp_path / "fresh" / "m.db")
    ctx = multiprocessing.get_context("fork")  # fork: 100 children start in a second, not a minute
    barrier, results = ctx.Barrier(OPENERS), ctx.Queue()
    procs = [ctx.Process(target=_open_at_once, args=(path, barrier, results)) for _ in range(OPENERS)]
    for p in procs:
        p.start()
    outcomes = [results.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(30)
    failures = [o for o in outcomes if o != "ok"]
    assert not failures, f"{len(failures)} of {OPENERS} openings failed, e.g. {failures[:3]}"
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        names = [r[0] for r in conn.execute("SELECT name FROM _sqlite_migrations ORDER BY id")]
        assert len(names) == len(set(names)) == SCHEMA_VERSION  # each migration applied exactly once
        assert conn.execute("SELECT count(*) FROM feeds").fetchone()[0] == 1


# ---------------------------------------------------------------- faults: one line, a documented exit code


@contextmanager
def tmpfs(where: Path, size: str = "1m", *, read_only: bool = False) -> Iterator[Path]:
    """A tiny tmpfs mounted at `where` (root only; the test is skipped where mounting is not allowed)."""
    where.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a tmpfs needs root")
    opts = f"size={size}" + (",ro" if read_only else "")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(where)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def remount_read_only(where: Path) -> None:
    subprocess.run(["mount", "-o", "remount,ro", str(where)], check=True)


def fill(where: Path) -> Path:
    """Fill the file system holding `where` to the last byte; returns the filler file."""
    filler = where / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
    try:
        for size in (65536, 4096, 512, 1):  # down to the last partial block
            try:
                while True:
                    os.write(fd, b"\0" * size)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC
    finally:
        os.close(fd)
    return filler


def rss(n: int) -> bytes:
    items = "".join(f"<item><title>Story {i} about the weather</title><link>https://n.example.com/{i}</link>"
                    f"<description>{'Sunny and warm today. ' * 40}</description>"
                    f"<pubDate>Mon, 23 Nov 2026 08:{i % 60:02d}:00 +0000</pubDate></item>" for i in range(n))
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>{items}</channel></rss>'.encode()


def write_config(path: Path, store: Path, feed_url: str = "http://127.0.0.1:9/feed.xml") -> Path:
    path.write_text(f'[store]\npath = "{store}"\n[fetch]\nallow_private = true\n[console]\nenabled = false\n'
                    f'[[feeds]]\nname = "news"\nurl = "{feed_url}"\n', encoding="utf-8")
    return path


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_error_line(err: str, message: str) -> None:
    assert "Traceback" not in err, err
    lines = [ln for ln in err.splitlines() if ln.startswith("kling-monitor: error:")]
    assert len(lines) == 1 and message in lines[0], err


def test_disk_full_during_a_poll_is_one_line_and_nothing_is_lost(feed_server: FeedServer, tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    feed_server.add("/feed.xml", rss(60))
    with tmpfs(tmp_path / "disk", "2m") as disk:
        db = disk / "data" / "m.db"
        cfg = write_config(tmp_path / "m.toml", db, feed_server.url("/feed.xml"))
        Store(db).close()  # the store exists; then the disk fills up
        filler = fill(disk)
        code, _, err = run_cli(capsys, "-c", str(cfg), "poll", "--once")
        assert code == EXIT_IOERR == 74
        assert_one_error_line(err, f"store: disk full at {db}")
        filler.unlink()  # space again: the next poll stores everything, nothing was half-written
        code, out, err = run_cli(capsys, "-c", str(cfg), "poll", "--once")
        assert code == 0, err
        assert "60 new" in out
        with Store(db) as store:
            assert store.count_entries() == 60 and store.integrity_check() == "ok"


def test_disk_full_while_creating_the_store(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with tmpfs(tmp_path / "disk", "1m") as disk:
        (disk / "data").mkdir()
        fill(disk)
        db = disk / "data" / "m.db"
        code, _, err = run_cli(capsys, "-c", str(write_config(tmp_path / "m.toml", db)), "poll", "--once")
        assert code == 74
        assert_one_error_line(err, f"store: disk full at {db}")


def test_a_full_store_simulated_with_max_page_count_is_a_store_error(tmp_path: Path) -> None:
    """The same fault where no tmpfs can be mounted: SQLite's page limit gives SQLITE_FULL."""
    with pytest.raises(StoreError, match=r"^store: disk full at ") as failed:  # noqa: PT012
        with Store(tmp_path / "m.db") as store:
            pages = store.db.execute("PRAGMA page_count").fetchone()[0]
            store.db.execute(f"PRAGMA max_page_count = {pages}")
            store.set_meta("big", "x" * 100_000)
    assert failed.value.exit_code == 74


@pytest.mark.parametrize("case", ["read-only file system", "read-only store", "under a file", "under a file, deeper"])
def test_a_store_that_cannot_be_written_is_one_line_exit_73(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                           case: str) -> None:
    expect = {"read-only file system": "Read-only file system", "read-only store": "",
              "under a file": "a file is in the way", "under a file, deeper": "a file is in the way"}[case]
    (tmp_path / "afile").write_text("x")
    if case.startswith("under a file"):
        db = tmp_path / "afile" / ("m.db" if case == "under a file" else "sub/m.db")
        code, _, err = run_cli(capsys, "-c", str(write_config(tmp_path / "m.toml", db)), "poll", "--once")
    else:
        with tmpfs(tmp_path / "ro", read_only=case == "read-only file system") as ro:
            db = ro / "data" / "m.db"
            if case == "read-only store":
                Store(db).close()
                remount_read_only(ro)
            code, _, err = run_cli(capsys, "-c", str(write_config(tmp_path / "m.toml", db)), "poll", "--once")
    assert code == EXIT_CANTCREAT == 73
    assert_one_error_line(err, "store: ")
    assert expect in err


def _store_with_entries(db: Path, n: int = 400) -> None:
    from monitor.models import Entry

    t = datetime(2026, 11, 23, tzinfo=UTC)
    with Store(db) as store:
        store.store_entries([Entry(feed="f", url=f"https://n.example.com/{i}", guid=str(i), title=f"T{i}",
                                   summary="Sunny and warm today. " * 30, published=t, published_from_fetch=False)
                             for i in range(n)], now=t)
        store.optimize()


def corrupt(db: Path, *, header: bool = False) -> None:
    """Overwrite pages in the middle of the file (or the header) with random bytes, as a bad disk would."""
    data = bytearray(db.read_bytes())
    rng = random.Random(7)
    if header:
        data[:100] = bytes(rng.randrange(256) for _ in range(100))
    else:
        page = int.from_bytes(data[16:18]) or 65536  # the page size, from the database header
        for p in range(3, len(data) // page - 1, 3):
            data[p * page:(p + 1) * page] = bytes(rng.randrange(256) for _ in range(page))
    db.write_bytes(bytes(data))


@pytest.mark.parametrize("header", [False, True], ids=["mid-file", "header"])
def test_a_corrupt_store_is_one_line_and_check_store_finds_it(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                             header: bool) -> None:
    db = tmp_path / "m.db"
    _store_with_entries(db)
    cfg = str(write_config(tmp_path / "m.toml", db))
    code, out, err = run_cli(capsys, "-c", cfg, "check-store")
    assert (code, out.strip()) == (0, f"store: {db}: ok")
    corrupt(db, header=header)
    code, _, err = run_cli(capsys, "-c", cfg, "check-store")
    assert code == 74
    assert_one_error_line(err, "store: ")
    assert ("is corrupt or not a kling-monitor store" in err) or ("failed the integrity check" in err)
    code, _, err = run_cli(capsys, "-c", cfg, "entries", "list")
    assert code == 74
    assert_one_error_line(err, "is corrupt or not a kling-monitor store")


def test_check_store_on_a_missing_store_creates_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "none" / "m.db"
    code, _, err = run_cli(capsys, "-c", str(write_config(tmp_path / "m.toml", db)), "check-store")
    assert code == 74 and not db.exists()
    assert_one_error_line(err, "does not exist")


def test_a_store_from_a_newer_version_is_one_line_exit_78(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "m.db"
    Store(db).close()
    with sqlite3.connect(db) as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    code, _, err = run_cli(capsys, "-c", str(write_config(tmp_path / "m.toml", db)), "feeds", "list")
    assert code == EXIT_CONFIG == 78
    assert_one_error_line(err, "newer than this kling-monitor knows")


def test_housekeeping_checks_integrity_daily_logs_an_error_and_sets_a_metric(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from monitor import metrics
    from monitor.config import Config, StoreConfig
    from monitor.schedule import META_INTEGRITY_CHECK, Daemon

    db = tmp_path / "m.db"
    cfg = Config(store=StoreConfig(path=str(db)))
    Daemon(cfg, tick=1).housekeeping()
    with Store(db) as store:
        assert store.get_meta(META_INTEGRITY_CHECK)
        # a table housekeeping never touches, whose index a bad disk then damages
        store.db.execute("CREATE TABLE junk (x TEXT)")
        store.db.execute("CREATE INDEX junk_x ON junk (x)")
        store.db.conn.executemany("INSERT INTO junk VALUES (?)", [(f"row {i:05d} " * 8,) for i in range(3000)])
        root = store.db.execute("SELECT rootpage FROM sqlite_master WHERE name = 'junk_x'").fetchone()[0]
        page = store.db.execute("PRAGMA page_size").fetchone()[0]
        store.optimize()
    assert metrics.STORE_CORRUPT._value.get() == 0
    with db.open("r+b") as f:
        f.seek((root - 1) * page)
        f.write(random.Random(3).randbytes(page))
    Daemon(cfg, tick=1).housekeeping()  # checked already today: not again
    assert metrics.STORE_CORRUPT._value.get() == 0
    with Store(db) as store:
        store.set_meta(META_INTEGRITY_CHECK, "2000-01-01T00:00:00Z")
    caplog.set_level(logging.ERROR, logger="monitor.schedule")
    Daemon(cfg, tick=1).housekeeping()  # a day later: the damage is found, and housekeeping still ran
    assert metrics.STORE_CORRUPT._value.get() == 1
    (record,) = [r for r in caplog.records if "failed the integrity check" in r.getMessage()]
    assert record.levelno == logging.ERROR and "check-store" in record.getMessage()
    metrics.set_store_corrupt(False)


def test_the_daemon_logs_a_full_disk_in_one_line_and_recovers(feed_server: FeedServer, tmp_path: Path,
                                                              caplog: pytest.LogCaptureFixture) -> None:
    from monitor.config import load_config
    from monitor.schedule import Daemon

    feed_server.add("/feed.xml", rss(60))
    with tmpfs(tmp_path / "disk", "2m") as disk:
        db = disk / "data" / "m.db"
        daemon = Daemon(load_config(write_config(tmp_path / "m.toml", db, feed_server.url("/feed.xml"))), tick=1)
        poll = daemon._guarded("poll", daemon.poll_cycle)
        Store(db).close()
        filler = fill(disk)
        caplog.set_level(logging.INFO, logger="monitor.schedule")
        poll()  # never raises: the job logs and runs again on its schedule
        failures = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
        assert failures == [f"poll job failed: StoreError: store: disk full at {db}; it runs again on its schedule"]
        filler.unlink()
        poll()
        with Store(db) as store:
            assert store.count_entries() == 60 and store.integrity_check() == "ok"


@pytest.mark.parametrize("command", [["digest", "--preview", "{afile}/sub/d.html"],
                                     ["feeds", "export-opml", "-o", "{afile}/feeds.opml"]])
def test_a_file_that_cannot_be_written_is_one_line_exit_74(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                           command: list[str]) -> None:
    (tmp_path / "afile").write_text("x")
    cfg = str(write_config(tmp_path / "m.toml", tmp_path / "m.db"))
    code, _, err = run_cli(capsys, "-c", cfg, *(c.format(afile=tmp_path / "afile") for c in command))
    assert code == 74
    assert_one_error_line(err, "Not a directory")
