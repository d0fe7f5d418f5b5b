"""Error types that the command line turns into one-line messages."""


class PyruncError(Exception):
    """An error reported to the user as one line; exit status 1 by default."""

    exit_code = 1


class UsageError(PyruncError):
    """Bad command-line usage; exit status 2."""

    exit_code = 2


class NotFound(PyruncError):
    """The container id is unknown."""

    def __init__(self, msg="container does not exist"):
        super().__init__(msg)


class ContainerExists(PyruncError):
    """create (or run) of an id that is already taken under the root."""

    def __init__(self, msg="container with given ID already exists"):
        super().__init__(msg)


class ConfigError(PyruncError):
    """config.json (or an exec process file) is invalid."""


class InvalidBundle(ConfigError):
    """validate: every problem of a bundle; .problems is [(JSON path, text)]."""

    def __init__(self, problems):
        self.problems = list(problems)
        super().__init__("; ".join("config.json: %s: %s" % (p or "/", t)
                                   for p, t in self.problems))


class ExecStoppedError(PyruncError):
    """exec into a stopped container: runc exits 255 here and callers know it."""

    exit_code = 255


def oserror_text(e):
    """'<strerror, lower case>' the way Go (and so runc) words errno."""
    import os
    return os.strerror(e.errno).lower() if getattr(e, "errno", None) else str(e)
