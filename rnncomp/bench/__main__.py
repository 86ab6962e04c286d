"""``python -m rnncomp.bench``: one child case of the bench (``--case JSON``), else ``rnncomp bench [OPTIONS]``.

Measures what :func:`rnncomp.bench.harness.main` runs: a child case, or the whole bench.
"""

import sys

from rnncomp.bench.harness import main

if __name__ == "__main__":
    sys.exit(main())
