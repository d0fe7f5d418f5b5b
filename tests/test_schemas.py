"""Tests for pyrunc's own JSON Schemas (schemas/*.schema.json).

The `jsonschema` library is the oracle here.  The schemas are later compiled
into plain Python by pyrunc's generator, which only understands a subset of
Draft 7, so the subset is checked too.
"""
import copy
import glob
import json
import re
from pathlib import Path

import jsonschema
import pytest

REPO = Path(__file__).resolve().parents[1]
SCHEMAS = REPO / "schemas"
# our own copies of what real callers and runc produced (tests/fixtures/callers/README.md)
CALLERS = REPO / "tests" / "fixtures" / "callers"

SCHEMA_NAMES = ["config", "state", "features"]


def load_schema(name):
    with open(SCHEMAS / ("%s.schema.json" % name)) as f:
        return json.load(f)


CONFIG = load_schema("config")
STATE = load_schema("state")
FEATURES = load_schema("features")


def definition_schema(name):
    """A schema that is config.schema.json's definitions/<name>, standing alone."""
    return {"definitions": CONFIG["definitions"], "$ref": "#/definitions/" + name}


CONFIG_V = jsonschema.Draft7Validator(CONFIG)
STATE_V = jsonschema.Draft7Validator(STATE)
FEATURES_V = jsonschema.Draft7Validator(FEATURES)
PROCESS_V = jsonschema.Draft7Validator(definition_schema("Process"))
RESOURCES_V = jsonschema.Draft7Validator(definition_schema("Resources"))


def errors(validator, instance):
    return sorted(e.message for e in validator.iter_errors(instance))


def load_json(path):
    with open(path) as f:
        return json.load(f)


# --------------------------------------------------------------------------
# The schemas themselves
# --------------------------------------------------------------------------

ALLOWED_KEYWORDS = {
    "$schema", "$id", "title", "description", "definitions", "$ref", "type",
    "properties", "required", "additionalProperties", "patternProperties",
    "items", "minItems", "maxItems", "uniqueItems", "enum", "const", "pattern",
    "minLength", "maxLength", "minimum", "maximum", "exclusiveMinimum",
    "oneOf", "anyOf", "allOf", "not",
}
JSON_TYPES = {"object", "array", "string", "integer", "number", "boolean", "null"}


def walk_schemas(schema, path="#"):
    """Yield (path, subschema) for every subschema of `schema`."""
    if not isinstance(schema, dict):
        raise AssertionError("%s: subschema is not an object: %r" % (path, schema))
    yield path, schema
    for key in ("properties", "patternProperties", "definitions"):
        for name, sub in schema.get(key, {}).items():
            yield from walk_schemas(sub, "%s/%s/%s" % (path, key, name))
    for key in ("additionalProperties", "items", "not"):
        if isinstance(schema.get(key), dict):
            yield from walk_schemas(schema[key], "%s/%s" % (path, key))
    for key in ("oneOf", "anyOf", "allOf"):
        for i, sub in enumerate(schema.get(key, [])):
            yield from walk_schemas(sub, "%s/%s/%d" % (path, key, i))


@pytest.mark.parametrize("name", SCHEMA_NAMES)
def test_schema_is_valid_draft7(name):
    schema = load_schema(name)
    assert schema["$schema"] == "http://json-schema.org/draft-07/schema#"
    jsonschema.Draft7Validator.check_schema(schema)


@pytest.mark.parametrize("name", SCHEMA_NAMES)
def test_schema_uses_only_the_supported_subset(name):
    schema = load_schema(name)
    defs = schema.get("definitions", {})
    for path, sub in walk_schemas(schema):
        unknown = set(sub) - ALLOWED_KEYWORDS
        assert not unknown, "%s uses unsupported keywords %s" % (path, unknown)
        if "$ref" in sub:
            ref = sub["$ref"]
            assert re.fullmatch(r"#/definitions/[A-Za-z0-9_]+", ref), (path, ref)
            assert ref.split("/")[-1] in defs, "%s: dangling $ref %s" % (path, ref)
            # Draft 7 ignores keywords beside $ref: none should be there.
            assert set(sub) == {"$ref"}, "%s: keywords beside $ref" % path
        if "type" in sub:
            types = sub["type"] if isinstance(sub["type"], list) else [sub["type"]]
            assert types and set(types) <= JSON_TYPES, (path, sub["type"])
        if "additionalProperties" in sub:
            assert isinstance(sub["additionalProperties"], dict), (
                "%s: additionalProperties must be a schema (maps only)" % path)
            assert "properties" not in sub, (
                "%s: additionalProperties on an object with named properties" % path)
        if "items" in sub:
            assert isinstance(sub["items"], dict), "%s: items must be one schema" % path
        if "required" in sub:
            assert isinstance(sub["required"], list) and sub["required"], path
            assert len(set(sub["required"])) == len(sub["required"]), path


