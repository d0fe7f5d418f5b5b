"""delete: remove a stopped container (with --force, any container), run
its poststop hooks, remove its cgroups and state. Nothing of it remains."""
from pyrunc import log
from pyrunc.errors import NotFound, PyruncError
from pyrunc.faults import fault_point
from pyrunc.lifecycle.common import cgroup_manager, signal_init, stored_config, wait_gone
from pyrunc.state import Store


def delete(ctx, cid, force=False, config=None):
    """config: the container's config when the caller already has it (run)."""
    store = Store(ctx.root)
    try:
        c = store.load(cid)
    except NotFound:
        if force:
            # runc: delete --force of an unknown id succeeds (the shim relies on it)
            import os
            if not os.path.isdir(os.path.join(store.root, cid)):
                return
            store.remove(cid)
            return
        raise
    import os
    lock = store.lock(cid)
    try:
        status = c.status()
        if status != "stopped":
            if not force:
                raise PyruncError("cannot delete container %s that is not stopped: %s"
                                  % (cid, status))
            _stop(c, status)
        fault_point("delete-stopped")
        hooks = c.data.get("hooks")
        if config is None and (hooks is None or "poststop" in hooks):
            try:
                config = stored_config(c)
            except (OSError, PyruncError):
                config = None
        if config is not None and config.hooks.poststop:
            from pyrunc.lifecycle import hooks
            hooks.run(config.hooks.poststop, "poststop", c.state_json("stopped"),
                      warn_only=True, warn=log.warn)
        mgr = cgroup_manager(c)
        if mgr is not None:
            try:
                mgr.kill_all(9)
            except Exception:
                pass
            fault_point("delete-cgroup-killed")
            mgr.destroy()
        fault_point("delete-cgroup-removed")
        before = c.data.get("host_mounts_before")
        if before is not None:
            from pyrunc.linux.rootfs import unmount_added
            unmount_added(c.data["rootfs"], before)
        store.remove(cid)
    finally:
        os.close(lock)


def _stop(c, status):
    mgr = cgroup_manager(c)
    if status == "paused" and mgr is not None:
        mgr.thaw()
    try:
        signal_init(c, 9)
    except PyruncError:
        pass
    if mgr is not None:
        try:
            mgr.kill_all(9)
        except Exception:
            pass
    if not wait_gone(c.pid, c.data.get("pid_start")):
        raise PyruncError("container init did not exit after SIGKILL")
