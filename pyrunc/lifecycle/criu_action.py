"""CRIU's action script during `pyrunc restore` (criu --action-script):
at setup-namespaces, the restored init exists in its new namespaces and
nothing of it runs yet: the prestart and createRuntime hooks run then, in
the runtime namespace, as create runs them. A failure is written to
<state dir>/criu-action.err (restore reports it as its one-line error) and
the non-zero exit makes CRIU abort the restore.
"""
import os
import sys


def main():
    if os.environ.get("CRTOOLS_SCRIPT_ACTION") != "setup-namespaces":
        return 0
    sdir = os.environ.get("PYRUNC_CRIU_STATE")
    pid = os.environ.get("CRTOOLS_INIT_PID")
    if not sdir or not pid:
        return 0
    try:
        from pyrunc.lifecycle.common import stored_config
        from pyrunc.lifecycle.create import _runtime_hooks
        from pyrunc.state import Store
        root, cid = os.path.split(sdir.rstrip("/"))
        c = Store(root).load(cid)
        _runtime_hooks(c, stored_config(c), int(pid))
    except Exception as e:
        with open(os.path.join(sdir, "criu-action.err"), "w") as f:
            f.write(str(e))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
