"""``python -m cx_core``."""

from .cli import main

raise SystemExit(main())
