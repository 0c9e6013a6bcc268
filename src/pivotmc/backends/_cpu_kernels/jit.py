"""Compilation options shared by every kernel module."""

from __future__ import annotations

import os

# error_model="numpy": no zero-division branches, which would stop loops from vectorising.
JIT = dict(nogil=True, cache=os.environ.get("PIVOTMC_NO_CACHE") is None, error_model="numpy")
