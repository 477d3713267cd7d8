"""``python -m facelib.evaluate``: see ``facelib.evaluate.cli``."""
import sys

from .cli import main

sys.exit(main())
