"""`python -m kd` is the same as `kd`."""

import sys

from kd.cli import main

sys.exit(main())
