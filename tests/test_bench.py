"""The benchmark (bench/run.py) works: a --quick run against a temporary
out dir writes results.json with every metric measured, as numbers, for
pyrunc (and for runc when it is installed), and leaves nothing behind.
No wall-clock bound is asserted: timings belong to the benchmark, not here.
"""
import json
import math
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import PYRUNC

REPO = Path(__file__).resolve().parent.parent
RUN = REPO / "bench" / "run.py"

sys.path.insert(0, str(RUN.parent))
import run as bench  # noqa: E402  (bench/run.py, standard library only)

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="creates containers: needs root")


def _is_number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def test_summarize():
    s = bench.summarize([3.0, 1.0, 2.0, 4.0])
    assert s["median"] == 2.5 and s["min"] == 1.0 and s["max"] == 4.0
    assert s["q1"] <= s["median"] <= s["q3"] and s["n"] == 4
    one = bench.summarize([5.0])
    assert one["median"] == one["q1"] == one["q3"] == 5.0


def test_quick_run_writes_every_metric(tmp_path):
    out = tmp_path / "out"
    cmd = [sys.executable, str(RUN), "--quick", "--runs", "2", "--out", str(out),
           "--pyrunc", shlex.join(PYRUNC), "--workdir", str(tmp_path)]
    p = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, timeout=900)
    assert p.returncode == 0, p.stdout[-4000:]

    res = json.loads((out / "results.json").read_text())
    assert (out / "results.md").read_text().startswith("# pyrunc benchmark")
    assert res["errors"] == {} and res["leftovers"] == []

    expected = ["pyrunc"]
    if bench.find("runc"):
        expected.append("runc")
    for name in expected:
        assert name in res["runtimes"], res.get("skipped_runtimes")
    for key in ["cpu", "cores", "kernel", "cgroups", "python (bench)", "python (pyrunc)"]:
        assert res["machine"].get(key), key

    assert set(res["metrics"]) == set(bench.METRIC_KEYS)
    for key, m in res["metrics"].items():
        if key == "podman_run" and not bench.find("podman"):
            assert all(r is None for r in m["results"].values())
            assert res["params"]["podman"].startswith("not measured")
            continue
        for name in expected:
            r = m["results"][name]
            assert r is not None, (key, name)
            assert r["n"] >= 1 and len(r["samples"]) == r["n"], (key, name)
            for stat in ("median", "q1", "q3", "min", "max"):
                assert _is_number(r[stat]) and r[stat] >= 0, (key, name, stat, r[stat])
            assert all(_is_number(v) for v in r["samples"])
        if "runc" in expected:
            assert _is_number(m["ratio_pyrunc_runc"]), key

    # nothing of the run is left: no work dir, no cgroups of its prefixes
    assert not [d for d in os.listdir(tmp_path) if d.startswith("pyrunc-bench-")]
    parents = res["params"]["cgroup_parents"]
    assert set(parents) == set(res["runtimes"])
    for name, parent in parents.items():
        assert bench.cgroup_dirs(parent.strip("/")) == [], (name, parent)
        assert not os.path.exists(res["params"]["roots"][name])
