"""linux.seccomp: compile() checked by running the BPF program it makes in a
small classic-BPF interpreter, and real containers under seccomp filters
(/bin/probe: `probe syscall NAME` prints OK or ERR <errno>)."""
import json
import os
import struct
import subprocess
import sys
import time

import pytest

from conftest import CONFIGS, unique_id
from pyrunc.config import model
from pyrunc.errors import ConfigError
from pyrunc.linux import seccomp

ALLOW = 0x7FFF0000
KILL_THREAD = 0x00000000
KILL_PROCESS = 0x80000000
TRAP = 0x00030000
LOG = 0x7FFC0000



def _no_flags():
    """A profile without "flags": SPEC_ALLOW where the kernel has it (runc)."""
    bit = seccomp.FLAGS["SECCOMP_FILTER_FLAG_SPEC_ALLOW"]
    return bit if "SECCOMP_FILTER_FLAG_SPEC_ALLOW" in seccomp.features()["supportedFlags"] \
        else 0


NO_FLAGS = _no_flags()

def ERRNO(e):
    return 0x00050000 | e


def TRACE(e):
    return 0x7FF00000 | e


def profile(syscalls=(), default="SCMP_ACT_ALLOW", **extra):
    d = {"defaultAction": default, "syscalls": list(syscalls)}
    d.update(extra)
    return d


def build(doc):
    return model.build_linux({"seccomp": doc}).seccomp


def compile_doc(doc):
    return seccomp.compile(build(doc))


# -- a classic BPF interpreter, enough for seccomp programs ------------------

def run_bpf(prog, nr, args=(), arch=None):
    """The SECCOMP_RET_* value the program returns for this syscall."""
    from pyrunc._seccomp import lib
    if arch is None:
        arch = lib.seccomp_arch_native()
    args = list(args) + [0] * (6 - len(args))
    data = struct.pack("<iIQ6Q", nr, arch, 0, *args)
    insns = [struct.unpack_from("<HBBI", prog, i) for i in range(0, len(prog), 8)]
    a = x = 0
    mem = [0] * 16
    pc = 0
    m32 = 0xFFFFFFFF
    while True:
        code, jt, jf, k = insns[pc]
        pc += 1
        cls = code & 0x07
        if cls == 0x00:                         # LD
            mode = code & 0xE0
            assert code & 0x18 == 0, "only word loads"
            if mode == 0x20:
                a = struct.unpack_from("<I", data, k)[0]
            elif mode == 0x00:
                a = k
            elif mode == 0x60:
                a = mem[k]
            elif mode == 0x80:
                a = len(data)
            else:
                raise AssertionError("ld mode %#x" % mode)
        elif cls == 0x01:                       # LDX
            mode = code & 0xE0
            x = k if mode == 0x00 else mem[k] if mode == 0x60 else len(data)
        elif cls == 0x02:
            mem[k] = a
        elif cls == 0x03:
            mem[k] = x
        elif cls == 0x04:                       # ALU
            src = x if code & 0x08 else k
            op = code & 0xF0
            a = {0x00: lambda: a + src, 0x10: lambda: a - src, 0x20: lambda: a * src,
                 0x40: lambda: a | src, 0x50: lambda: a & src, 0x60: lambda: a << src,
                 0x70: lambda: a >> src, 0x80: lambda: -a, 0xA0: lambda: a ^ src}[op]() & m32
        elif cls == 0x05:                       # JMP
            op = code & 0xF0
            if op == 0x00:
                pc += k
                continue
            src = x if code & 0x08 else k
            cond = {0x10: a == src, 0x20: a > src, 0x30: a >= src, 0x40: bool(a & src)}[op]
            pc += jt if cond else jf
        elif cls == 0x06:                       # RET
            return a if code & 0x10 else k
        elif cls == 0x07:                       # MISC
            if code & 0xF8 == 0x00:
                x = a
            else:
                a = x
        else:
            raise AssertionError("opcode %#x" % code)


def nr(name, arch=None):
    from pyrunc._seccomp import lib
    if arch is None:
        return lib.seccomp_syscall_resolve_name(name.encode())
    return lib.seccomp_syscall_resolve_name_arch(arch, name.encode())


# -- compile(): actions, errno, defaults -------------------------------------

@pytest.mark.parametrize("errno_ret,expect", [(None, 1), (1, 1), (38, 38), (0, 0)])
def test_errno_rule(errno_ret, expect):
    rule = {"names": ["getcwd"], "action": "SCMP_ACT_ERRNO"}
    if errno_ret is not None:
        rule["errnoRet"] = errno_ret
    prog, flags = compile_doc(profile([rule]))
    assert flags == NO_FLAGS
    assert len(prog) % 8 == 0
    assert run_bpf(prog, nr("getcwd")) == ERRNO(expect)
    assert run_bpf(prog, nr("getpid")) == ALLOW


