"""hooks: run each hook with the state JSON on stdin, its args and env,
and its timeout. Where a hook runs (runtime or container namespace) is
decided by the caller; this module only runs and reports.

As runc: a hook without "env" gets pyrunc's environment (an empty "env"
is an empty environment); it runs in the caller's cwd: the bundle for
prestart and createRuntime, the rootfs for createContainer, wherever
`start` and `delete` were called for poststart and poststop.
"""
import os

from pyrunc.errors import PyruncError

KINDS = ("prestart", "create_runtime", "create_container", "start_container",
         "poststart", "poststop")
SPEC_NAME = {"prestart": "prestart", "create_runtime": "createRuntime",
             "create_container": "createContainer", "start_container": "startContainer",
             "poststart": "poststart", "poststop": "poststop"}


def run_one(hook, state_bytes, cwd=None):
    import subprocess
    argv = list(hook.args) if hook.args else [hook.path]
    env = None if hook.env is None else dict(e.split("=", 1) for e in hook.env if "=" in e)
    try:
        p = subprocess.Popen(argv, executable=hook.path, stdin=subprocess.PIPE,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                             env=env, close_fds=True, cwd=cwd)
    except OSError as e:
        return "%s: %s" % (hook.path, os.strerror(e.errno).lower())
    try:
        _out, err = p.communicate(state_bytes, timeout=hook.timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
        return "%s: timed out after %ds" % (hook.path, hook.timeout)
    except BrokenPipeError:
        _out, err = p.communicate()
    if p.returncode != 0:
        msg = err.decode(errors="replace").strip().splitlines()
        return "%s: exit status %d%s" % (hook.path, p.returncode,
                                          (": " + msg[-1]) if msg else "")
    return None


def run(hooks, kind, state, warn_only=False, warn=None, cwd=None):
    """Run the hooks of one kind in order; raise on the first failure unless
    warn_only (poststop), where every hook runs and failures are warnings."""
    if not hooks:
        return
    from pyrunc.fastjson import dumps
    data = dumps(state).encode()
    for i, h in enumerate(hooks):
        err = run_one(h, data, cwd)
        if err is None:
            continue
        msg = "error running %s hook #%d: %s" % (SPEC_NAME[kind], i, err)
        if warn_only:
            if warn:
                warn(msg)
            continue
        raise PyruncError(msg)
