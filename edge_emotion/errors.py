"""One error type for everything a user can get wrong; the CLI prints it as one line."""


class EdgeEmotionError(Exception):
    """A problem the user can fix: the message says what went wrong and how to fix it."""


def missing_extra(package: str, extra: str) -> EdgeEmotionError:
    """The error for an optional dependency that is not installed, with the command that installs it."""
    return EdgeEmotionError(f"{package} is not installed; install it with: pip install 'edge-emotion[{extra}]'")