@pytest.mark.parametrize("name", SCHEMA_NAMES)
def test_patterns_are_portable(name):
    """Patterns must compile in Python and avoid Python-only / ECMA-only syntax."""
    schema = load_schema(name)
    for path, sub in walk_schemas(schema):
        pats = []
        if "pattern" in sub:
            pats.append(sub["pattern"])
        pats.extend(sub.get("patternProperties", {}))
        for pat in pats:
            re.compile(pat)
            for bad in ("(?P", "(?<", "(?#", "\\A", "\\Z", "\\z", "(?i", "(?s",
                        "(?m", "(?x", "\\p{", "\\h"):
                assert bad not in pat, "%s: non-portable %r in %r" % (path, bad, pat)


def test_config_definition_names():
    expected = {
        "Root", "Mount", "IDMapping", "Process", "User", "ConsoleSize", "Rlimit",
        "Capabilities", "Scheduler", "IOPriority", "ExecCPUAffinity", "Hook",
        "Hooks", "Linux", "Namespace", "NamespaceType", "TimeOffsets", "Device",
        "NetDevice", "Resources", "DeviceCgroup", "Memory", "CPU", "Pids",
        "BlockIO", "WeightDevice", "ThrottleDevice", "HugepageLimit", "Network",
        "Rdma", "IntelRdt", "Seccomp", "SeccompSyscall", "SeccompArg",
        "Personality", "MemoryPolicy", "Annotations",
    }
    assert expected <= set(CONFIG["definitions"])


def test_no_closed_objects():
    """Extensibility: unknown properties are allowed on every named-property object."""
    for name in SCHEMA_NAMES:
        for path, sub in walk_schemas(load_schema(name)):
            assert sub.get("additionalProperties") is not False, path


# --------------------------------------------------------------------------
# Real callers' files (fixtures)
# --------------------------------------------------------------------------

def caller_files(pattern):
    return sorted(glob.glob(str(CALLERS / pattern)))


def test_caller_fixtures_present():
    assert caller_files("configs/*-config.json")
    assert caller_files("configs/*-exec-process.json")
    assert caller_files("runc-reference/state-*.json")
    assert (CALLERS / "runc-reference" / "features.json").is_file()


@pytest.mark.parametrize("path", caller_files("configs/*-config.json"),
                         ids=lambda p: Path(p).name)
def test_caller_config_validates(path):
    assert errors(CONFIG_V, load_json(path)) == []


@pytest.mark.parametrize("path", caller_files("configs/*-exec-process.json"),
                         ids=lambda p: Path(p).name)
def test_caller_exec_process_validates(path):
    assert errors(PROCESS_V, load_json(path)) == []


@pytest.mark.parametrize("path", caller_files("configs/*-update-resources.json"),
                         ids=lambda p: Path(p).name)
def test_caller_update_resources_validates(path):
    assert errors(RESOURCES_V, load_json(path)) == []


@pytest.mark.parametrize("path", caller_files("runc-reference/state-*.json"),
                         ids=lambda p: Path(p).name)
def test_runc_state_validates(path):
    assert errors(STATE_V, load_json(path)) == []


def test_runc_list_entries_validate_as_state():
    path = CALLERS / "runc-reference" / "list.json"
    for entry in load_json(path):
        assert errors(STATE_V, entry) == []


def test_runc_features_validate():
    assert errors(FEATURES_V, load_json(CALLERS / "runc-reference" / "features.json")) == []


# --------------------------------------------------------------------------
# A config that uses every field pyrunc knows about (written for these tests)
# --------------------------------------------------------------------------

FULL_PROCESS = {
    "terminal": True,
    "consoleSize": {"height": 40, "width": 120},
    "cwd": "/work",
    "env": ["PATH=/usr/bin:/bin", "LANG=C.UTF-8"],
    "args": ["/bin/app", "--serve"],
    "commandLine": "unused on linux",
    "rlimits": [{"type": "RLIMIT_NOFILE", "soft": 4096, "hard": 8192},
                {"type": "RLIMIT_CORE", "soft": 0, "hard": 18446744073709551615}],
    "apparmorProfile": "pyrunc-test",
    "capabilities": {
        "bounding": ["CAP_CHOWN", "CAP_KILL"],
        "effective": ["CAP_KILL"],
        "inheritable": [],
        "permitted": ["CAP_CHOWN", "CAP_KILL"],
        "ambient": ["CAP_KILL"],
    },
    "noNewPrivileges": True,
    "oomScoreAdj": -500,
    "scheduler": {"policy": "SCHED_DEADLINE", "nice": -5, "priority": 0,
                  "flags": ["SCHED_FLAG_RESET_ON_FORK"], "runtime": 10000,
                  "deadline": 20000, "period": 30000},
    "selinuxLabel": "system_u:system_r:container_t:s0:c1,c2",
    "ioPriority": {"class": "IOPRIO_CLASS_BE", "priority": 7},
    "execCPUAffinity": {"initial": "0", "final": "0-3,6"},
    "user": {"uid": 1000, "gid": 1000, "umask": 18, "additionalGids": [4, 27],
             "username": "ignored"},
}

