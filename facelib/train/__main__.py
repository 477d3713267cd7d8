"""``python -m facelib.train``: see ``facelib.train.cli``."""
import sys

from .cli import main

sys.exit(main())
