"""process.rlimits: every RLIMIT_* name; unknown names and duplicates are errors.

Applied in the container's init as the very last step before the init
helper is exec'd, after everything memory-hungry, so that a low RLIMIT_AS
or RLIMIT_NOFILE cannot break pyrunc's own set-up.
"""
from pyrunc.errors import ConfigError

RLIMITS = {
    "RLIMIT_CPU": 0, "RLIMIT_FSIZE": 1, "RLIMIT_DATA": 2, "RLIMIT_STACK": 3,
    "RLIMIT_CORE": 4, "RLIMIT_RSS": 5, "RLIMIT_NPROC": 6, "RLIMIT_NOFILE": 7,
    "RLIMIT_MEMLOCK": 8, "RLIMIT_AS": 9, "RLIMIT_LOCKS": 10, "RLIMIT_SIGPENDING": 11,
    "RLIMIT_MSGQUEUE": 12, "RLIMIT_NICE": 13, "RLIMIT_RTPRIO": 14, "RLIMIT_RTTIME": 15,
}
INFINITY = (1 << 64) - 1


def check(rlimits, where="/process/rlimits"):
    """[(resource number, soft, hard)] or ConfigError."""
    seen = set()
    out = []
    for i, r in enumerate(rlimits or ()):
        num = RLIMITS.get(r.type)
        if num is None:
            raise ConfigError("config.json: %s/%d/type: unknown rlimit %r" % (where, i, r.type))
        if r.type in seen:
            raise ConfigError("config.json: %s/%d/type: duplicate rlimit %r" % (where, i, r.type))
        seen.add(r.type)
        if r.soft > r.hard:
            raise ConfigError("config.json: %s/%d: soft limit %d is above the hard limit %d"
                              % (where, i, r.soft, r.hard))
        out.append((num, r.soft, r.hard))
    return out