FULL_CONFIG = {
    "ociVersion": "1.3.0",
    "root": {"path": "rootfs", "readonly": True},
    "mounts": [
        {"destination": "/proc", "type": "proc", "source": "proc"},
        {"destination": "/data", "type": "none", "source": "/srv/data",
         "options": ["rbind", "ro", "idmap"],
         "uidMappings": [{"containerID": 0, "hostID": 200000, "size": 1000}],
         "gidMappings": [{"containerID": 0, "hostID": 200000, "size": 1000}]},
    ],
    "process": FULL_PROCESS,
    "hostname": "box",
    "domainname": "example.test",
    "hooks": {
        "prestart": [{"path": "/usr/bin/pre", "args": ["pre", "-x"], "env": ["A=1"]}],
        "createRuntime": [{"path": "/usr/bin/cr", "timeout": 5}],
        "createContainer": [{"path": "/usr/bin/cc"}],
        "startContainer": [{"path": "/usr/bin/sc"}],
        "poststart": [{"path": "/usr/bin/ps", "timeout": 1}],
        "poststop": [{"path": "/usr/bin/pst"}],
    },
    "annotations": {"com.example.key": "value", "com.example.empty": ""},
    "linux": {
        "namespaces": [{"type": t} for t in
                       ["pid", "mount", "ipc", "uts", "user", "cgroup", "time"]]
        + [{"type": "network", "path": "/var/run/netns/test"}],
        "uidMappings": [{"containerID": 0, "hostID": 100000, "size": 65536}],
        "gidMappings": [{"containerID": 0, "hostID": 100000, "size": 65536}],
        "timeOffsets": {"monotonic": {"secs": -3600, "nanosecs": 0},
                        "boottime": {"secs": 86400, "nanosecs": 500}},
        "devices": [
            {"type": "c", "path": "/dev/fuse", "major": 10, "minor": 229,
             "fileMode": 438, "uid": 0, "gid": 0},
            {"type": "p", "path": "/dev/myfifo"},
        ],
        "netDevices": {"eth1": {"name": "ctr0"}, "dummy0": {}},
        "cgroupsPath": "system.slice:pyrunc:abc",
        "rootfsPropagation": "rslave",
        "resources": {
            "devices": [{"allow": False, "access": "rwm"},
                        {"allow": True, "type": "c", "major": 1, "minor": 3, "access": "rw"},
                        {"allow": True, "type": "b", "major": 8, "access": "r"}],
            "memory": {"limit": 536870912, "reservation": 268435456, "swap": -1,
                       "kernel": -1, "kernelTCP": -1, "swappiness": 60,
                       "disableOOMKiller": False, "useHierarchy": True,
                       "checkBeforeUpdate": True},
            "cpu": {"shares": 1024, "quota": 50000, "burst": 10000, "period": 100000,
                    "realtimeRuntime": 950000, "realtimePeriod": 1000000,
                    "cpus": "0-3,7", "mems": "0", "idle": 0},
            "pids": {"limit": 0},
            "blockIO": {"weight": 500, "leafWeight": 10,
                        "weightDevice": [{"major": 8, "minor": 0, "weight": 1000},
                                         {"major": 8, "minor": 16, "leafWeight": 100}],
                        "throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 1048576}],
                        "throttleWriteBpsDevice": [{"major": 8, "minor": 0, "rate": 1}],
                        "throttleReadIOPSDevice": [{"major": 8, "minor": 0, "rate": 100}],
                        "throttleWriteIOPSDevice": [{"major": 8, "minor": 0, "rate": 0}]},
            "hugepageLimits": [{"pageSize": "2MB", "limit": 1073741824},
                               {"pageSize": "1GB", "limit": 0}],
            "network": {"classID": 1048577,
                        "priorities": [{"name": "eth0", "priority": 5}]},
            "rdma": {"mlx5_0": {"hcaHandles": 3, "hcaObjects": 10000},
                     "mlx5_1": {"hcaHandles": 1}},
            "unified": {"memory.high": "max", "io.weight": "default 100"},
        },
        "intelRdt": {"closID": "guaranteed", "l3CacheSchema": "L3:0=ff",
                     "memBwSchema": "MB:0=50", "schemata": ["L2:0=f"],
                     "enableMonitoring": True},
        "sysctl": {"net.ipv4.ip_forward": "1"},
        "seccomp": {
            "defaultAction": "SCMP_ACT_ERRNO",
            "defaultErrnoRet": 1,
            "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_AARCH64", "SCMP_ARCH_RISCV64"],
            "flags": ["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"],
            "listenerPath": "/run/seccomp-agent.sock",
            "listenerMetadata": "opaque",
            "syscalls": [
                {"names": ["read", "write"], "action": "SCMP_ACT_ALLOW"},
                {"names": ["clone"], "action": "SCMP_ACT_ALLOW",
                 "args": [{"index": 0, "value": 2114060288, "op": "SCMP_CMP_MASKED_EQ"},
                          {"index": 1, "value": 1, "valueTwo": 2, "op": "SCMP_CMP_NE"}]},
                {"names": ["mount"], "action": "SCMP_ACT_NOTIFY"},
                {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38},
            ],
        },
        "maskedPaths": ["/proc/kcore"],
        "readonlyPaths": ["/proc/sys"],
        "mountLabel": "system_u:object_r:container_file_t:s0",
        "personality": {"domain": "LINUX32", "flags": []},
        "memoryPolicy": {"mode": "MPOL_BIND", "nodes": "0-1",
                         "flags": ["MPOL_F_STATIC_NODES"]},
    },
}

