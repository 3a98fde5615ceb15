"""``python -m rnnkit``: the ``rnnkit`` command (what ``torchrun -m rnnkit train ...`` runs)."""

import sys

from rnnkit.cli.main import main

sys.exit(main())
