"""``python -m trust.cli``: the same as the ``trust`` command."""

import sys

from trust.cli.main import main

sys.exit(main())
