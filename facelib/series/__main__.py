"""``python -m facelib.series``: see :mod:`facelib.series.cli`."""
from .cli import main

raise SystemExit(main())
