"""``python -m mudserver.bench``: see :func:`mudserver.bench.main`."""

from mudserver.bench import main

main()
