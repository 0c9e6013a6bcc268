"""The installed package's version, recorded in every result and in the identity of cached policies."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("pivotmc")
except PackageNotFoundError:  # running from a source tree without an install
    __version__ = "0+unknown"
