"""linux.sysctl: only namespaced sysctls, written through the private procfs.

Allowed (as runc's validator): kernel.msg*, kernel.sem, kernel.shm*,
fs.mqueue.* with a new ipc namespace; net.* with a new network namespace;
kernel.hostname/domainname with a new uts namespace. Anything else would
change the host and is an error.
"""
from pyrunc.errors import ConfigError

_IPC = ("kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem", "kernel.shmall",
        "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced")


def check(sysctl, new_types):
    for key in sysctl or ():
        k = key.replace("/", ".")
        if k in _IPC or k.startswith("fs.mqueue."):
            if "ipc" not in new_types:
                raise ConfigError("sysctl %r is not allowed: the container has no private "
                                  "ipc namespace" % key)
        elif k.startswith("net."):
            if "network" not in new_types:
                raise ConfigError("sysctl %r is not allowed: the container has no private "
                                  "network namespace" % key)
        elif k in ("kernel.hostname", "kernel.domainname"):
            if "uts" not in new_types:
                raise ConfigError("sysctl %r is not allowed: the container has no private "
                                  "uts namespace" % key)
        else:
            raise ConfigError("sysctl %r is not allowed: it is not namespaced" % key)


def apply(procfs, sysctl):
    for key, value in (sysctl or {}).items():
        procfs.write("sys/" + key.replace(".", "/"), value)
