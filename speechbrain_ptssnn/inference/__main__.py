"""``python -m speechbrain_ptssnn.inference``: the ``ptssnn-classify`` script."""

import sys

from speechbrain_ptssnn.inference.cli import main

if __name__ == "__main__":
    sys.exit(main())
