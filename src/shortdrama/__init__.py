"""shortdrama: build an AI short-drama series like software."""

__version__ = "0.1.0"
