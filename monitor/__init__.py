"""kling-monitor: a news-intelligence daemon that follows Kling AI and Kuaishou."""

# The one place the version is written (pyproject.toml reads it from here). A literal, not
# importlib.metadata: that lookup cost ~45 ms in every process, parse workers included.
__version__ = "0.1.0"