MINIMAL_CONFIG = {"ociVersion": "1.0.2-dev", "root": {"path": "rootfs"}}


def test_full_config_validates():
    assert errors(CONFIG_V, FULL_CONFIG) == []


def test_minimal_config_validates():
    """process, mounts, hooks, linux... are all optional."""
    assert errors(CONFIG_V, MINIMAL_CONFIG) == []


@pytest.mark.parametrize("version", ["1.0.0", "1.0.2-dev", "1.3.0", "1.1.0-rc.3",
                                     "1.2.0+dev", "1.10.100-rc.1+build.5"])
def test_good_oci_versions(version):
    cfg = dict(MINIMAL_CONFIG, ociVersion=version)
    assert errors(CONFIG_V, cfg) == []


def test_unknown_properties_are_allowed_everywhere():
    cfg = copy.deepcopy(FULL_CONFIG)
    cfg["x-top"] = {"anything": [1, 2]}
    cfg["root"]["x"] = 1
    cfg["mounts"][0]["x"] = 1
    cfg["process"]["x"] = 1
    cfg["process"]["user"]["x"] = 1
    cfg["process"]["capabilities"]["x"] = 1
    cfg["process"]["rlimits"][0]["x"] = 1
    cfg["hooks"]["x"] = 1
    cfg["hooks"]["prestart"][0]["x"] = 1
    linux = cfg["linux"]
    linux["x"] = 1
    linux["namespaces"][0]["x"] = 1
    linux["uidMappings"][0]["x"] = 1
    linux["devices"][0]["x"] = 1
    linux["resources"]["x"] = 1
    linux["resources"]["memory"]["x"] = 1
    linux["resources"]["cpu"]["x"] = 1
    linux["resources"]["devices"][0]["x"] = 1
    linux["seccomp"]["x"] = 1
    linux["seccomp"]["syscalls"][0]["x"] = 1
    linux["seccomp"]["syscalls"][1]["args"][0]["x"] = 1
    linux["intelRdt"]["enableCMT"] = True  # dropped in 1.3.0: now just unknown
    assert errors(CONFIG_V, cfg) == []


def test_hooks_may_be_null_or_empty():
    for hooks in (None, {}):
        assert errors(CONFIG_V, dict(MINIMAL_CONFIG, hooks=hooks)) == []


def test_boundary_integers_accepted():
    cfg = copy.deepcopy(FULL_CONFIG)
    cfg["process"]["user"].update(uid=4294967295, gid=0, additionalGids=[4294967295])
    cfg["linux"]["uidMappings"][0].update(containerID=0, hostID=4294967295, size=4294967295)
    cfg["linux"]["resources"]["memory"]["limit"] = 9223372036854775807
    cfg["linux"]["resources"]["memory"]["swappiness"] = 100
    cfg["linux"]["resources"]["pids"]["limit"] = -1
    cfg["linux"]["resources"]["blockIO"]["weight"] = 10
    cfg["linux"]["resources"]["blockIO"]["leafWeight"] = 1000
    cfg["linux"]["seccomp"]["syscalls"][1]["args"][0]["value"] = 18446744073709551615
    cfg["process"]["ioPriority"]["priority"] = 0
    assert errors(CONFIG_V, cfg) == []
    # runtime-spec's schema requires only the class (runc's ioprio.bats)
    del cfg["process"]["ioPriority"]["priority"]
    assert errors(CONFIG_V, cfg) == []


def test_docker_zero_means_unset_in_resources():
    """docker's update payload uses 0 for 'not set', including blockIO.weight."""
    payload = {"memory": {"limit": 0, "reservation": 0, "swap": 0, "kernel": 0},
               "cpu": {"shares": 0, "quota": 0, "period": 0},
               "pids": {"limit": 0}, "blockIO": {"weight": 0}}
    assert errors(RESOURCES_V, payload) == []


@pytest.mark.parametrize("doc", [None, [], "config", 1, True])
def test_config_must_be_an_object(doc):
    assert errors(CONFIG_V, doc)


def test_exec_process_schema_via_ref():
    proc = {"user": {"uid": 0, "gid": 0}, "args": ["sh"], "cwd": "/"}
    assert errors(PROCESS_V, proc) == []
    assert errors(PROCESS_V, FULL_PROCESS) == []
    # runtime-spec's schema requires neither user nor its uid/gid (0 each)
    assert errors(PROCESS_V, {"args": ["sh"], "cwd": "/"}) == []
    assert errors(PROCESS_V, {"args": ["sh"], "cwd": "/", "user": {}}) == []
    assert errors(PROCESS_V, {"args": ["sh"], "user": {"uid": 0, "gid": 0}})  # no cwd


