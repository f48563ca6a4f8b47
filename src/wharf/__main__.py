from __future__ import annotations

import sys

from wharf.cli import main

sys.exit(main())
