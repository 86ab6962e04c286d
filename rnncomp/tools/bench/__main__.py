"""``python -m rnncomp.tools.bench``: one child case of the bench (``--case JSON``), else ``rnncomp bench [OPTIONS]``.

Measures what :func:`rnncomp.tools.bench.harness.main` runs: a child case, or the whole bench.
"""

import sys

from rnncomp.tools.bench.harness import main

if __name__ == "__main__":
    sys.exit(main())