# --------------------------------------------------------------------------
# Negative cases: each mutation of FULL_CONFIG must be rejected
# --------------------------------------------------------------------------

def _set(path, value):
    def mutate(cfg):
        node = cfg
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
    return mutate


def _del(path):
    def mutate(cfg):
        node = cfg
        for key in path[:-1]:
            node = node[key]
        del node[path[-1]]
    return mutate


NEGATIVE = {
    # ociVersion
    "ociVersion missing": _del(["ociVersion"]),
    "ociVersion invalid": _set(["ociVersion"], "invalid"),
    "ociVersion 2.0.0": _set(["ociVersion"], "2.0.0"),
    "ociVersion 0.1.0": _set(["ociVersion"], "0.1.0"),
    "ociVersion 1.0": _set(["ociVersion"], "1.0"),
    "ociVersion v1.0.0": _set(["ociVersion"], "v1.0.0"),
    "ociVersion leading zero": _set(["ociVersion"], "1.01.0"),
    "ociVersion not string": _set(["ociVersion"], 1),
    # top level types
    "config empty object": lambda cfg: cfg.clear(),
    "hostname not string": _set(["hostname"], 5),
    "domainname not string": _set(["domainname"], ["a"]),
    "annotations value not string": _set(["annotations", "com.example.n"], 1),
    "annotations empty key": _set(["annotations", ""], "v"),
    "annotations not object": _set(["annotations"], ["a=b"]),
    # root
    "root missing": _del(["root"]),
    "root.path missing": _del(["root", "path"]),
    "root.path empty": _set(["root", "path"], ""),
    "root.readonly not bool": _set(["root", "readonly"], "true"),
    # mounts
    "mounts not array": _set(["mounts"], {"destination": "/x"}),
    "mount destination missing": _del(["mounts", 0, "destination"]),
    "mount options not array": _set(["mounts", 0, "options"], "ro,nosuid"),
    "mount option not string": _set(["mounts", 0, "options"], [1]),
    "mount uidMappings without gidMappings": _del(["mounts", 1, "gidMappings"]),
    "mount gidMappings without uidMappings": _del(["mounts", 1, "uidMappings"]),
    # process
    "process.cwd missing": _del(["process", "cwd"]),
    "process.cwd relative": _set(["process", "cwd"], "work"),
    "process.args empty": _set(["process", "args"], []),
    "process.args not array": _set(["process", "args"], "sh -c true"),
    "process.env item not string": _set(["process", "env"], [{"A": "1"}]),
    "process.terminal not bool": _set(["process", "terminal"], 1),
    "consoleSize width missing": _del(["process", "consoleSize", "width"]),
    "consoleSize negative": _set(["process", "consoleSize", "height"], -1),
    "user.uid negative": _set(["process", "user", "uid"], -1),
    "user.uid too big": _set(["process", "user", "uid"], 4294967296),
    "user.uid string": _set(["process", "user", "uid"], "0"),
    "user.uid float": _set(["process", "user", "uid"], 1.5),
    "user.gid bool": _set(["process", "user", "gid"], True),
    "user.additionalGids bad": _set(["process", "user", "additionalGids"], [-5]),
    "user.umask negative": _set(["process", "user", "umask"], -1),
    "rlimit type unknown": _set(["process", "rlimits", 0, "type"], "RLIMIT_FOO"),
    "rlimit type lowercase": _set(["process", "rlimits", 0, "type"], "rlimit_nofile"),
    "rlimit soft missing": _del(["process", "rlimits", 0, "soft"]),
    "rlimit hard negative": _set(["process", "rlimits", 0, "hard"], -1),
    "rlimit hard too big": _set(["process", "rlimits", 0, "hard"], 18446744073709551616),
    "capabilities set not array": _set(["process", "capabilities", "bounding"], "CAP_KILL"),
    "capability not string": _set(["process", "capabilities", "effective"], [1]),
    "noNewPrivileges not bool": _set(["process", "noNewPrivileges"], "yes"),
    "oomScoreAdj not int": _set(["process", "oomScoreAdj"], "100"),
    "scheduler policy missing": _del(["process", "scheduler", "policy"]),
    "scheduler policy bad": _set(["process", "scheduler", "policy"], "SCHED_FAST"),
    "scheduler flag bad": _set(["process", "scheduler", "flags"], ["SCHED_FLAG_X"]),
    "scheduler nice too big": _set(["process", "scheduler", "nice"], 2147483648),
    "ioPriority class bad": _set(["process", "ioPriority", "class"], "IOPRIO_CLASS_NONE"),
    "ioPriority priority 8": _set(["process", "ioPriority", "priority"], 8),
    "execCPUAffinity bad list": _set(["process", "execCPUAffinity", "final"], "all"),
    # hooks
    "hook path missing": _del(["hooks", "prestart", 0, "path"]),
    "hook path relative": _set(["hooks", "poststop", 0, "path"], "bin/cleanup"),
    "hook timeout zero": _set(["hooks", "poststart", 0, "timeout"], 0),
    "hook timeout negative": _set(["hooks", "createRuntime", 0, "timeout"], -3),
    "hook args not array": _set(["hooks", "prestart", 0, "args"], "pre -x"),
    "hooks list not array": _set(["hooks", "createContainer"], {"path": "/x"}),
    # linux: namespaces, mappings, time
    "namespace type missing": _del(["linux", "namespaces", 0, "type"]),
    "namespace type typo net": _set(["linux", "namespaces", 0, "type"], "net"),
    "namespace type typo mnt": _set(["linux", "namespaces", 0, "type"], "mnt"),
    "namespace type uppercase": _set(["linux", "namespaces", 0, "type"], "PID"),
    "namespace path relative": _set(["linux", "namespaces", 7, "path"], "netns/test"),
    "namespaces not array": _set(["linux", "namespaces"], {"type": "pid"}),
    "idmapping hostID missing": _del(["linux", "uidMappings", 0, "hostID"]),
    "idmapping size missing": _del(["linux", "gidMappings", 0, "size"]),
    "idmapping containerID missing": _del(["linux", "uidMappings", 0, "containerID"]),
    "idmapping size too big": _set(["linux", "uidMappings", 0, "size"], 4294967296),
    "idmapping negative": _set(["linux", "gidMappings", 0, "hostID"], -1),
    "timeOffsets nanosecs negative": _set(["linux", "timeOffsets", "boottime", "nanosecs"], -1),
    "timeOffsets secs string": _set(["linux", "timeOffsets", "monotonic", "secs"], "1"),
    # devices
    "device type bad": _set(["linux", "devices", 0, "type"], "x"),
    "device type missing": _del(["linux", "devices", 0, "type"]),
    "device path missing": _del(["linux", "devices", 0, "path"]),
    "device path relative": _set(["linux", "devices", 0, "path"], "dev/fuse"),
    "device major missing for c": _del(["linux", "devices", 0, "major"]),
    "device fileMode negative": _set(["linux", "devices", 0, "fileMode"], -438),
    "device uid too big": _set(["linux", "devices", 0, "uid"], 4294967296),
    "netDevice name not string": _set(["linux", "netDevices", "eth1", "name"], 1),
    "rootfsPropagation bad": _set(["linux", "rootfsPropagation"], "secondary"),
    "cgroupsPath not string": _set(["linux", "cgroupsPath"], 1),
    # resources
    "cgroup device allow missing": _del(["linux", "resources", "devices", 1, "allow"]),
    "cgroup device type bad": _set(["linux", "resources", "devices", 1, "type"], "p"),
    "memory limit -2": _set(["linux", "resources", "memory", "limit"], -2),
    "memory limit too big": _set(["linux", "resources", "memory", "limit"], 9223372036854775808),
    "memory limit string": _set(["linux", "resources", "memory", "limit"], "512M"),
    "memory swappiness 101": _set(["linux", "resources", "memory", "swappiness"], 101),
    "memory swappiness -1": _set(["linux", "resources", "memory", "swappiness"], -1),
    "memory disableOOMKiller not bool": _set(["linux", "resources", "memory",
                                              "disableOOMKiller"], 0),
    "cpu shares negative": _set(["linux", "resources", "cpu", "shares"], -1),
    "cpu period negative": _set(["linux", "resources", "cpu", "period"], -1),
    "cpu cpus bad": _set(["linux", "resources", "cpu", "cpus"], "0-3;7"),
    "cpu mems not string": _set(["linux", "resources", "cpu", "mems"], 0),
    "pids limit -2": _set(["linux", "resources", "pids", "limit"], -2),
    "blkio weight 5": _set(["linux", "resources", "blockIO", "weight"], 5),
    "blkio weight 1001": _set(["linux", "resources", "blockIO", "weight"], 1001),
    "blkio leafWeight 9": _set(["linux", "resources", "blockIO", "leafWeight"], 9),
    "weightDevice without weights": _set(["linux", "resources", "blockIO", "weightDevice"],
                                         [{"major": 8, "minor": 0}]),
    "weightDevice major missing": _del(["linux", "resources", "blockIO", "weightDevice",
                                        0, "major"]),
    "throttle rate missing": _del(["linux", "resources", "blockIO",
                                   "throttleReadBpsDevice", 0, "rate"]),
    "throttle rate negative": _set(["linux", "resources", "blockIO",
                                    "throttleWriteIOPSDevice", 0, "rate"], -1),
    "hugepage pageSize bad": _set(["linux", "resources", "hugepageLimits", 0, "pageSize"], "2M"),
    "hugepage limit missing": _del(["linux", "resources", "hugepageLimits", 0, "limit"]),
    "network classID negative": _set(["linux", "resources", "network", "classID"], -1),
    "network priority name missing": _del(["linux", "resources", "network",
                                           "priorities", 0, "name"]),
    "rdma entry empty": _set(["linux", "resources", "rdma", "mlx5_1"], {}),
    "rdma hcaHandles negative": _set(["linux", "resources", "rdma", "mlx5_0", "hcaHandles"], -1),
    "unified value not string": _set(["linux", "resources", "unified", "pids.max"], 10),
    # misc linux
    "sysctl value not string": _set(["linux", "sysctl", "kernel.shmmax"], 1),
    "maskedPaths relative": _set(["linux", "maskedPaths"], ["proc/kcore"]),
    "readonlyPaths not array": _set(["linux", "readonlyPaths"], "/proc/sys"),
    "intelRdt memBwSchema prefix": _set(["linux", "intelRdt", "memBwSchema"], "L3:0=ff"),
    "intelRdt memBwSchema newline": _set(["linux", "intelRdt", "memBwSchema"], "MB:0=50\nL3:0=1"),
    "intelRdt schemata newline": _set(["linux", "intelRdt", "schemata"], ["L2:0=f\n"]),
    "personality domain bad": _set(["linux", "personality", "domain"], "LINUX64"),
    "personality domain missing": _del(["linux", "personality", "domain"]),
    "memoryPolicy mode bad": _set(["linux", "memoryPolicy", "mode"], "MPOL_FAST"),
    "memoryPolicy mode missing": _del(["linux", "memoryPolicy", "mode"]),
    "memoryPolicy flag bad": _set(["linux", "memoryPolicy", "flags"], ["MPOL_F_NONE"]),
    # seccomp
    "seccomp defaultAction missing": _del(["linux", "seccomp", "defaultAction"]),
    "seccomp defaultAction bad": _set(["linux", "seccomp", "defaultAction"], "SCMP_ACT_DENY"),
    "seccomp defaultErrnoRet negative": _set(["linux", "seccomp", "defaultErrnoRet"], -1),
    "seccomp arch bad": _set(["linux", "seccomp", "architectures"], ["x86_64"]),
    "seccomp flag bad": _set(["linux", "seccomp", "flags"], ["SECCOMP_FILTER_FLAG_X"]),
    "seccomp metadata without listenerPath": _del(["linux", "seccomp", "listenerPath"]),
    "seccomp syscall names missing": _del(["linux", "seccomp", "syscalls", 0, "names"]),
    "seccomp syscall names empty": _set(["linux", "seccomp", "syscalls", 0, "names"], []),
    "seccomp syscall action missing": _del(["linux", "seccomp", "syscalls", 0, "action"]),
    "seccomp syscall action bad": _set(["linux", "seccomp", "syscalls", 0, "action"], "ALLOW"),
    "seccomp errnoRet string": _set(["linux", "seccomp", "syscalls", 3, "errnoRet"], "ENOSYS"),
    "seccomp arg op bad": _set(["linux", "seccomp", "syscalls", 1, "args", 0, "op"], "SCMP_CMP_XX"),
    "seccomp arg op missing": _del(["linux", "seccomp", "syscalls", 1, "args", 0, "op"]),
    "seccomp arg index missing": _del(["linux", "seccomp", "syscalls", 1, "args", 0, "index"]),
    "seccomp arg value missing": _del(["linux", "seccomp", "syscalls", 1, "args", 0, "value"]),
    "seccomp arg value negative": _set(["linux", "seccomp", "syscalls", 1, "args", 0, "value"], -1),
    "seccomp arg valueTwo too big": _set(["linux", "seccomp", "syscalls", 1, "args", 1,
                                          "valueTwo"], 18446744073709551616),
    "linux not object": _set(["linux"], []),
    "process not object": _set(["process"], "sh"),
}


