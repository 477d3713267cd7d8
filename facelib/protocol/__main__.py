"""``python -m facelib.protocol``: see ``facelib.protocol.cli``."""
import sys

from .cli import main

sys.exit(main())
