"""``python -m rnncomp.cli``: the ``rnncomp`` command."""

import sys

from rnncomp.cli import main

sys.exit(main())