@pytest.mark.parametrize("name", sorted(NEGATIVE))
def test_invalid_config_rejected(name):
    cfg = copy.deepcopy(FULL_CONFIG)
    NEGATIVE[name](cfg)
    assert errors(CONFIG_V, cfg), "%s: expected a validation error" % name


# --------------------------------------------------------------------------
# State
# --------------------------------------------------------------------------

GOOD_STATE = {
    "ociVersion": "1.0.2-dev",
    "id": "ctr1",
    "pid": 4242,
    "status": "running",
    "bundle": "/srv/bundle",
    "rootfs": "/srv/bundle/rootfs",
    "created": "2026-01-02T03:04:05.123456789Z",
    "owner": "",
    "annotations": {"k": "v"},
}


@pytest.mark.parametrize("status", ["creating", "created", "running", "stopped", "paused"])
def test_state_statuses(status):
    assert errors(STATE_V, dict(GOOD_STATE, status=status)) == []


def test_state_minimal_and_extras():
    minimal = {"ociVersion": "1.3.0", "id": "x", "status": "stopped", "bundle": "/b"}
    assert errors(STATE_V, minimal) == []
    assert errors(STATE_V, dict(GOOD_STATE, futureField={"a": 1})) == []
    assert errors(STATE_V, dict(GOOD_STATE, created="2026-01-02T03:04:05+02:00")) == []