@pytest.mark.parametrize("action,value", [
    ("SCMP_ACT_KILL", KILL_THREAD), ("SCMP_ACT_KILL_THREAD", KILL_THREAD),
    ("SCMP_ACT_KILL_PROCESS", KILL_PROCESS), ("SCMP_ACT_TRAP", TRAP),
    ("SCMP_ACT_LOG", LOG), ("SCMP_ACT_TRACE", TRACE(1)),
])
def test_actions(action, value):
    prog, _ = compile_doc(profile([{"names": ["getcwd"], "action": action}]))
    assert run_bpf(prog, nr("getcwd")) == value
    assert run_bpf(prog, nr("getpid")) == ALLOW


def test_trace_errno_ret():
    prog, _ = compile_doc(profile([{"names": ["getcwd"], "action": "SCMP_ACT_TRACE",
                                    "errnoRet": 7}]))
    assert run_bpf(prog, nr("getcwd")) == TRACE(7)


def test_errno_default_with_allow_list():
    prog, _ = compile_doc(profile([{"names": ["getpid", "read", "uname"],
                                    "action": "SCMP_ACT_ALLOW"}],
                                  default="SCMP_ACT_ERRNO"))
    assert run_bpf(prog, nr("getpid")) == ALLOW
    assert run_bpf(prog, nr("read")) == ALLOW
    assert run_bpf(prog, nr("close")) == ERRNO(1)        # older than uname: denied
    # newer than every syscall the profile names: ENOSYS, so that libc falls
    # back as on an older kernel (runc; seccomp.bats "-ENOSYS handling")
    assert nr("getcwd") > nr("uname")
    assert run_bpf(prog, nr("getcwd")) == ERRNO(38)
    assert run_bpf(prog, 999) == ERRNO(38)
    prog, _ = compile_doc(profile([{"names": ["mount"], "action": "SCMP_ACT_ERRNO"}],
                                  default="SCMP_ACT_ALLOW"))
    assert run_bpf(prog, 999) == ALLOW                 # a default that allows: no stub
    prog, _ = compile_doc(profile([{"names": ["getpid"], "action": "SCMP_ACT_ALLOW"}],
                                  default="SCMP_ACT_ERRNO", defaultErrnoRet=38))
    assert run_bpf(prog, nr("getcwd")) == ERRNO(38)
    assert run_bpf(prog, nr("getpid")) == ALLOW


def test_unknown_syscall_names_are_skipped():
    prog, _ = compile_doc(profile([
        {"names": ["no_such_syscall_x", "getcwd", "nor_this_one"], "action": "SCMP_ACT_ERRNO"},
        {"names": ["only_unknown_here"], "action": "SCMP_ACT_KILL"},
    ]))
    assert run_bpf(prog, nr("getcwd")) == ERRNO(1)
    assert run_bpf(prog, nr("getpid")) == ALLOW


def test_rule_with_the_default_action_is_dropped():
    prog, _ = compile_doc(profile([{"names": ["getcwd"], "action": "SCMP_ACT_ALLOW"},
                                   {"names": ["getpid"], "action": "SCMP_ACT_ERRNO"}]))
    assert run_bpf(prog, nr("getcwd")) == ALLOW
    assert run_bpf(prog, nr("getpid")) == ERRNO(1)
    # same action but another errno is a real rule
    prog, _ = compile_doc(profile([{"names": ["getcwd"], "action": "SCMP_ACT_ERRNO",
                                    "errnoRet": 1}],
                                  default="SCMP_ACT_ERRNO", defaultErrnoRet=38))
    assert run_bpf(prog, nr("getcwd")) == ERRNO(1)
    assert run_bpf(prog, nr("getpid")) == ERRNO(38)


# -- argument conditions -----------------------------------------------------

@pytest.mark.parametrize("op,value,two,hits,misses", [
    ("SCMP_CMP_NE", 5, 0, [4, 6, 1 << 40], [5]),
    ("SCMP_CMP_LT", 5, 0, [0, 4], [5, 6, 1 << 40]),
    ("SCMP_CMP_LE", 5, 0, [0, 5], [6, 1 << 40]),
    ("SCMP_CMP_EQ", 5, 0, [5], [4, 6, 5 | 1 << 32]),
    ("SCMP_CMP_GE", 5, 0, [5, 6, 1 << 40], [0, 4]),
    ("SCMP_CMP_GT", 5, 0, [6, 1 << 40], [0, 5]),
    ("SCMP_CMP_MASKED_EQ", 0o777, 0o755, [0o755, 0o40755], [0o700, 0o777]),
    ("SCMP_CMP_EQ", 0xFFFFFFFF, 0, [0xFFFFFFFF], [0, 0xFFFFFFFFFFFFFFFF]),
    ("SCMP_CMP_GT", 1 << 40, 0, [(1 << 40) + 1, 1 << 63], [1 << 40, 5]),
])
def test_operators(op, value, two, hits, misses):
    arg = {"index": 1, "value": value, "op": op}
    if two:
        arg["valueTwo"] = two
    prog, _ = compile_doc(profile([{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO",
                                    "args": [arg]}]))
    for v in hits:
        assert run_bpf(prog, nr("mkdir"), [0x1000, v]) == ERRNO(1), (op, v)
    for v in misses:
        assert run_bpf(prog, nr("mkdir"), [0x1000, v]) == ALLOW, (op, v)


