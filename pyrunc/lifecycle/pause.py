"""pause / resume: freeze and thaw the container's cgroup.

runc's contract: unknown id -> "container does not exist"; pause of a
container that is not running (stopped, created, already paused) ->
"container not running"; resume of one that is not paused -> "container not
paused". Both exit 1. pause returns once the freezer reports FROZEN, so a
following `state` says "paused"; resume makes it "running" again.
"""
import os

from pyrunc.errors import PyruncError
from pyrunc.lifecycle.common import cgroup_manager
from pyrunc.state import Store


def load_locked(ctx, cid):
    """(Container, lock fd): the state re-read under the container's lock."""
    store = Store(ctx.root)
    store.load(cid)                 # validates the id; NotFound if unknown
    lock = store.lock(cid)
    try:
        return store.load(cid), lock
    except BaseException:
        os.close(lock)
        raise


def _manager(c, what):
    mgr = cgroup_manager(c)
    if mgr is None:
        raise PyruncError("cannot %s the container: it has no cgroup" % what)
    return mgr


def _freezer(ctx, cid, want, what, error):
    """pause and resume: check the status under the lock, then freeze or
    thaw (cgroup errors are one-line PyruncErrors already)."""
    c, lock = load_locked(ctx, cid)
    try:
        if c.status() != want:
            raise PyruncError(error)
        mgr = _manager(c, what)
        mgr.freeze() if what == "pause" else mgr.thaw()
    finally:
        os.close(lock)


def pause(ctx, cid):
    _freezer(ctx, cid, "running", "pause", "container not running")


def resume(ctx, cid):
    _freezer(ctx, cid, "paused", "resume", "container not paused")
