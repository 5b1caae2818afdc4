"""`python -m data_sources`: see `data_sources.cli`."""

import sys

from data_sources.cli import main

sys.exit(main())