def test_personality_only_with_the_named_argument():
    prog, _ = compile_doc(profile([{"names": ["personality"], "action": "SCMP_ACT_ERRNO",
                                    "args": [{"index": 0, "value": 0xFFFFFFFF,
                                              "op": "SCMP_CMP_EQ"}]}]))
    assert run_bpf(prog, nr("personality"), [0xFFFFFFFF]) == ERRNO(1)
    assert run_bpf(prog, nr("personality"), [0]) == ALLOW
    assert run_bpf(prog, nr("personality"), [8]) == ALLOW


def test_args_of_one_rule_are_anded():
    prog, _ = compile_doc(profile([{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "args": [
        {"index": 0, "value": 0, "op": "SCMP_CMP_NE"},
        {"index": 1, "value": 0o777, "valueTwo": 0o755, "op": "SCMP_CMP_MASKED_EQ"}]}]))
    assert run_bpf(prog, nr("mkdir"), [0x1000, 0o755]) == ERRNO(1)
    assert run_bpf(prog, nr("mkdir"), [0, 0o755]) == ALLOW
    assert run_bpf(prog, nr("mkdir"), [0x1000, 0o700]) == ALLOW


def test_same_argument_twice_is_ored_like_runc():
    # libseccomp cannot AND two comparisons of one argument; runc adds one
    # rule per condition, and so do we
    prog, _ = compile_doc(profile([{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "args": [
        {"index": 1, "value": 0o700, "op": "SCMP_CMP_EQ"},
        {"index": 1, "value": 0o755, "op": "SCMP_CMP_EQ"}]}]))
    assert run_bpf(prog, nr("mkdir"), [1, 0o700]) == ERRNO(1)
    assert run_bpf(prog, nr("mkdir"), [1, 0o755]) == ERRNO(1)
    assert run_bpf(prog, nr("mkdir"), [1, 0o777]) == ALLOW


def test_several_rules_for_one_syscall_are_ored():
    rules = [{"names": ["personality"], "action": "SCMP_ACT_ALLOW",
              "args": [{"index": 0, "value": v, "op": "SCMP_CMP_EQ"}]} for v in (0, 8)]
    prog, _ = compile_doc(profile(rules, default="SCMP_ACT_ERRNO"))
    assert run_bpf(prog, nr("personality"), [0]) == ALLOW
    assert run_bpf(prog, nr("personality"), [8]) == ALLOW
    assert run_bpf(prog, nr("personality"), [9]) == ERRNO(1)


# -- architectures -----------------------------------------------------------

def test_native_arch_always_present():
    from pyrunc._seccomp import lib
    native = lib.seccomp_arch_native()
    other = "SCMP_ARCH_AARCH64" if native != 0xC00000B7 else "SCMP_ARCH_X86_64"
    prog, _ = compile_doc(profile([{"names": ["getcwd"], "action": "SCMP_ACT_ERRNO"}],
                                  architectures=[other]))
    assert run_bpf(prog, nr("getcwd")) == ERRNO(1)
    assert run_bpf(prog, nr("getpid")) == ALLOW
    # an arch not in the filter is killed (libseccomp's bad-arch action)
    assert run_bpf(prog, 0, arch=0x12345) == KILL_THREAD


@pytest.mark.skipif(os.uname().machine != "x86_64", reason="x86 family only")
def test_x86_compat_arch_rules():
    i386 = 0x40000003
    doc = profile([{"names": ["getcwd"], "action": "SCMP_ACT_ERRNO"}],
                  architectures=["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"])
    prog, _ = compile_doc(doc)
    assert run_bpf(prog, nr("getcwd", i386), arch=i386) == ERRNO(1)
    assert run_bpf(prog, nr("getpid", i386), arch=i386) == ALLOW
    assert run_bpf(prog, nr("getcwd")) == ERRNO(1)
    # without SCMP_ARCH_X86, 32-bit syscalls are a bad arch
    prog, _ = compile_doc(profile([{"names": ["getcwd"], "action": "SCMP_ACT_ERRNO"}]))
    assert run_bpf(prog, nr("getpid", i386), arch=i386) == KILL_THREAD


# -- flags -------------------------------------------------------------------

