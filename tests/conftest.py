"""Fixtures shared by the CUDA tests: the compilers they need, skipped where absent."""

from __future__ import annotations

import shutil

import pytest


@pytest.fixture(scope="session")
def gxx() -> str:
    path = shutil.which("g++")
    if path is None:
        pytest.skip("g++ is not on PATH; the host build of the kernels cannot be checked here")
    return path


@pytest.fixture(scope="session")
def nvcc() -> str:
    path = shutil.which("nvcc")
    if path is None:
        pytest.skip("nvcc is not on PATH; PTX compilation cannot be checked here")
    return path


@pytest.fixture(autouse=True, scope="session")
def _policy_cache(tmp_path_factory):
    """Learned switch policies go to a folder of the test session's, never the user's cache (subprocesses inherit it)."""
    import os

    folder = tmp_path_factory.mktemp("policy-cache")
    before = os.environ.get("PIVOTMC_CACHE_DIR")
    os.environ["PIVOTMC_CACHE_DIR"] = str(folder)
    yield folder
    if before is None:
        os.environ.pop("PIVOTMC_CACHE_DIR", None)
    else:
        os.environ["PIVOTMC_CACHE_DIR"] = before
