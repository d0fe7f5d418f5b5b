"""Reading a bundle: config.json → validated → typed model (model.py).

load_bundle() is the only entry point that turns a bundle into a Config.
Validation uses pyrunc.config._validator, generated from schemas/*.json at
build time by schemagen.py, so no schema library is imported at run time.
"""
import os

from pyrunc.errors import ConfigError, PyruncError


def parse_json(data, what):
    """JSON bytes -> object; errors name the line and column."""
    from pyrunc.fastjson import loads
    try:
        return loads(data)
    except UnicodeDecodeError as e:
        raise ConfigError("%s: invalid UTF-8: %s" % (what, e.reason)) from None
    except ValueError as e:     # json.JSONDecodeError
        if hasattr(e, "lineno"):
            raise ConfigError("%s: invalid JSON at line %d column %d: %s"
                              % (what, e.lineno, e.colno, e.msg)) from None
        raise ConfigError("%s: invalid JSON: %s" % (what, e)) from None


def validate(schema, doc, what):
    from pyrunc.config import _validator
    from pyrunc.config.errors import ValidationError
    try:
        _validator.validate(schema, doc)
    except ValidationError as e:
        raise ConfigError("%s: %s" % (what, _runc_words(e))) from None
    finally:
        # the generated module is large and needed once per invocation:
        # dropping it lets the rest of create reuse its memory (peak RSS)
        import sys
        sys.modules.pop("pyrunc.config._validator", None)
        globals().pop("_validator", None)


def collect_errors(schema, doc):
    """Every violation of doc against schema (a name validate() takes), not
    only the first: a list of (path, rule) pairs, path a JSON pointer ("/"
    for the document itself), rule worded as validate() words it; [] when
    doc is valid.  The first pair is the error validate() reports."""
    from pyrunc.config import _validator
    try:
        return [_runc_pair(e) for e in _validator.collect(schema, doc)]
    finally:
        import sys
        sys.modules.pop("pyrunc.config._validator", None)
        globals().pop("_validator", None)


def _runc_pair(e):
    """(path, rule) of the error, with runc's words first where callers and
    runc's tests look for them (memoryPolicy: "invalid memory policy
    [mode|flag|node]")."""
    if e.path.startswith("/linux/memoryPolicy"):
        part = e.path.split("/")[3:4]
        word = {"mode": " mode", "flags": " flag", "nodes": " node"}.get(
            part[0] if part else "", " mode" if '"mode"' in e.rule else "")
        return e.path, "invalid memory policy%s: %s" % (word, e.rule)
    return e.path or "/", e.rule


def _runc_words(e):
    """The error as validate() reports it: "<path>: <rule>", see _runc_pair."""
    return "%s: %s" % _runc_pair(e)


def read_config(bundle):
    """Raw bytes and validated document of <bundle>/config.json."""
    data, doc = read_raw(bundle)
    validate("config", doc, "config.json")
    return data, doc


def read_raw(bundle):
    """Raw bytes and parsed, not yet validated, document of <bundle>/config.json."""
    path = os.path.join(bundle, "config.json")
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        raise ConfigError("config.json: no such file or directory in bundle %s" % bundle) from None
    except OSError as e:
        raise ConfigError("config.json: %s" % os.strerror(e.errno).lower()) from None
    doc = parse_json(data, "config.json")
    if not isinstance(doc, dict):
        raise ConfigError("config.json: /: the document must be an object")
    return data, doc


def rootfs_path(bundle, config):
    if config.root is None:
        raise ConfigError("config.json: /root: root is required on Linux")
    p = config.root.path
    return os.path.normpath(p if os.path.isabs(p) else os.path.join(bundle, p))


def load_bundle(bundle):
    """(raw bytes, Config, absolute rootfs) for a bundle dir; checks the rootfs."""
    from pyrunc.config.model import build
    bundle = os.path.abspath(bundle)
    if not os.path.isdir(bundle):
        raise PyruncError("bundle %s: no such directory" % bundle)
    data, doc = read_config(bundle)
    config = build(doc)
    rootfs = rootfs_path(bundle, config)
    if not os.path.isdir(rootfs):
        raise ConfigError("rootfs (%s) does not exist or is not a directory" % rootfs)
    return data, config, rootfs


def read_document(path, what, schema):
    """A JSON document from a file or, for '-', stdin, validated against one
    of our schemas' definitions (exec --process, update --resources)."""
    try:
        if path == "-":
            import sys
            data = sys.stdin.buffer.read()
        else:
            with open(path, "rb") as f:
                data = f.read()
    except OSError as e:
        raise ConfigError("%s %s: %s" % (what, path, os.strerror(e.errno).lower())) from None
    doc = parse_json(data, what)
    if not isinstance(doc, dict):
        raise ConfigError("%s: /: the document must be an object" % what)
    validate(schema, doc, what)
    return doc


def load_process(path):
    """An exec --process file: validated against the Process definition."""
    from pyrunc.config.model import build_process
    return build_process(read_document(path, "process.json", "process"))