@pytest.mark.parametrize("names,bits", [
    ([], 0),
    (["SECCOMP_FILTER_FLAG_TSYNC"], 0),     # accepted; meaningless for the helper (runc)
    (["SECCOMP_FILTER_FLAG_LOG"], 2),
    (["SECCOMP_FILTER_FLAG_SPEC_ALLOW"], 4),
    (["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW"], 6),
    (["SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG",
      "SECCOMP_FILTER_FLAG_SPEC_ALLOW"], 6),
])
def test_flags(names, bits):
    if not set(names) <= set(seccomp.features()["supportedFlags"]):
        pytest.skip("kernel lacks one of %s" % names)
    _, flags = compile_doc(profile(flags=names))
    assert flags == bits


def test_wait_killable_recv_is_checked_and_needs_no_listener():
    doc = profile(flags=["SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"])
    if "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV" in seccomp.features()["supportedFlags"]:
        _, flags = compile_doc(doc)
        assert flags == 0       # only meaningful with a notify listener
    else:
        with pytest.raises(ConfigError, match="not supported by this kernel"):
            compile_doc(doc)


# -- errors ------------------------------------------------------------------

def _rules(n, bad):
    return [{"names": ["getpid"], "action": "SCMP_ACT_LOG"}] * n + [bad]


@pytest.mark.parametrize("doc,msg", [
    (profile(_rules(3, {"names": ["getcwd"], "action": "SCMP_ACT_FOO"})),
     'config.json: /linux/seccomp/syscalls/3/action: unknown action "SCMP_ACT_FOO"'),
    (profile(default="SCMP_ACT_BAR"),
     'config.json: /linux/seccomp/defaultAction: unknown action "SCMP_ACT_BAR"'),
    (profile(architectures=["SCMP_ARCH_X86_64", "SCMP_ARCH_VAX"]),
     'config.json: /linux/seccomp/architectures/1: unknown architecture "SCMP_ARCH_VAX"'),
    (profile(_rules(1, {"names": ["mkdir"], "action": "SCMP_ACT_ERRNO",
                        "args": [{"index": 1, "value": 1, "op": "SCMP_CMP_EQ"},
                                 {"index": 0, "value": 1, "op": "SCMP_CMP_XX"}]})),
     'config.json: /linux/seccomp/syscalls/1/args/1/op: unknown operator "SCMP_CMP_XX"'),
    (profile(_rules(0, {"names": ["mkdir"], "action": "SCMP_ACT_ERRNO",
                        "args": [{"index": 6, "value": 1, "op": "SCMP_CMP_EQ"}]})),
     "config.json: /linux/seccomp/syscalls/0/args/0/index: 6 is out of range 0..5"),
    (profile(_rules(2, {"names": ["getcwd"], "action": "SCMP_ACT_ALLOW", "errnoRet": 1}),
             default="SCMP_ACT_ERRNO"),
     "config.json: /linux/seccomp/syscalls/2/errnoRet: action SCMP_ACT_ALLOW does not "
     "take an errno"),
    (profile(defaultErrnoRet=1),
     "config.json: /linux/seccomp/defaultErrnoRet: action SCMP_ACT_ALLOW does not take "
     "an errno"),
    (profile(_rules(0, {"names": ["getcwd"], "action": "SCMP_ACT_ERRNO", "errnoRet": 70000})),
     "config.json: /linux/seccomp/syscalls/0/errnoRet: 70000 is out of range 0..65535"),
    (profile(flags=["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_BOGUS"]),
     'config.json: /linux/seccomp/flags/1: unknown flag "SECCOMP_FILTER_FLAG_BOGUS"'),
    (profile(_rules(1, {"names": ["getcwd"], "action": "SCMP_ACT_NOTIFY"})),
     "config.json: /linux/seccomp/listenerPath: SCMP_ACT_NOTIFY needs a listenerPath"),
    (profile(_rules(1, {"names": ["write"], "action": "SCMP_ACT_NOTIFY"}),
             listenerPath="/run/agent.sock"),
     "config.json: /linux/seccomp/syscalls/1: SCMP_ACT_NOTIFY cannot be used for the write "
     "syscall (the runtime needs it before the agent has the notify fd)"),
])
def test_config_errors(doc, msg):
    with pytest.raises(ConfigError) as e:
        compile_doc(doc)
    assert str(e.value) == msg


def test_unsupported_libseccomp_arch_is_an_error():
    from pyrunc._seccomp import lib
    if lib.seccomp_arch_resolve_name(b"loongarch64"):
        pytest.skip("this libseccomp knows loongarch64")
    with pytest.raises(ConfigError, match=r"architectures/0: architecture "
                                          r"SCMP_ARCH_LOONGARCH64 is not supported"):
        compile_doc(profile(architectures=["SCMP_ARCH_LOONGARCH64"]))


def test_create_refuses_bad_profile_before_anything(rt, make_bundle):
    def edit(cfg):
        cfg["linux"]["seccomp"] = profile([{"names": ["getcwd"], "action": "SCMP_ACT_NOTIFY"}],
                                          listenerPath="/run/x.sock")
    b = make_bundle(["true"], edit=edit, rootfs_copy=False)
    r = rt.cmd("run", "--bundle", b, unique_id())
    assert r.returncode != 0
    assert "seccomp listenerPath /run/x.sock: no such file or directory" in r.stderr
    assert rt.ids() == []


