"""``python -m service``: the same as ``matcher-serve``."""

import sys

from service.cli import main

sys.exit(main())
