"""One exception tree for the whole station.

Every stage raises a subclass of :class:`BroadcastError` whose message is what the staff
read: it names the file or key and says how to fix it. The CLI turns these into one
``Error: …`` line (exit 1); third-party errors are wrapped by the adapters that meet them.
"""

from __future__ import annotations


class BroadcastError(Exception):
    """Base of every error the staff may see."""


class ConfigError(BroadcastError):
    """config.toml is missing, unreadable or has invalid values."""

    def __init__(self, problems: list[str] | str):
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("\n".join(self.problems))


class DatabaseError(BroadcastError):
    """The station database cannot be opened or migrated."""


class ScriptError(BroadcastError):
    """A script file cannot be read or imported."""


class QueueError(BroadcastError):
    """A queue operation was given an unknown entry, village or date."""


class TextError(BroadcastError):
    """Spoken-form normalisation or the pronunciation lexicon failed."""


class SynthesisError(BroadcastError):
    """A TTS engine could not produce speech."""


class MixError(BroadcastError):
    """Mixing, loudness processing or audio decoding failed."""


class ProgrammeError(BroadcastError):
    """A programme could not be produced or found."""


class ScheduleError(BroadcastError):
    """A slot or one-off airing is invalid."""


class PlaybackError(BroadcastError):
    """The player or an amplifier/zone hook failed."""


class DaemonError(BroadcastError):
    """The daemon cannot start (already running, no lock)."""


class ExportError(BroadcastError):
    """An export or report could not be written."""


class ApprovalError(BroadcastError):
    """An approval cannot be recorded (unknown programme or level, signed already)."""