# -- docker's profile, features, import cost ---------------------------------

def docker_seccomp():
    path = CONFIGS / "docker-run-config.json"
    return json.loads(path.read_text())["linux"]["seccomp"]


def test_docker_profile_compiles():
    doc = docker_seccomp()
    t = time.perf_counter()
    prog, flags = compile_doc(doc)
    took = time.perf_counter() - t
    assert flags == NO_FLAGS
    assert 0 < len(prog) // 8 <= 4096
    assert took < 0.5
    assert run_bpf(prog, nr("getcwd")) == ALLOW
    assert run_bpf(prog, nr("personality"), [0xFFFFFFFF]) == ALLOW
    assert run_bpf(prog, nr("personality"), [0x1234]) == ERRNO(1)
    assert run_bpf(prog, nr("clone3")) == ERRNO(38)
    assert run_bpf(prog, nr("mount")) == ERRNO(1)        # not in the list: default
    assert run_bpf(prog, 1000) == ERRNO(38)             # newer than the profile


def test_features():
    f = seccomp.features()
    assert f["enabled"] is True
    assert "SCMP_ACT_NOTIFY" in f["actions"]
    assert {"SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL"} <= set(f["actions"])
    assert f["operators"] == ["SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_LE",
                              "SCMP_CMP_LT", "SCMP_CMP_MASKED_EQ", "SCMP_CMP_NE"]
    assert f["actions"] == sorted(f["actions"])
    if os.uname().machine == "x86_64":
        assert {"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"} <= set(f["archs"])
    assert set(f["supportedFlags"]) <= set(f["knownFlags"])
    assert len(f["knownFlags"]) == 4
    for a in f["actions"]:      # everything listed really compiles
        extra = {"listenerPath": "/run/agent.sock"} if a == "SCMP_ACT_NOTIFY" else {}
        doc = profile([{"names": ["getcwd"], "action": a}], default="SCMP_ACT_ALLOW", **extra) \
            if a != "SCMP_ACT_ALLOW" else profile(default=a)
        compile_doc(doc)


def test_import_is_cheap_and_lazy():
    code = ("import sys, time; t = time.perf_counter(); import pyrunc.linux.seccomp; "
            "print(time.perf_counter() - t, 'pyrunc._seccomp' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", "import pyrunc.errors; " + code],
                         capture_output=True, text=True, check=True).stdout.split()
    assert out[1] == "False"
    assert float(out[0]) < 0.05


# -- real containers ---------------------------------------------------------

def bundle_with(make_bundle, seccomp_doc, args, nnp=True, core0=False, copy=False):
    def edit(cfg):
        cfg["linux"]["seccomp"] = seccomp_doc
        cfg["process"]["noNewPrivileges"] = nnp
        if copy:
            cfg["root"]["readonly"] = False
        if core0:
            cfg["process"].setdefault("rlimits", []).append(
                {"type": "RLIMIT_CORE", "hard": 0, "soft": 0})
    return make_bundle(args, edit=edit, rootfs_copy=copy)


def run_out(rt, b):
    r = rt.cmd("run", "--bundle", b, unique_id())
    return r.returncode, r.stdout.split("\n")[:-1], r.stderr


@pytest.mark.parametrize("nnp", [False, True])
@pytest.mark.parametrize("errno_ret,expect", [(None, "ERR 1"), (1, "ERR 1"), (5, "ERR 5")])
def test_container_errno_rule(rt, make_bundle, nnp, errno_ret, expect):
    rule = {"names": ["getcwd"], "action": "SCMP_ACT_ERRNO"}
    if errno_ret is not None:
        rule["errnoRet"] = errno_ret
    b = bundle_with(make_bundle, profile([rule]),
                    ["sh", "-c", "probe syscall getcwd; probe syscall getpid; probe status"],
                    nnp=nnp)
    rc, out, err = run_out(rt, b)
    assert rc == 0, err
    assert out[:2] == [expect, "OK"], err
    assert "Seccomp:\t2" in out
    assert ("NoNewPrivs:\t1" if nnp else "NoNewPrivs:\t0") in out


# what the helper (after the filter when noNewPrivileges is false), busybox sh
# and the static probe need
ALLOW_LIST = [
    "execve", "brk", "arch_prctl", "set_tid_address", "set_robust_list", "rseq",
    "prlimit64", "mprotect", "getrandom", "readlink", "readlinkat", "uname", "mmap",
    "munmap", "read", "write", "writev", "close", "openat", "open", "newfstatat", "fstat",
    "stat", "lstat", "statx", "lseek", "ioctl", "fcntl", "dup2", "dup3", "rt_sigaction",
    "rt_sigprocmask", "rt_sigreturn", "sigaltstack", "clone", "clone3", "fork", "vfork",
    "wait4", "exit", "exit_group", "getpid", "getppid", "getuid", "geteuid", "getgid",
    "getegid", "gettid", "futex", "prctl", "capget", "capset", "setgroups", "setresuid",
    "setresgid", "close_range", "access", "faccessat", "faccessat2", "getdents64",
]


