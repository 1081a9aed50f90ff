"""shortdrama: build an AI short-drama series like software."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("shortdrama")  # the installed distribution's version (pyproject.toml), one source of truth
except PackageNotFoundError:  # imported from a source tree that was never installed
    __version__ = "0+unknown"
