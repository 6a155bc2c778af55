"""A secret read from a file rather than the command line, where every local user can see it in ``ps``."""

from pathlib import Path

from edge_emotion.errors import EdgeEmotionError


def read_secret_file(path: Path, flag: str, what: str, strip: str | None = None) -> tuple[str, str | None]:
    """The ``what`` in ``path`` (its end stripped of ``strip``, whitespace by default), and a warning when
    every user may read the file; a missing, unreadable or empty file is one error naming ``flag``."""
    try:
        text, mode = path.read_text(encoding="utf-8"), path.stat().st_mode
    except FileNotFoundError:
        raise EdgeEmotionError(f"{flag} {path}: no such file; write the {what} into it (chmod 600)") from None
    except OSError as error:
        raise EdgeEmotionError(f"{flag} {path}: cannot read it ({error.strerror})") from None
    except UnicodeDecodeError:
        raise EdgeEmotionError(f"{flag} {path}: not UTF-8 text; write the {what} into it as text") from None
    secret = text.rstrip(strip)
    if not secret.strip():
        raise EdgeEmotionError(f"{flag} {path} is empty: write the {what} into it")
    if mode & 0o004:
        return secret, f"{flag} {path} is readable by every user of this machine: chmod 600 {path}"
    return secret, None