@pytest.mark.parametrize("nnp", [False, True])
def test_container_errno_default_with_allow_list(rt, make_bundle, nnp):
    doc = profile([{"names": ALLOW_LIST, "action": "SCMP_ACT_ALLOW"}],
                  default="SCMP_ACT_ERRNO")
    b = bundle_with(make_bundle, doc, ["sh", "-c", "probe syscall getpid; probe syscall getcwd;"
                                       " probe syscall chdir"], nnp=nnp)
    rc, out, err = run_out(rt, b)
    assert rc == 0, err
    assert out == ["OK", "ERR 1", "ERR 1"], err


OPS = [   # (op, value, valueTwo) matching getcwd's size 4096, then not matching mkdir's 0755
    ("SCMP_CMP_NE", 4095, None, 0o755, None),
    ("SCMP_CMP_LT", 4097, None, 0o755, None),
    ("SCMP_CMP_LE", 4096, None, 0o754, None),
    ("SCMP_CMP_EQ", 4096, None, 0o754, None),
    ("SCMP_CMP_GE", 4096, None, 0o756, None),
    ("SCMP_CMP_GT", 4095, None, 0o755, None),
    ("SCMP_CMP_MASKED_EQ", 0xF000, 0x1000, 0o777, 0o700),
]


def _arg(index, op, value, two):
    a = {"index": index, "value": value, "op": op}
    if two is not None:
        a["valueTwo"] = two
    return a


