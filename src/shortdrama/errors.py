"""The one exception family. The CLI and every Snakemake script translate it into one readable line."""


class ShortDramaError(Exception):
    """Base of every error shortdrama raises on purpose."""


class ConfigError(ShortDramaError):
    """The composed configuration is invalid (unknown option, bad value, unknown key)."""


class SchemaError(ShortDramaError):
    """A document (outline, script, provider response) does not match its schema."""


class ProviderError(ShortDramaError):
    """A provider (writer, image, video, voice, music) failed to produce its output."""


class MediaError(ShortDramaError):
    """FFmpeg or a media probe failed."""


class UsageError(ShortDramaError):
    """A command was pointed at nothing it can work on (no checkout, no series built in the work dir):
    the CLI's exit code 2, like a configuration mistake."""


class QCError(ShortDramaError):
    """A scene failed its automated checks where the qc group says stop (qc.on_fail: stop), or a QC
    check cannot run (an identity scorer that does not load)."""
