"""`python -m devstack ...` from the checkout's root (what `scripts/stack` runs)."""

import sys

from devstack.cli import main

sys.exit(main())
