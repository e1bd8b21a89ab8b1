"""``python -m mouselab`` runs the command line."""

import sys

from mouselab.cli.main import main

sys.exit(main())
