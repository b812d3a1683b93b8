"""``python -m mudserver.client``: the interactive terminal client."""

import sys

from mudserver.client.cli import main

sys.exit(main())
