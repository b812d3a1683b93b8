"""``python -m mudserver.client``: the interactive terminal client."""

import sys

from mudserver.client.terminal import main

sys.exit(main())
