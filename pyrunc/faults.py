"""Test-only fault injection: where a caller's timeout could kill pyrunc.

PYRUNC_TEST_KILL_AT=<point> makes pyrunc SIGKILL itself when it reaches
the named point (see the fault_point calls in pyrunc/lifecycle), so the
tests can show that `delete --force` afterwards leaves nothing behind,
whatever step was interrupted. Read once at import; without the variable
a point costs one comparison.
"""
import os

_AT = os.environ.get("PYRUNC_TEST_KILL_AT")
# PYRUNC_TEST_SLEEP_AT=<point>:<seconds>: pause there instead (to let a
# child get ahead of pyrunc, deterministically)
_SLEEP = os.environ.get("PYRUNC_TEST_SLEEP_AT")


def fault_point(name):
    if _AT is not None and _AT == name:
        os.kill(os.getpid(), 9)
    if _SLEEP is not None and _SLEEP.partition(":")[0] == name:
        import time
        time.sleep(float(_SLEEP.partition(":")[2] or 1))
