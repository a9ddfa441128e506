"""The benchmarks (`make bench`). Every module of the bench may import the core layer (``bankupdate``), as the
functions do: its directory is put on the path here, before any bench module is loaded."""

import sys
from pathlib import Path

_LAYER = str(Path(__file__).resolve().parents[1] / "layers" / "core")
if _LAYER not in sys.path:
    sys.path.insert(0, _LAYER)
