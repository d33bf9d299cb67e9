"""`python -m monitor` is the same as the `kling-monitor` console script."""

import sys

from monitor.cli import main

sys.exit(main())
