SYNOPSIS = "[command options] [container-id]"
DESCRIPTION = ("Show everything `create` would do for a bundle, in order, without doing "
               "any of it: namespaces, id maps, the cgroup driver's files and values, "
               "mounts as resolved in the rootfs (and the ones that would fail), devices, "
               "sysctls, rlimits, capabilities, the seccomp filter, hooks and the process. "
               "Nothing on the host changes. Exit status 1 if create would fail.")
FLAGS = (
    (("--bundle", "-b"), "str", "bundle", "path to the bundle directory (default: cwd)"),
    (("--format", "-f"), "str", "format", "text (default) or json"),
)
NARGS = (0, 1)


def run(ctx, opts, args):
    import sys
    from pyrunc.errors import UsageError
    from pyrunc.api import Runtime
    fmt = opts["format"] or "text"
    if fmt not in ("text", "json"):
        raise UsageError("plan: invalid format %r (text or json)" % fmt)
    plan = Runtime.from_ctx(ctx).plan(opts["bundle"] or ".", args[0] if args else None)
    if fmt == "json":
        from pyrunc.fastjson import dumps
        sys.stdout.write(dumps(plan, indent="  ") + "\n")
    else:
        sys.stdout.write(text(plan))
    return 1 if plan["problems"] else 0


def text(plan):
    """The plan for people: one section per step, in create's order."""
    L = []
    w = L.append
    w("bundle %s%s" % (plan["bundle"], " (container %s)" % plan["id"] if plan["id"] else ""))
    if "rootfs" in plan:
        w("rootfs %s%s" % (plan["rootfs"], " (read-only at the end)"
                           if plan["rootReadonly"] else ""))
        w("\nnamespaces:")
        for n in plan["namespaces"]:
            w("  %-8s %s" % (n["type"], "join " + str(n["path"]) if n["action"] == "join"
                             else "new"))
        for k in ("uid", "gid"):
            for m in plan["idMappings"][k]:
                w("  %s map: %d -> host %d (%d ids)" % (k, m["containerID"], m["hostID"],
                                                     m["size"]))
        cg = plan["cgroup"]
        w("\ncgroup:")
        if cg:
            w("  driver %s%s" % (cg["driver"], ", unit %s in %s" % (cg["unit"], cg["slice"])
                                 if "unit" in cg else ""))
            for k, v in cg.get("properties", ()):
                w("  property %s=%s" % (k, v))
            for d in cg["mkdir"]:
                w("  mkdir %s" % d)
            for f, v in cg["writes"]:
                w("  write %s = %s" % (f, v.strip()))
            for x in cg["warnings"]:
                w("  warning: %s" % x)
        w("\nmounts:")
        for m in plan["mounts"]:
            flags = m["set"] + ["-" + x for x in m["clear"]] + ["r" + x for x in m["recursiveSet"]] \
                + ["-r" + x for x in m["recursiveClear"]] + m["propagation"]
            w("  %s %s%s on %s%s%s%s" % (
                m["type"] or "?", m["source"] or "-", " (recursive)" if m["recursive"] else "",
                m["destination"],
                " -> %s%s" % (m["target"], "" if m["targetExists"] else " (made)")
                if m.get("target") else "",
                " [%s]" % ",".join(flags) if flags else "",
                " data=%s" % m["data"] if m["data"] else ""))
            if m.get("fails"):
                w("    WOULD FAIL: %s" % m["fails"])
        for d in plan["devices"]:
            w("  device %s %s %s:%s mode %s uid %d gid %d (%s)" % (
                d["path"], d["type"], d["major"], d["minor"], d["fileMode"], d["uid"],
                d["gid"], d["how"]))
        if plan["rootfsPropagation"]:
            w("  rootfs propagation %s" % plan["rootfsPropagation"])
        for p in plan["maskedPaths"]:
            w("  mask %s" % p)
        for p in plan["readonlyPaths"]:
            w("  read-only %s" % p)
        if plan["hostname"] is not None or plan["domainname"] is not None:
            w("\nhostname %s, domainname %s" % (plan["hostname"] or "-", plan["domainname"] or "-"))
        if plan["sysctl"]:
            w("\nsysctl:")
            for k, v in plan["sysctl"].items():
                w("  %s = %s" % (k, v))
        if plan["rlimits"]:
            w("\nrlimits:")
            for r in plan["rlimits"]:
                w("  %s soft %d hard %d" % (r["type"], r["soft"], r["hard"]))
        caps = plan["capabilities"]
        if caps is not None:
            w("\ncapabilities:")
            for s in ("bounding", "effective", "inheritable", "permitted", "ambient"):
                w("  %-11s %s" % (s, " ".join(caps[s]) or "-"))
            if caps["notGranted"]:
                w("  not granted (the host lacks them): %s" % " ".join(caps["notGranted"]))
        sc = plan["seccomp"]
        if sc is not None:
            w("\nseccomp: default %s, %d rules, architectures %s, flags %s%s" % (
                sc["defaultAction"], len(sc["rules"]), ",".join(sc["architectures"]) or "native",
                ",".join(sc["flags"]) or "-",
                ", %d BPF instructions" % sc["instructions"] if "instructions" in sc else ""))
        if plan["hooks"]:
            w("\nhooks:")
            for h in plan["hooks"]:
                w("  %s: %s %s (timeout %s; %s)" % (h["kind"], h["path"], " ".join(h["args"][1:]),
                                                   h["timeout"] or "none", h["runs"]))
        pr = plan["process"]
        if pr is not None:
            u = pr["user"]
            w("\nprocess: %s" % " ".join(pr["args"]))
            w("  cwd %s, uid %d gid %d, groups %s%s%s" % (
                pr["cwd"], u["uid"], u["gid"], ",".join(map(str, u["additionalGids"])) or "-",
                ", terminal" if pr["terminal"] else "",
                ", no new privileges" if pr["noNewPrivileges"] else ""))
            for e in pr["env"]:
                w("  env %s" % e)
        for x in plan.get("warnings", ()):
            w("warning: %s" % x)
    if plan["problems"]:
        w("\nproblems (create would fail):")
        for p in plan["problems"]:
            w("  %s: %s" % (p["path"] or "/", p["error"]))
    return "\n".join(L) + "\n"
