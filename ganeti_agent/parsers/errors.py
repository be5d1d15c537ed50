"""The error every parser raises, carrying where the input stopped making sense."""

from __future__ import annotations

MAX_QUOTED = 1600


class ParseError(ValueError):
    """Input that does not have the expected shape.

    ``remaining`` is the unparsed rest of the input (Ganeti's tools print it, quoted,
    when they reject a file), ``reason`` says what was expected there.
    """

    def __init__(self, reason: str, remaining: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.remaining = remaining

    def quoted_remaining(self) -> str:
        """The unparsed text as a double-quoted literal of at most 1600 characters."""
        text = self.remaining[:MAX_QUOTED]
        escaped = text.replace("\\", "\\\\").replace('"', '\\"')
        escaped = escaped.replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t")
        return f'"{escaped}"'


def wrap_int64(value: int) -> int:
    """Wrap an unsigned reading into a signed 64-bit integer, as Haskell's ``Int`` does."""
    value &= (1 << 64) - 1
    return value - (1 << 64) if value >= 1 << 63 else value
