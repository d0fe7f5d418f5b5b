"""Runtime logging in runc's formats.

Errors and warnings always go to stderr as one line. With --log FILE they
are also appended to FILE: as one JSON object per line with --log-format
json ({"level","msg","time"}, what containerd and podman parse), or as
logrus-style text lines otherwise. Nothing is ever written to stdout.
"""
import os
import sys
import time

_target = {"path": None, "format": "text", "debug": False}


def configure(path=None, fmt="text", debug=False):
    _target["path"] = path
    _target["format"] = fmt or "text"
    _target["debug"] = debug


def _now():
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _append(level, msg):
    path = _target["path"]
    if not path:
        return
    if _target["format"] == "json":
        from pyrunc.fastjson import dumps
        line = dumps({"level": level, "msg": msg, "time": _now()}) + "\n"
    else:
        line = 'time="%s" level=%s msg="%s"\n' % (
            _now(), level, msg.replace("\\", "\\\\").replace('"', '\\"'))
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            os.write(fd, line.encode())
        finally:
            os.close(fd)
    except OSError:
        pass


def error(msg):
    sys.stderr.write("pyrunc: %s\n" % msg)
    sys.stderr.flush()
    _append("error", msg)


def warn(msg):
    sys.stderr.write("pyrunc: warning: %s\n" % msg)
    sys.stderr.flush()
    _append("warning", msg)


def debug(msg):
    """--debug: to the --log file when there is one, else to stderr, in
    runc's text format (what `runc --debug` users grep for)."""
    if not _target["debug"]:
        return
    if _target["path"]:
        _append("debug", msg)
    else:
        sys.stderr.write('time="%s" level=debug msg="%s"\n' % (
            _now(), msg.replace("\\", "\\\\").replace('"', '\\"')))
        sys.stderr.flush()
