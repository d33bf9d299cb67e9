"""kling-monitor: a news-intelligence daemon that follows Kling AI and Kuaishou."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("kling-monitor")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.1.0"