def _state_without(key):
    st = dict(GOOD_STATE)
    del st[key]
    return st


STATE_NEGATIVE = {
    "no ociVersion": _state_without("ociVersion"),
    "no id": _state_without("id"),
    "no status": _state_without("status"),
    "no bundle": _state_without("bundle"),
    "running without pid": _state_without("pid"),
    "created without pid": dict(_state_without("pid"), status="created"),
    "status bad": dict(GOOD_STATE, status="exited"),
    "status uppercase": dict(GOOD_STATE, status="Running"),
    "pid negative": dict(GOOD_STATE, pid=-1),
    "pid string": dict(GOOD_STATE, pid="4242"),
    "ociVersion invalid": dict(GOOD_STATE, ociVersion="invalid"),
    "id empty": dict(GOOD_STATE, id=""),
    "bundle relative": dict(GOOD_STATE, bundle="srv/bundle"),
    "annotations value int": dict(GOOD_STATE, annotations={"k": 1}),
    "created not rfc3339": dict(GOOD_STATE, created="Jan 2 2026"),
    "owner not string": dict(GOOD_STATE, owner=0),
}


@pytest.mark.parametrize("name", sorted(STATE_NEGATIVE))
def test_invalid_state_rejected(name):
    assert errors(STATE_V, STATE_NEGATIVE[name])


