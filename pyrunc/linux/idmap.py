"""Idmapped bind mounts: mounts[].uidMappings/gidMappings and the "idmap" /
"ridmap" options (runtime-spec; Kubernetes user-namespaced pods use them).

A mount's mappings (containerID -> hostID) become a user namespace with
exactly those maps, and MOUNT_ATTR_IDMAP with it on a detached copy of the
source: a file owned by containerID on disk is seen as hostID. Without
mappings, "idmap"/"ridmap" take the container's own (its uidMappings, or
the user namespace it joins). "ridmap" idmaps every mount of the tree,
"idmap" and bare mappings the top one only.

Setting an idmap needs privilege over the source's filesystem, which the
container's init lacks once it is in its own user namespace; so pyrunc
makes these trees on the host before it forks (prepare) and the init only
attaches them (rootfs hands each to mounts.mount_one). Linux 5.12+.
"""
import os

from pyrunc.errors import PyruncError
from pyrunc.linux import sys as S

#: {index of the mount in config.mounts: fd of its detached tree}
premade = {}


def wanted(m):
    opts = m.options or ()
    return bool(m.uid_mappings or m.gid_mappings or "idmap" in opts or "ridmap" in opts)


def prepare(sysc, config, keep, new_userns=False):
    """Make every idmapped mount's tree; keep(fd) registers each fd with the
    caller (closed after the fork, inherited by the init). With a new user
    namespace, also a plain copy of every other bind source: its root may
    not be able to reach one (a 0700 host dir), and the init then attaches
    this copy instead."""
    premade.clear()
    nsfds = {}
    try:
        for i, m in enumerate(config.mounts):
            if not wanted(m):
                if new_userns and m.source and (m.type == "bind" or "bind" in (m.options or ())
                                                or "rbind" in (m.options or ())):
                    rec = "rbind" in (m.options or ())
                    try:
                        premade[i] = keep(sysc.open_tree(-100, m.source, (
                            S.OPEN_TREE_CLONE | S.OPEN_TREE_CLOEXEC
                            | (S.AT_RECURSIVE if rec else 0))))
                    except OSError:
                        pass        # the init reports it, with its own error
                continue
            if m.type not in (None, "", "bind") and "bind" not in (m.options or ()) \
                    and "rbind" not in (m.options or ()):
                raise PyruncError("mount %s: idmapped mounts must be bind mounts"
                                  % m.destination)
            if not sysc.has_mount_setattr():
                raise PyruncError("mount %s: idmapped mounts need Linux 5.12 or later"
                                  % m.destination)
            uids, gids = _maps_for(m, config)
            key = (uids, gids)
            if key not in nsfds:
                nsfds[key] = _userns(sysc, m, config, uids, gids)
            opts = m.options or ()
            recursive_tree = "rbind" in opts or "ridmap" in opts
            flags = S.OPEN_TREE_CLONE | S.OPEN_TREE_CLOEXEC | (
                S.AT_RECURSIVE if recursive_tree else 0)
            try:
                tree = sysc.open_tree(-100, m.source, flags)
            except OSError as e:
                raise PyruncError("mount %s: source %s: %s" % (
                    m.destination, m.source, os.strerror(e.errno).lower())) from None
            premade[i] = keep(tree)
            try:
                sysc.mount_setattr(tree, "", S.AT_EMPTY_PATH | (
                    S.AT_RECURSIVE if "ridmap" in opts else 0),
                    attr_set=S.MOUNT_ATTR_IDMAP, userns_fd=nsfds[key])
            except OSError as e:
                raise PyruncError("mount %s: idmap: %s" % (
                    m.destination, os.strerror(e.errno).lower())) from None
    finally:
        for fd in nsfds.values():
            os.close(fd)


def _maps_for(m, config):
    """(uid maps, gid maps) as tuples of (containerID, hostID, size), or the
    join marker when the container joins a user namespace by path."""
    if m.uid_mappings or m.gid_mappings:
        return (tuple((x.container_id, x.host_id, x.size) for x in m.uid_mappings or ()),
                tuple((x.container_id, x.host_id, x.size) for x in m.gid_mappings or ()))
    lx = config.linux
    if lx is not None and lx.uid_mappings:
        return (tuple((x.container_id, x.host_id, x.size) for x in lx.uid_mappings),
                tuple((x.container_id, x.host_id, x.size) for x in lx.gid_mappings or ()))
    if lx is not None:
        for ns in lx.namespaces or ():
            if ns.type == "user" and ns.path:
                return ("join", ns.path), ()
    raise PyruncError("mount %s: idmap needs mappings: the mount's, or the container's "
                      "user namespace" % m.destination)


def _userns(sysc, m, config, uids, gids):
    """An fd of a user namespace with exactly these maps (or the one joined)."""
    if uids and uids[0] == "join":
        try:
            return os.open(uids[1], os.O_RDONLY | os.O_CLOEXEC)
        except OSError as e:
            raise PyruncError("mount %s: user namespace %s: %s" % (
                m.destination, uids[1], os.strerror(e.errno).lower())) from None
    r, w = os.pipe()
    hold_r, hold_w = os.pipe()
    pid = os.fork()
    if pid == 0:                    # a child that only holds the namespace
        try:
            os.close(r)
            os.close(hold_w)
            sysc.unshare(S.CLONE_NEWUSER)
            os.write(w, b"u")
            os.read(hold_r, 1)      # until the parent is done (EOF)
        finally:
            os._exit(0)
    os.close(hold_r)
    os.close(w)
    try:
        if os.read(r, 1) != b"u":
            raise PyruncError("mount %s: idmap: could not make a user namespace"
                              % m.destination)
        for name, maps in (("uid_map", uids), ("gid_map", gids)):
            if not maps:
                continue            # nothing maps: those ids show as overflow
            with open("/proc/%d/%s" % (pid, name), "w") as f:
                f.write("".join("%d %d %d\n" % x for x in maps))
        return os.open("/proc/%d/ns/user" % pid, os.O_RDONLY | os.O_CLOEXEC)
    except OSError as e:
        raise PyruncError("mount %s: idmap: %s" % (
            m.destination, os.strerror(e.errno).lower())) from None
    finally:
        os.close(r)
        os.close(hold_w)
        os.waitpid(pid, 0)
