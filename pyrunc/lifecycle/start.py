"""start: release the waiting init so it execs the user's process."""
import errno
import os

from pyrunc import log
from pyrunc.errors import PyruncError
from pyrunc.faults import fault_point
from pyrunc.lifecycle.common import signal_init, stored_config
from pyrunc.state import Store


def start(ctx, cid, config=None):
    """config: the container's config when the caller already has it (run)."""
    store = Store(ctx.root)
    c = store.load(cid)
    lock = store.lock(cid)
    try:
        fault_point("start-locked")
        status = c.status()
        if status == "stopped":
            raise PyruncError("cannot start a container that has stopped")
        if status != "created":
            raise PyruncError("cannot start an already running container"
                              if status in ("running", "paused") else
                              "cannot start a container in the %s state" % status)
        if config is None:
            config = _config_if_needed(c)
        if not c.data.get("has_process", True) or (config and config.process is None):
            # An error (runtime-spec), and the container stops: with no
            # process it can never run, and a waiting init would hold its
            # namespaces and cgroup until someone deletes it (runtime-tools'
            # `start` test waits for `stopped`, then deletes; it left a
            # `created` container behind while pyrunc kept it waiting).
            _kill(c)
            raise PyruncError("process is required to start the container")
        if config is not None and config.hooks.poststart:
            from pyrunc.lifecycle import hooks
        # startContainer hooks: the init helper runs them, after this
        # release and before the process, with its confinement (init.c)
        release(c)
    finally:
        os.close(lock)
    if config is not None and config.hooks.poststart:
        try:
            hooks.run(config.hooks.poststart, "poststart", c.state_json("running"))
        except PyruncError:
            # spec 1.3.0: a failing poststart hook is an error and stops the container
            _kill(c)
            raise
    return c


def _config_if_needed(c):
    """The stored config, only when start has hooks to run (state.json says)."""
    hooks = c.data.get("hooks")
    if hooks is not None and "poststart" not in hooks:
        return None
    return stored_config(c)


def release(c):
    """Open the exec fifo for writing (the init polls its read end), then
    read the done fifo to EOF: EOF alone means the execve succeeded, any
    bytes are the init helper's error."""
    done = os.open(c.path("done.fifo"), os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK)
    try:
        try:
            w = os.open(c.path("exec.fifo"), os.O_WRONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError as e:
            if e.errno == errno.ENXIO:      # no reader: the init is gone
                raise PyruncError("cannot start a container that has stopped") from None
            raise
        try:
            os.write(w, b"0")
        finally:
            os.close(w)
        fault_point("start-released")
        os.set_blocking(done, True)
        out = b""
        while True:
            b = os.read(done, 4096)
            if not b:
                break
            out += b
    finally:
        os.close(done)
        for name in ("exec.fifo", "done.fifo"):
            try:
                os.unlink(c.path(name))
            except FileNotFoundError:
                pass
    if out:
        raise PyruncError("unable to start container process: %s" % out.decode(errors="replace"))


def _kill(c):
    try:
        signal_init(c, 9)
    except PyruncError:
        pass
    except OSError as e:
        log.warn("kill: %s" % e)