def test_stopped_state_may_omit_pid():
    assert errors(STATE_V, dict(_state_without("pid"), status="stopped")) == []


# --------------------------------------------------------------------------
# Features
# --------------------------------------------------------------------------

FULL_FEATURES = {
    "ociVersionMin": "1.0.0",
    "ociVersionMax": "1.3.0",
    "hooks": ["prestart", "createRuntime", "createContainer", "startContainer",
              "poststart", "poststop"],
    "mountOptions": ["bind", "rbind", "ro", "idmap"],
    "linux": {
        "namespaces": ["cgroup", "ipc", "mount", "network", "pid", "time", "user", "uts"],
        "capabilities": ["CAP_CHOWN"],
        "cgroup": {"v1": True, "v2": True, "systemd": False, "systemdUser": False,
                   "rdma": False},
        "seccomp": {"enabled": True, "actions": ["SCMP_ACT_ALLOW"],
                    "operators": ["SCMP_CMP_EQ"], "archs": ["SCMP_ARCH_X86_64"],
                    "knownFlags": ["SECCOMP_FILTER_FLAG_LOG"], "supportedFlags": []},
        "apparmor": {"enabled": False},
        "selinux": {"enabled": False},
        "intelRdt": {"enabled": False, "schemata": False, "monitoring": False},
        "mountExtensions": {"idmap": {"enabled": True}},
        "netDevices": {"enabled": False},
        "memoryPolicy": {"modes": ["MPOL_DEFAULT"], "flags": []},
    },
    "annotations": {"org.example.pyrunc.version": "0.1"},
    "potentiallyUnsafeConfigAnnotations": ["org.systemd.property."],
}


def test_full_features_validate():
    assert errors(FEATURES_V, FULL_FEATURES) == []


def test_features_nulls_allowed():
    feats = {"ociVersionMin": "1.0.0", "ociVersionMax": "1.3.0", "hooks": None,
             "mountOptions": None, "annotations": None,
             "potentiallyUnsafeConfigAnnotations": None,
             "linux": {"namespaces": None, "capabilities": None, "cgroup": None,
                       "seccomp": {"enabled": None, "actions": None},
                       "apparmor": None, "selinux": None, "intelRdt": None,
                       "mountExtensions": {"idmap": None}, "netDevices": None,
                       "memoryPolicy": None}}
    assert errors(FEATURES_V, feats) == []


FEATURES_NEGATIVE = {
    "no ociVersionMin": lambda f: f.pop("ociVersionMin"),
    "no ociVersionMax": lambda f: f.pop("ociVersionMax"),
    "ociVersionMax null": lambda f: f.update(ociVersionMax=None),
    "ociVersionMin invalid": lambda f: f.update(ociVersionMin="invalid"),
    "hooks not array": lambda f: f.update(hooks="prestart"),
    "mountOptions item int": lambda f: f.update(mountOptions=[1]),
    "cgroup v2 not bool": lambda f: f["linux"]["cgroup"].update(v2="yes"),
    "seccomp enabled not bool": lambda f: f["linux"]["seccomp"].update(enabled=1),
    "seccomp archs not array": lambda f: f["linux"]["seccomp"].update(archs="SCMP_ARCH_X86"),
    "idmap enabled not bool": lambda f: f["linux"]["mountExtensions"]["idmap"].update(
        enabled="true"),
    "annotations value not string": lambda f: f.update(annotations={"a": True}),
    "linux not object": lambda f: f.update(linux=[]),
}


@pytest.mark.parametrize("name", sorted(FEATURES_NEGATIVE))
def test_invalid_features_rejected(name):
    feats = copy.deepcopy(FULL_FEATURES)
    FEATURES_NEGATIVE[name](feats)
    assert errors(FEATURES_V, feats)