@pytest.mark.parametrize("op,hit,hit2,miss,miss2", OPS, ids=[o[0] for o in OPS])
def test_container_argument_conditions(rt, make_bundle, op, hit, hit2, miss, miss2):
    doc = profile([
        {"names": ["getcwd"], "action": "SCMP_ACT_ERRNO", "args": [_arg(1, op, hit, hit2)]},
        {"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "args": [_arg(1, op, miss, miss2)]},
        {"names": ["mkdirat"], "action": "SCMP_ACT_ERRNO", "args": [_arg(2, op, miss, miss2)]},
    ])
    b = bundle_with(make_bundle, doc, ["sh", "-c", "probe syscall getcwd; probe syscall mkdir"
                                       " /tmp/d1; probe syscall getpid"], copy=True)
    rc, out, err = run_out(rt, b)
    assert rc == 0, err
    assert out == ["ERR 1", "OK", "OK"], err


def test_container_mkdir_mode_masked_eq_and(rt, make_bundle):
    # block mkdir only with mode 0755 and a non-NULL path; busybox mkdir uses 0777
    cond = [_arg(0, "SCMP_CMP_NE", 0, None), _arg(1, "SCMP_CMP_MASKED_EQ", 0o777, 0o755)]
    doc = profile([{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13,
                    "args": cond},
                   {"names": ["mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13,
                    "args": [_arg(1, "SCMP_CMP_NE", 0, None),
                             _arg(2, "SCMP_CMP_MASKED_EQ", 0o777, 0o755)]},
                   # AND: the second condition fails, so getcwd is never blocked
                   {"names": ["getcwd"], "action": "SCMP_ACT_ERRNO",
                    "args": [_arg(0, "SCMP_CMP_NE", 0, None), _arg(1, "SCMP_CMP_EQ", 1, None)]}])
    b = bundle_with(make_bundle, doc, ["sh", "-c", "probe syscall mkdir /tmp/a; "
                                       "mkdir /tmp/b && echo made; probe syscall getcwd"],
                    copy=True)
    rc, out, err = run_out(rt, b)
    assert rc == 0, err
    assert out == ["ERR 13", "made", "OK"], err


@pytest.mark.parametrize("action", ["SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL"])
def test_container_kill_is_sigsys(rt, make_bundle, action):
    doc = profile([{"names": ["getcwd"], "action": action}])
    b = bundle_with(make_bundle, doc, ["probe", "syscall", "getcwd"], core0=True)
    rc, out, err = run_out(rt, b)
    assert rc == 128 + 31, (rc, out, err)
    assert out == []


def test_container_log_allows(rt, make_bundle):
    doc = profile([{"names": ["getcwd"], "action": "SCMP_ACT_LOG"}])
    b = bundle_with(make_bundle, doc, ["probe", "syscall", "getcwd"])
    rc, out, err = run_out(rt, b)
    assert (rc, out) == (0, ["OK"]), err


def test_container_flags_reach_the_kernel(rt, make_bundle):
    names = [n for n in ("SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG",
                         "SECCOMP_FILTER_FLAG_SPEC_ALLOW")
             if n in seccomp.features()["supportedFlags"]]
    doc = profile([{"names": ["getcwd"], "action": "SCMP_ACT_ERRNO"}], flags=names)
    b = bundle_with(make_bundle, doc, ["sh", "-c", "probe syscall getcwd; probe status"])
    rc, out, err = run_out(rt, b)
    assert rc == 0, err
    assert out[0] == "ERR 1" and "Seccomp:\t2" in out, err


def test_container_exec_gets_the_filter(rt, make_bundle):
    doc = profile([{"names": ["getcwd"], "action": "SCMP_ACT_ERRNO", "errnoRet": 22}])
    b = bundle_with(make_bundle, doc, ["sleep", "30"])
    cid = unique_id()
    rt.ok("run", "-d", "--bundle", b, cid)
    try:
        r = rt.ok("exec", cid, "probe", "syscall", "getcwd")
        assert r.stdout == "ERR 22\n"
        r = rt.ok("exec", cid, "probe", "status")
        assert "Seccomp:\t2" in r.stdout
    finally:
        rt.cmd("delete", "--force", cid)


@pytest.mark.parametrize("nnp", [False, True])
def test_container_docker_profile(rt, make_bundle, nnp):
    b = bundle_with(make_bundle, docker_seccomp(),
                    ["sh", "-c", "echo hi; ls / >/dev/null && echo ls; probe syscall getcwd; "
                     "probe status | grep Seccomp"], nnp=nnp)
    rc, out, err = run_out(rt, b)
    assert rc == 0, err
    assert out == ["hi", "ls", "OK", "Seccomp:\t2"], err


def test_syscalls_newer_than_the_profile_get_enosys_in_a_container(rt, make_bundle):
    """docker's profile (default ERRNO): a number above every syscall it
    names gets ENOSYS, one it does not allow below that EPERM (runc's
    seccomp.bats "-ENOSYS handling")."""
    doc = docker_seccomp()
    b = bundle_with(make_bundle, doc, ["sh", "-c", "probe syscall 1000; probe syscall %d"
                                       % nr("kexec_load")], core0=True)
    rc, out, err = run_out(rt, b)
    assert rc == 0, err
    assert out == ["ERR 38", "ERR 1"]


# -- the cache of compiled programs (pyrunc/cache.py) -----------------------

@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    d = tmp_path / "cache"
    monkeypatch.setenv("PYRUNC_CACHE_DIR", str(d))
    return d


def test_cached_program_is_the_compiled_one(cache_dir):
    doc = docker_seccomp()
    plain = seccomp.compile(build(doc))
    first = seccomp.compile(build(doc), cache=True)       # a miss: compiled, stored
    assert first == plain
    (entry,) = os.listdir(cache_dir)
    assert entry.startswith("seccomp-")
    assert os.stat(cache_dir).st_mode & 0o777 == 0o700
    assert os.stat(cache_dir / entry).st_mode & 0o777 == 0o600
    again = seccomp.compile(build(doc), cache=True)       # a hit
    assert again == plain and os.listdir(cache_dir) == [entry]


def _poison(cache_dir):
    """Replace the one entry's program with ALLOW-everything, same key."""
    from pyrunc import cache
    (entry,) = os.listdir(cache_dir)
    data = (cache_dir / entry).read_bytes()
    i = data.index(b"\n", len(cache._MAGIC))
    n = int(data[len(cache._MAGIC):i])
    allow = struct.pack("=HBBI", 0x06, 0, 0, ALLOW)
    (cache_dir / entry).write_bytes(data[:i + 1 + n] + struct.pack("=I", 0) + allow)
    return entry


def test_cache_hit_is_used_and_keyed_by_the_whole_profile(cache_dir):
    doc = profile([{"names": ["getcwd"], "action": "SCMP_ACT_ERRNO", "errnoRet": 5}])
    prog, _flags = seccomp.compile(build(doc), cache=True)
    assert run_bpf(prog, nr("getcwd")) == ERRNO(5)
    _poison(cache_dir)
    # the stored entry is what a hit returns (the proof it is read)...
    prog, flags = seccomp.compile(build(doc), cache=True)
    assert run_bpf(prog, nr("getcwd")) == ALLOW and flags == 0
    # ...and any other profile, down to one errno, is a miss
    doc["syscalls"][0]["errnoRet"] = 6
    prog, _flags = seccomp.compile(build(doc), cache=True)
    assert run_bpf(prog, nr("getcwd")) == ERRNO(6)


def test_cache_entry_not_ours_alone_is_not_used(cache_dir):
    doc = profile([{"names": ["getcwd"], "action": "SCMP_ACT_ERRNO"}])
    seccomp.compile(build(doc), cache=True)
    for mode, owner in ((0o620, 0), (0o602, 0), (0o600, 65534)):
        entry = _poison(cache_dir)
        os.chmod(cache_dir / entry, mode)
        os.chown(cache_dir / entry, owner, owner)
        got, _flags = seccomp.compile(build(doc), cache=True)
        assert run_bpf(got, nr("getcwd")) == ERRNO(1), (mode, owner)
        # the miss stored the program again, ours and 0600
        st = os.stat(cache_dir / entry)
        assert (st.st_uid, st.st_mode & 0o777) == (os.geteuid(), 0o600)
    # a symlinked entry is not followed
    entry = _poison(cache_dir)
    target = cache_dir.parent / "elsewhere"
    os.rename(cache_dir / entry, target)
    os.symlink(target, cache_dir / entry)
    got, _flags = seccomp.compile(build(doc), cache=True)
    assert run_bpf(got, nr("getcwd")) == ERRNO(1)
    # nor is a directory others can write to
    entry = _poison(cache_dir)
    os.chmod(cache_dir, 0o777)
    got, _flags = seccomp.compile(build(doc), cache=True)
    assert run_bpf(got, nr("getcwd")) == ERRNO(1)


def test_cache_name_collision_or_damage_is_a_miss(cache_dir):
    from pyrunc import cache
    cache.put("seccomp", b"key one", b"\0" * 12)
    assert cache.get("seccomp", b"key one") == b"\0" * 12
    name = cache._name("seccomp", b"key one")
    # another key's text in the file of this name: not this key's value
    data = (cache_dir / name).read_bytes()
    (cache_dir / name).write_bytes(data.replace(b"key one", b"key two"))
    assert cache.get("seccomp", b"key one") is None
    (cache_dir / name).write_bytes(data[:len(cache._MAGIC) + 3])         # truncated
    assert cache.get("seccomp", b"key one") is None


def test_cache_dir_is_made_with_its_parents(tmp_path, monkeypatch):
    # a user's first container: ~/.cache may not exist yet
    from pyrunc import cache
    d = tmp_path / "home" / ".cache" / "pyrunc"
    monkeypatch.setenv("PYRUNC_CACHE_DIR", str(d))
    cache.put("t", b"k", b"v")
    assert cache.get("t", b"k") == b"v"
    assert os.stat(d).st_mode & 0o777 == 0o700


def test_cache_names_without_the_3_11_sha256_module(monkeypatch):
    # Python 3.12 renamed _sha256 (to _sha2): the same names either way
    import builtins
    from pyrunc import cache
    want = cache._name("seccomp", b"key")
    real = builtins.__import__

    def no_sha256(name, *a, **kw):
        if name == "_sha256":
            raise ImportError(name)
        return real(name, *a, **kw)
    monkeypatch.setattr(builtins, "__import__", no_sha256)
    assert cache._name("seccomp", b"key") == want


def test_cache_keeps_at_most_max_entries(cache_dir):
    from pyrunc import cache
    for i in range(cache.MAX_ENTRIES + 5):
        cache.put("t", b"k%d" % i, b"v")
        os.utime(cache_dir / cache._name("t", b"k%d" % i), ns=(i * 10**9, i * 10**9))
    names = os.listdir(cache_dir)
    assert len(names) == cache.MAX_ENTRIES
    assert cache._name("t", b"k0") not in names
    assert cache.get("t", b"k%d" % (cache.MAX_ENTRIES + 4)) == b"v"


def test_cache_off_when_dir_is_empty(monkeypatch, tmp_path):
    from pyrunc import cache
    monkeypatch.setenv("PYRUNC_CACHE_DIR", "")
    cache.put("t", b"k", b"v")
    assert cache.get("t", b"k") is None
    monkeypatch.delenv("PYRUNC_CACHE_DIR")
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    assert cache.directory() == ("/var/cache/pyrunc" if os.geteuid() == 0
                                 else str(tmp_path / ".cache" / "pyrunc"))
    # root in a user namespace (rootless podman's runtime) is its user
    import pyrunc.linux
    monkeypatch.setattr(pyrunc.linux, "in_userns", lambda: True)
    assert cache.directory() == str(tmp_path / ".cache" / "pyrunc")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache.directory() == str(tmp_path / "xdg" / "pyrunc")


def test_container_filter_from_the_cache(rt, make_bundle, cache_dir):
    """The second container's filter comes from the cache, and it is the
    profile's: the denied syscall fails the same way in both."""
    doc = profile([{"names": ["getcwd"], "action": "SCMP_ACT_ERRNO", "errnoRet": 5}])
    b = bundle_with(make_bundle, doc, ["sh", "-c", "probe syscall getcwd; probe syscall getpid"])
    env = dict(os.environ, PYRUNC_CACHE_DIR=str(cache_dir))
    for _ in range(2):
        r = rt.cmd("run", "--bundle", b, unique_id(), env=env)
        assert r.returncode == 0, r.stderr
        assert r.stdout.split("\n")[:2] == ["ERR 5", "OK"]
    assert len(os.listdir(cache_dir)) == 1
    # a poisoned entry would show: the third container runs what it holds
    _poison(cache_dir)
    r = rt.cmd("run", "--bundle", b, unique_id(), env=env)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split("\n")[:2] == ["OK", "OK"]
