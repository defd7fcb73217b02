"""``python -m speechbrain_ptssnn.export``: see :func:`speechbrain_ptssnn.export.cli.main`."""

import sys

from speechbrain_ptssnn.export.cli import main

if __name__ == "__main__":
    sys.exit(main())
