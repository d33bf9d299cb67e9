"""The errors kling-monitor raises, and the exit codes they map to.

    MonitorError                 base; carries an exit code
    ├── UsageError               a command line the parser accepts but the command cannot use
    ├── ConfigError              the config file is missing, not TOML, or invalid (names file and key)
    ├── InputError               a document given to extract/replay cannot be read
    ├── StoreError               the store cannot be read or written: disk full, I/O error, corrupt (exit 74)
    │   ├── StoreUnavailableError    its directory is missing and cannot be made, read-only, or a file (exit 73)
    │   └── StoreVersionError        it was written by a newer kling-monitor (exit 78: restarting cannot help)
    └── DeliveryError            a transport (Slack, SMTP) failed; the outbox retries it
        └── PermanentDeliveryError   retrying cannot help (bad token, unknown channel)

Feed failures are not exceptions: a fetch or parse problem is a value (FetchResult.error,
ParsedFeed.bozo_error) recorded on the feed, so one bad feed never stops a poll.
"""

from __future__ import annotations

from monitor import redact

# Exit codes, in the spirit of sysexits.h: scripts and systemd can tell them apart.
EXIT_OK = 0
EXIT_FAILURE = 1  # the job ran but something failed (e.g. every feed failed)
EXIT_USAGE = 2  # bad command line (argparse uses 2 too)
EXIT_ATTENTION = 3  # a person must act: parked alerts, a failed digest, every feed failing (status, poll)
EXIT_DATAERR = 65  # bad input document
EXIT_CANTCREAT = 73  # the store cannot be created or opened for writing (EX_CANTCREAT)
EXIT_IOERR = 74  # the store cannot be written or read: disk full, I/O error, corrupt (EX_IOERR)
EXIT_CONFIG = 78  # configuration error (EX_CONFIG); also a store from a newer version


class MonitorError(Exception):
    exit_code = EXIT_FAILURE

    def __init__(self, message: str = "", *args: object) -> None:
        # The message may end up in a log line or a store row (outbox.last_error): mask secrets now.
        super().__init__(redact.scrub(str(message)), *args)


class UsageError(MonitorError):
    """A command line argparse accepts but the command cannot (`outbox retry` with neither ID nor --all)."""

    exit_code = EXIT_USAGE


class ConfigError(MonitorError):
    exit_code = EXIT_CONFIG


class InputError(MonitorError):
    exit_code = EXIT_DATAERR


class StoreError(MonitorError):
    exit_code = EXIT_IOERR


class StoreUnavailableError(StoreError):
    exit_code = EXIT_CANTCREAT


class StoreVersionError(StoreError):
    exit_code = EXIT_CONFIG


class DeliveryError(MonitorError):
    """A send failed; `retry_after` (seconds) is honoured when the transport gave one."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PermanentDeliveryError(DeliveryError):
    pass
