"""``python -m letta_actors.daemon``: the ``letta-actors`` command."""

import sys

from .cli import main

sys.exit(main())
