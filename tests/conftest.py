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
