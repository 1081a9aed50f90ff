"""Script writers: turn a series config into an outline and one script per episode."""

from .base import ScriptWriter
from .factory import make_writer

__all__ = ["ScriptWriter", "make_writer"]
