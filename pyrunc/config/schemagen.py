"""Build-time generator: JSON Schema (Draft-7 subset) -> a plain Python validator.

Importing ``jsonschema`` costs far more than a whole container start, so the
runtime never uses it.  At build time (setup.py) this module turns the schema
files into straight-line Python: one function per distinct schema node, with
the checks of each node written out for that node.  The generated module
imports nothing at load time; ``re`` is needed only if a pattern must be
compiled the slow way (see ``_c`` in the generated code), ``json`` only to
word an error.

    python -m pyrunc.config.schemagen OUT.py schemas/config.schema.json ...

Generated API (validate* raise pyrunc.config.errors.ValidationError on the
first violation, in document order as far as practical):

    validate_<name>(doc)       one per schema file; <name> is the file name
                               without ".schema.json" (validate_config, ...)
    validate(name, doc)        name: "config", "config.schema.json", the $id,
                               "config#/definitions/Process", or a bare
                               definition name in lower case ("process")
                               when no earlier schema file has that name
    collect(name, doc)         every violation, not only the first: a list
                               of ValidationError ([] if valid), the first
                               being validate()'s; the loop that does it is
                               pyrunc.config.errors.collect

Supported keywords, and nothing else (anything else is a generation error,
so no schema feature is ever silently ignored): $schema, $id, title,
description, definitions, $ref, type, properties, required,
additionalProperties, patternProperties, items (one schema), minItems,
maxItems, uniqueItems, enum, const, pattern, minLength, maxLength, minimum,
maximum, exclusiveMinimum, oneOf, anyOf, allOf, not.

Semantics follow jsonschema's Draft7Validator except that "integer" means a
JSON integer: 1.0 is a number but not an integer.
"""

import hashlib
import json
import os
import sys

__all__ = ["generate", "write_module", "main", "SchemaGenError", "SUPPORTED_KEYWORDS"]

ANNOTATIONS = frozenset(("title", "description"))
SUPPORTED_KEYWORDS = frozenset((
    "$schema", "$id", "title", "description", "definitions", "$ref", "type",
    "properties", "required", "additionalProperties", "patternProperties",
    "items", "minItems", "maxItems", "uniqueItems", "enum", "const", "pattern",
    "minLength", "maxLength", "minimum", "maximum", "exclusiveMinimum",
    "oneOf", "anyOf", "allOf", "not",
))
# keywords that may stand beside "$ref" (Draft 7 ignores every other sibling)
REF_SIBLINGS = frozenset(("$ref", "$schema", "$id", "title", "description", "definitions"))
JSON_TYPES = ("null", "boolean", "object", "array", "number", "integer", "string")
DRAFT7_URIS = frozenset((
    "http://json-schema.org/draft-07/schema#", "http://json-schema.org/draft-07/schema",
    "https://json-schema.org/draft-07/schema#", "https://json-schema.org/draft-07/schema",
))

# Python expressions testing the JSON type of x (jsonschema's type checker,
# except that integer excludes floats).
TYPE_EXPR = {
    "null": "x is None",
    "boolean": "x is True or x is False",
    "object": "isinstance(x, dict)",
    "array": "isinstance(x, list)",
    "string": "isinstance(x, str)",
    "integer": "type(x) is int or (isinstance(x, int) and not isinstance(x, bool))",
    "number": "type(x) is int or type(x) is float or _isnum(x)",
}
# the instance types a keyword family applies to
FAMILY_TYPES = {
    "string": frozenset(("string",)),
    "number": frozenset(("integer", "number")),
    "array": frozenset(("array",)),
    "object": frozenset(("object",)),
}
FAMILY_GUARD = {
    "string": "isinstance(x, str)",
    "number": "type(x) is int or type(x) is float or _isnum(x)",
    "array": "isinstance(x, list)",
    "object": "isinstance(x, dict)",
}


class SchemaGenError(ValueError):
    """The schema uses something the generator does not support, or is malformed."""


def _render(value):
    # the runtime's rendering, so constant parts of messages match it exactly
    from pyrunc.config.errors import render
    return render(value)


def _name_rules():
    # the two rules whose error carries a property name, not the instance
    # (collect() tells them apart by their text)
    from pyrunc.config.errors import ADDITIONAL, REQUIRED
    return REQUIRED, ADDITIONAL


def _tmpl(rule):
    """A message template: "%s" stands for the rendered instance."""
    return "%s " + rule.replace("%", "%%")


def _is_number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _is_count(v):
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0


def _ptr_escape(s):
    return s.replace("~", "~0").replace("/", "~1")


class _Doc:
    def __init__(self, path, data, listed):
        self.path = os.path.abspath(path)
        self.data = data
        self.listed = listed
        self.file = os.path.basename(path)
        if not isinstance(data, (dict, bool)):
            raise SchemaGenError("%s: a schema must be an object or a boolean" % path)
        self.id = data.get("$id") if isinstance(data, dict) else None
        if self.id is not None and not isinstance(self.id, str):
            raise SchemaGenError("%s#: $id must be a string" % self.file)
        name = self.file
        for suffix in (".json", ".schema"):
            if name.endswith(suffix):
                name = name[:-len(suffix)]
        self.name = name
        ident = "".join(c if c.isalnum() or c == "_" else "_" for c in name)
        if not ident or ident[0].isdigit():
            ident = "_" + ident
        self.ident = ident
        with open(path, "rb") as f:
            self.sha256 = hashlib.sha256(f.read()).hexdigest()

    def names(self):
        """URIs and file names a $ref may use for this document."""
        out = {self.file, self.path}
        if self.id:
            out.add(self.id.rstrip("#"))
            out.add(self.id.rstrip("#").rsplit("/", 1)[-1])
        return out


def _load(path, listed):
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except OSError as e:
        raise SchemaGenError("%s: %s" % (path, e.strerror or e)) from None
    except ValueError as e:
        raise SchemaGenError("%s: invalid JSON: %s" % (path, e)) from None
    return _Doc(path, data, listed)


class _Gen:
    def __init__(self, docs):
        self.docs = list(docs)
        self.memo = {}          # (doc path, canonical JSON) -> function name
        self.resolving = set()  # the chain of pure $refs being followed
        self.defs_done = set()  # ids of schemas whose definitions were generated
        self.funcs = []         # source of each generated function
        self.consts = []        # module-level constants, emitted after the functions
        self.patterns = []      # pattern strings, index = _RX slot
        self.pattern_ix = {}
        self.n = 0

    # -- names and constants -------------------------------------------------

    def _new(self, prefix):
        self.n += 1
        return "%s%d" % (prefix, self.n)

    def const(self, prefix, src):
        name = self._new(prefix)
        self.consts.append("%s = %s" % (name, src))
        return name

    def regex(self, pattern, where):
        try:
            import re
            re.compile(pattern)
        except re.error as e:
            raise SchemaGenError("%s: invalid pattern %r: %s" % (where, pattern, e)) from None
        i = self.pattern_ix.get(pattern)
        if i is None:
            i = self.pattern_ix[pattern] = len(self.patterns)
            self.patterns.append(pattern)
        return "(_RX[%d] or _c(%d))" % (i, i)

    # -- $ref ----------------------------------------------------------------

    def find_doc(self, doc, uri, where):
        from urllib.parse import urljoin
        wanted = {uri, uri.rsplit("/", 1)[-1]}
        if doc.id:
            wanted.add(urljoin(doc.id, uri))
        for d in self.docs:
            if d.names() & wanted:
                return d
        sibling = os.path.join(os.path.dirname(doc.path), uri)
        if "://" not in uri and os.path.isfile(sibling):
            d = _load(sibling, listed=False)
            self.docs.append(d)
            return d
        raise SchemaGenError("%s: $ref to unknown schema document %r" % (where, uri))

    def resolve(self, doc, ref, where):
        from urllib.parse import unquote
        uri, _, frag = ref.partition("#")
        target = self.find_doc(doc, uri, where) if uri else doc
        node = target.data
        if frag and not frag.startswith("/"):
            raise SchemaGenError("%s: unsupported $ref %r (only JSON pointers)" % (where, ref))
        if frag:
            for tok in frag[1:].split("/"):
                tok = unquote(tok).replace("~1", "/").replace("~0", "~")
                if isinstance(node, dict) and tok in node:
                    node = node[tok]
                elif isinstance(node, list) and tok.isdigit() and int(tok) < len(node):
                    node = node[int(tok)]
                else:
                    raise SchemaGenError("%s: $ref %r does not resolve" % (where, ref))
        return target, node, "%s#%s" % (target.file, frag)

    # -- schema nodes --------------------------------------------------------

    def fn(self, doc, schema, where):
        """Name of a function checking x against ``schema`` (raises _E)."""
        if schema is True:
            return "_any"
        if schema is False:
            return "_false"
        if not isinstance(schema, dict):
            raise SchemaGenError("%s: a schema must be an object or a boolean" % where)
        self.check_keywords(schema, where, doc)
        if "definitions" in schema and id(schema) not in self.defs_done:
            self.defs_done.add(id(schema))
            defs = schema["definitions"]
            if not isinstance(defs, dict):
                raise SchemaGenError("%s/definitions: must be an object" % where)
            saved, self.resolving = self.resolving, set()
            try:
                for name, sub in defs.items():
                    self.fn(doc, sub, "%s/definitions/%s" % (where, _ptr_escape(name)))
            finally:
                self.resolving = saved
        if "$ref" in schema:
            extra = set(schema) - REF_SIBLINGS
            if extra:
                raise SchemaGenError(
                    "%s: keywords beside $ref are ignored by Draft 7 (%s); "
                    "wrap them in allOf" % (where, ", ".join(sorted(extra))))
            ref = schema["$ref"]
            key = (doc.path, "$ref", ref)
            if key in self.resolving:
                raise SchemaGenError("%s: $ref %r loops without a check" % (where, ref))
            self.resolving.add(key)
            try:
                target, node, twhere = self.resolve(doc, ref, where)
                return self.fn(target, node, twhere)
            finally:
                self.resolving.discard(key)
        body_keys = set(schema) - ANNOTATIONS - {"$schema", "$id", "definitions"}
        if not body_keys:
            return "_any"
        canon = json.dumps({k: v for k, v in schema.items() if k not in ANNOTATIONS},
                           sort_keys=True)
        key = (doc.path, canon)
        name = self.memo.get(key)
        if name is None:
            name = self.memo[key] = self._new("_v")
            saved, self.resolving = self.resolving, set()
            try:
                lines = self.body(doc, schema, where)
            finally:
                self.resolving = saved
            self.funcs.append("# %s\ndef %s(x):\n%s\n" % (where, name, "\n".join(lines)))
        return name

    def check_keywords(self, s, where, doc):
        for k in s:
            if k not in SUPPORTED_KEYWORDS:
                raise SchemaGenError("%s: unsupported JSON Schema keyword %r" % (where, k))

        def bad(k, what):
            raise SchemaGenError("%s/%s: %s" % (where, k, what))

        root = where == doc.file + "#"
        if "$schema" in s:
            if not root:
                bad("$schema", "allowed only at a document's root")
            if s["$schema"] not in DRAFT7_URIS:
                bad("$schema", "only Draft 7 is supported, not %r" % (s["$schema"],))
        if "$id" in s and not root:
            bad("$id", "allowed only at a document's root")
        if "$ref" in s and not isinstance(s["$ref"], str):
            bad("$ref", "must be a string")
        if "type" in s:
            t = s["type"]
            ts = [t] if isinstance(t, str) else t
            if (not isinstance(ts, list) or not ts or len(set(map(str, ts))) != len(ts)
                    or any(x not in JSON_TYPES for x in ts)):
                bad("type", "must be one of %s or a list of them" % ", ".join(JSON_TYPES))
        for k in ("properties", "patternProperties"):
            if k in s and not isinstance(s[k], dict):
                bad(k, "must be an object")
        if "required" in s:
            r = s["required"]
            if (not isinstance(r, list) or not all(isinstance(x, str) for x in r)
                    or len(set(r)) != len(r)):
                bad("required", "must be a list of distinct strings")
        for k in ("additionalProperties", "items", "not"):
            if k in s and not isinstance(s[k], (dict, bool)):
                if k == "items" and isinstance(s[k], list):
                    bad(k, "an array of schemas (tuple validation) is not supported")
                bad(k, "must be a schema")
        for k in ("minItems", "maxItems", "minLength", "maxLength"):
            if k in s and not _is_count(s[k]):
                bad(k, "must be a non-negative integer")
        if "uniqueItems" in s and not isinstance(s["uniqueItems"], bool):
            bad("uniqueItems", "must be a boolean")
        if "enum" in s and not isinstance(s["enum"], list):
            bad("enum", "must be an array")
        if "pattern" in s and not isinstance(s["pattern"], str):
            bad("pattern", "must be a string")
        for k in ("minimum", "maximum", "exclusiveMinimum"):
            if k in s and not _is_number(s[k]):
                bad(k, "must be a number")
        for k in ("oneOf", "anyOf", "allOf"):
            if k in s and (not isinstance(s[k], list) or not s[k]):
                bad(k, "must be a non-empty array of schemas")

    def body(self, doc, s, where):
        L = []
        emit = L.append
        types = s.get("type")
        if isinstance(types, str):
            types = [types]
        known = None  # JSON types x is known to have after the type check
        if types is not None:
            known = set(types)
            if "number" in known:
                known.add("integer")
                exprs = [TYPE_EXPR[t] for t in types if t != "integer"]
            else:
                exprs = [TYPE_EXPR[t] for t in types]
            cond = exprs[0] if len(exprs) == 1 else " or ".join("(%s)" % e for e in exprs)
            emit("    if not (%s):" % cond)
            # _mistyped raises, but lets collect()'s _SKIP through (see RUNTIME):
            # the rest of the node's checks then do not see it
            emit("        return _mistyped(x, %r)" % _tmpl("is not of type " + ", ".join(types)))

        def family(fam, lines):
            """Emit ``lines`` (indented 4), guarded so they see only ``fam`` instances."""
            if not lines:
                return
            ft = FAMILY_TYPES[fam]
            if known is not None and not (known & ft):
                return  # can never apply
            if known is not None and known <= ft:
                L.extend("    " + ln for ln in lines)
            else:
                emit("    if %s:" % FAMILY_GUARD[fam])
                L.extend("        " + ln for ln in lines)

        if "enum" in s:
            self.enum(s["enum"], known, emit)
        if "const" in s:
            self.const_check(s["const"], known, emit)

        lines = []
        if "minLength" in s:
            lines += ["if len(x) < %d:" % s["minLength"], "    raise _E(x, '%s is too short')"]
        if "maxLength" in s:
            lines += ["if len(x) > %d:" % s["maxLength"], "    raise _E(x, '%s is too long')"]
        if "pattern" in s:
            p = s["pattern"]
            lines += ["if %s.search(x) is None:" % self.regex(p, where + "/pattern"),
                      "    raise _E(x, %r)" % _tmpl('does not match "%s"' % p)]
        family("string", lines)

        lines = []
        if "minimum" in s:
            m = s["minimum"]
            lines += ["if x < %r:" % m,
                      "    raise _E(x, %r)" % _tmpl("is less than the minimum of %s" % json.dumps(m))]
        if "exclusiveMinimum" in s:
            m = s["exclusiveMinimum"]
            lines += ["if x <= %r:" % m,
                      "    raise _E(x, %r)" % _tmpl(
                          "is less than or equal to the minimum of %s" % json.dumps(m))]
        if "maximum" in s:
            m = s["maximum"]
            lines += ["if x > %r:" % m,
                      "    raise _E(x, %r)" % _tmpl("is greater than the maximum of %s" % json.dumps(m))]
        family("number", lines)

        lines = []
        if "minItems" in s:
            lines += ["if len(x) < %d:" % s["minItems"], "    raise _E(x, '%s is too short')"]
        if "maxItems" in s:
            lines += ["if len(x) > %d:" % s["maxItems"], "    raise _E(x, '%s is too long')"]
        if s.get("uniqueItems"):
            lines += ["if len(x) > 1 and not _uniq(x):",
                      "    if not _has(x):",
                      "        raise _E(x, '%s has non-unique elements')"]
        family("array", lines)

        lines = []
        for r in s.get("required", ()):
            lines += ["if %r not in x:" % r, "    raise _E(%r, %r)" % (r, _name_rules()[0])]
        family("object", lines)

        for i, sub in enumerate(s.get("allOf", ())):
            f = self.fn(doc, sub, "%s/allOf/%d" % (where, i))
            if f != "_any":
                emit("    %s(x)" % f)

        if "items" in s:
            f = self.fn(doc, s["items"], where + "/items")
            if f != "_any":
                family("array", [
                    "for i, y in enumerate(x):",
                    "    try:",
                    "        %s(y)" % f,
                    "    except _E as e:",
                    "        e.segs.append(i)",
                    "        raise",
                ])

        family("object", self.object_children(doc, s, where))

        if "anyOf" in s:
            fs = [self.fn(doc, sub, "%s/anyOf/%d" % (where, i)) for i, sub in enumerate(s["anyOf"])]
            if "_any" not in fs:
                t = self.const("_A", "(%s,)" % ", ".join(fs))
                L.extend([
                    "    for f in %s:" % t,
                    "        try:",
                    "            f(x)",
                    "        except _E:",
                    "            continue",
                    "        break",
                    "    else:",
                    "        raise _E(x, '%s is not valid under any of the given schemas')",
                ])
        if "oneOf" in s:
            fs = [self.fn(doc, sub, "%s/oneOf/%d" % (where, i)) for i, sub in enumerate(s["oneOf"])]
            t = self.const("_A", "(%s,)" % ", ".join(fs))
            L.extend([
                "    n = 0",
                "    for f in %s:" % t,
                "        try:",
                "            f(x)",
                "        except _E:",
                "            continue",
                "        if n:",
                "            if not _has(x):",
                "                raise _E(x, '%s is valid under more than one of the given schemas')",
                "        n = 1",
                "    if not n:",
                "        raise _E(x, '%s is not valid under any of the given schemas')",
            ])
        if "not" in s:
            sub = s["not"]
            f = self.fn(doc, sub, where + "/not")
            shown = sub if isinstance(sub, bool) else {
                k: v for k, v in sub.items() if k not in ANNOTATIONS}
            msg = _tmpl("should not be valid under %s" % _render(shown))
            if f == "_any":
                emit("    if x is not _SKIP:")
                emit("        raise _E(x, %r)" % msg)
            elif f != "_false":
                L.extend([
                    "    try:",
                    "        %s(x)" % f,
                    "    except _E:",
                    "        pass",
                    "    else:",
                    "        if not _has(x):",
                    "            raise _E(x, %r)" % msg,
                ])
        if not L:
            emit("    pass")
        return L

    @staticmethod
    def failing(known, values, raise_line, emit):
        """Emit the failure branch of an enum or const check.

        collect() puts _SKIP where it reported a value: x may be _SKIP when
        no type check ran before (one would have returned), and an array or
        object may hold one.  Neither may fail a check: _SKIP stands for a
        value that was reported already.  Only a check that compares with an
        array or object can fail because of what x holds.
        """
        if any(isinstance(v, (list, dict)) for v in values) and (
                known is None or known & {"object", "array"}):
            emit("        if not _has(x):")
        elif known is None:
            emit("        if x is not _SKIP:")
        else:
            emit(raise_line)
            return
        emit("    " + raise_line)

    def enum(self, values, known, emit):
        msg = _tmpl("is not one of %s" % _render(values))
        if values and all(isinstance(v, str) for v in values):
            lit = "{%s}" % ", ".join(repr(v) for v in dict.fromkeys(values))
            if known is not None and known == {"string"}:
                emit("    if x not in %s:" % lit)
            else:
                emit("    if not isinstance(x, str) or x not in %s:" % lit)
        else:
            c = self.const("_C", repr(tuple(values)))
            emit("    if not _in(x, %s):" % c)
        self.failing(known, values, "        raise _E(x, %r)" % msg, emit)

    def const_check(self, value, known, emit):
        msg = "%s was expected"
        if isinstance(value, str):
            emit("    if x != %r:" % value)
            line = "        raise _E(%r, %r)" % (value, msg)
        elif value is None or isinstance(value, bool):
            emit("    if x is not %r:" % value)
            line = "        raise _E(%r, %r)" % (value, msg)
        elif _is_number(value):
            emit("    if x != %r or x is True or x is False:" % value)
            line = "        raise _E(%r, %r)" % (value, msg)
        else:
            c = self.const("_C", repr(value))
            emit("    if not _eq(x, %s):" % c)
            line = "        raise _E(%s, %r)" % (c, msg)
        self.failing(known, [value], line, emit)

    def object_children(self, doc, s, where):
        props = s.get("properties", {})
        pats = s.get("patternProperties", {})
        addl = s.get("additionalProperties", True)
        addl_f = None if addl is True else self.fn(doc, addl, where + "/additionalProperties")
        if addl_f == "_any":
            addl_f = None
        pmap = {}
        for k, sub in props.items():
            f = self.fn(doc, sub, "%s/properties/%s" % (where, _ptr_escape(k)))
            if f != "_any" or addl_f is not None:
                pmap[k] = f
        plist = []
        for p, sub in pats.items():
            f = self.fn(doc, sub, "%s/patternProperties/%s" % (where, _ptr_escape(p)))
            rx = self.regex(p, "%s/patternProperties/%s" % (where, _ptr_escape(p)))
            if f != "_any" or addl_f is not None:
                plist.append((rx, f))
        if not pmap and not plist and addl_f is None:
            return []
        lines = ["for k, y in x.items():"]
        track = addl_f is not None and (pmap or plist)

        def call(f, ind):
            return [ind + "try:", ind + "    %s(y)" % f, ind + "except _E as e:",
                    ind + "    e.segs.append(k)", ind + "    raise"]

        if pmap:
            pm = self.const("_P", "{%s}" % ", ".join("%r: %s" % kv for kv in pmap.items()))
            lines.append("    f = %s.get(k)" % pm)
            if not plist and addl_f is not None:
                # a plain property, or an additional one
                lines.append("    if f is None:")
                lines.extend(self.additional(addl_f, "        ", call))
                lines.append("    elif f is not _any:")
                lines.extend(call("f", "        "))
                return lines
            lines.append("    if f is not None:")
            lines.extend(call("f", "        "))
            if track:
                lines.append("    m = f is not None")
        elif track:
            lines.append("    m = False")
        for rx, f in plist:
            lines.append("    if %s.search(k) is not None:" % rx)
            if track:
                lines.append("        m = True")
            if f != "_any":
                lines.extend(call(f, "        "))
        if addl_f is not None:
            if track:
                lines.append("    if not m:")
                lines.extend(self.additional(addl_f, "        ", call))
            else:
                lines.extend(self.additional(addl_f, "    ", call))
        return lines

    @staticmethod
    def additional(f, ind, call):
        if f == "_false":
            # collect() marks a reported property (or a required one it
            # added) with _SKIP
            return [ind + "if y is not _SKIP:",
                    ind + "    raise _E(k, %r)" % _name_rules()[1]]
        return call(f, ind)


RUNTIME = r'''

class _E(Exception):
    """Internal: a violation; segs collects the path, innermost first."""

    def __init__(self, v, t):
        self.v = v
        self.t = t
        self.segs = []


def _fail(e):
    from pyrunc.config.errors import ValidationError, render
    path = "".join("/" + str(s).replace("~", "~0").replace("/", "~1")
                   for s in reversed(e.segs))
    raise ValidationError(path, e.t % (render(e.v),)) from None


def _any(x):
    pass


def _false(x):
    if x is not _SKIP:
        raise _E(x, "False schema does not allow %s")


def _mistyped(x, t):
    # a type check's failure branch is "return _mistyped(x, t)", the same
    # size of code as "raise _E(x, t)": the node passes collect()'s _SKIP
    if x is not _SKIP:
        raise _E(x, t)


# collect() (pyrunc.config.errors.collect) puts _SKIP where a violation was
# and checks again: every check accepts _SKIP, and those that look into an
# array or object do not fail for one they find there (_has).  The checks
# look for _SKIP only on their failure branches.
_SKIP = object()
_ON = []     # while collect() runs: its test for "x is or holds _SKIP"


def _has(x):
    return _ON and _ON[-1](x)


def _isnum(x):
    if isinstance(x, bool):
        return False
    if isinstance(x, (int, float)):
        return True
    import numbers
    return isinstance(x, numbers.Number)


def _eq(a, b):
    """jsonschema's equality: true and 1 differ, 1 and 1.0 do not."""
    if a is b:
        return True
    if isinstance(a, str) or isinstance(b, str):
        return a == b
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_eq(i, j) for i, j in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return len(a) == len(b) and all(k in b and _eq(v, b[k]) for k, v in a.items())
    if a is True or a is False or b is True or b is False:
        return False
    return a == b


def _in(x, values):
    for v in values:
        if _eq(x, v):
            return True
    return False


def _key(v):
    # hashable stand-in with _eq's notion of equality
    if v is True or v is False:
        return (1, v)
    if isinstance(v, str):
        return (2, v)
    if isinstance(v, (list, tuple)):
        return (3, tuple(map(_key, v)))
    if isinstance(v, dict):
        return (4, frozenset((k, _key(w)) for k, w in v.items()))
    return (0, v)


def _uniq(x):
    try:
        if len(set(x)) == len(x):  # == is coarser than _eq: no collision, no duplicate
            return True
    except TypeError:
        pass
    return len({_key(v) for v in x}) == len(x)


def _c(i):
    """Compile pattern i once: from the code compiled at build time when this
    interpreter's regex engine matches the generator's, else with re."""
    r = None
    if _PRE is not None:
        import sys
        import _sre
        if tuple(sys.version_info[:2]) + (_sre.MAGIC, _sre.CODESIZE) == _PRE_TAG:
            flags, code, groups, groupindex, indexgroup = _PRE[i]
            try:
                r = _sre.compile(_PAT[i], flags, list(code), groups, dict(groupindex),
                                 indexgroup)
            except Exception:
                r = None
    if r is None:
        import re
        r = re.compile(_PAT[i])
    _RX[i] = r
    return r

'''


def _precompile(patterns):
    """(tag, per-pattern _sre.compile arguments), or (None, None) if unavailable."""
    try:
        import _sre
        from re import _compiler, _parser
        out = []
        for p in patterns:
            parsed = _parser.parse(p, 0)
            code = _compiler._code(parsed, 0)
            groupindex = dict(parsed.state.groupdict)
            indexgroup = [None] * parsed.state.groups
            for k, i in groupindex.items():
                indexgroup[i] = k
            args = (int(parsed.state.flags), tuple(int(c) for c in code), parsed.state.groups - 1,
                    groupindex, tuple(indexgroup))
            # must build the very pattern re.compile builds
            import re
            a = _sre.compile(p, args[0], list(args[1]), args[2], args[3], args[4])
            b = re.compile(p)
            if (a.flags, a.groups, a.groupindex) != (b.flags, b.groups, b.groupindex):
                return None, None
            out.append(args)
        tag = tuple(sys.version_info[:2]) + (_sre.MAGIC, _sre.CODESIZE)
        return tag, tuple(out)
    except Exception:
        return None, None


def generate(schema_paths):
    """Python source of a validator module for the given schema files."""
    if not schema_paths:
        raise SchemaGenError("no schema files given")
    docs = [_load(p, listed=True) for p in schema_paths]
    seen = {}
    for d in docs:
        if d.ident in seen:
            raise SchemaGenError("%s and %s give the same validator name validate_%s"
                                 % (seen[d.ident], d.path, d.ident))
        seen[d.ident] = d.path
    g = _Gen(docs)
    roots = [(d, g.fn(d, d.data, d.file + "#")) for d in docs]

    # the names validate() accepts
    names = {}
    for d, f in roots:
        for n in (d.name, d.file) + ((d.id, d.id.rstrip("#")) if d.id else ()):
            names.setdefault(n, f)
    for d, _ in roots:
        defs = d.data.get("definitions", {}) if isinstance(d.data, dict) else {}
        for name, sub in defs.items():
            f = g.fn(d, sub, "%s#/definitions/%s" % (d.file, _ptr_escape(name)))
            names.setdefault("%s#/definitions/%s" % (d.name, name), f)
            names.setdefault("%s#/definitions/%s" % (d.file, name), f)
    for d, _ in roots:
        defs = d.data.get("definitions", {}) if isinstance(d.data, dict) else {}
        for name, sub in defs.items():
            names.setdefault(name.lower(), names["%s#/definitions/%s" % (d.name, name)])

    tag, pre = _precompile(g.patterns)
    out = []
    w = out.append
    w('"""Schema validator generated by pyrunc.config.schemagen. DO NOT EDIT.\n\n'
      "Sources: %s\n\n"
      "validate(name, doc) and validate_<name>(doc) raise\n"
      "pyrunc.config.errors.ValidationError on the first violation;\n"
      "collect(name, doc) returns them all.\n"
      '"""\n' % ", ".join(d.file for d in docs if d.listed))
    w("# Generated; regenerate with:\n#   python -m pyrunc.config.schemagen OUT.py %s\n"
      % " ".join(d.file for d in docs if d.listed))
    w("SOURCES = %r\n" % {d.name: d.sha256 for d in g.docs})
    w(RUNTIME)
    w("_PAT = %r\n" % (tuple(g.patterns),))
    w("_RX = [None] * %d\n" % len(g.patterns))
    w("_PRE_TAG = %r\n" % (tag,))
    w("_PRE = %r\n\n\n" % (pre,))
    for src in g.funcs:
        w(src)
        w("\n")
    w("\n".join(g.consts))
    w("\n\n")
    for d, f in roots:
        if not d.listed:
            continue
        w("\ndef validate_%s(doc):\n"
          '    """Check doc against %s; raise ValidationError on the first violation."""\n'
          "    try:\n"
          "        %s(doc)\n"
          "    except _E as e:\n"
          "        _fail(e)\n\n" % (d.ident, d.file, f))
    w("\n_BY_NAME = {\n%s}\n" % "".join("    %r: %s,\n" % kv for kv in names.items()))
    w("SCHEMA_NAMES = tuple(_BY_NAME)\n\n\n"
      "def validate(schema_name, doc):\n"
      '    """Check doc against a schema or definition named by schema_name\n'
      '    ("config", "config.schema.json", its $id, "config#/definitions/Process",\n'
      '    or a bare lower-case definition name such as "process")."""\n'
      "    f = _BY_NAME.get(schema_name)\n"
      "    if f is None:\n"
      '        raise KeyError("unknown schema %r" % (schema_name,))\n'
      "    try:\n"
      "        f(doc)\n"
      "    except _E as e:\n"
      "        _fail(e)\n\n\n"
      "def collect(schema_name, doc, limit=100):\n"
      '    """Every violation, not only the first: a list of ValidationError,\n'
      '    [] when doc is valid (see pyrunc.config.errors.collect)."""\n'
      "    f = _BY_NAME.get(schema_name)\n"
      "    if f is None:\n"
      '        raise KeyError("unknown schema %r" % (schema_name,))\n'
      "    from pyrunc.config.errors import collect\n"
      "    return collect(f, doc, limit, _E, _SKIP, _ON)\n")
    src = "".join(out)
    compile(src, "<generated validator>", "exec")  # fail here, not at import
    return src


def write_module(out, schema_paths, pyc=True):
    """Generate, write ``out`` atomically and, unless pyc is false, its .pyc.

    The .pyc matters: compiling the generated source takes ~10 ms, loading
    the .pyc ~0.5 ms, and PYTHONDONTWRITEBYTECODE would stop the first
    import from writing one.
    """
    src = generate(schema_paths)
    out = os.fspath(out)
    tmp = out + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(src)
    os.replace(tmp, out)
    if pyc:
        import py_compile
        py_compile.compile(out, doraise=True)
    return out


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) < 2 or argv[0].startswith("-"):
        sys.stderr.write("usage: python -m pyrunc.config.schemagen OUT.py SCHEMA.json...\n")
        return 2
    try:
        write_module(argv[0], argv[1:])
    except SchemaGenError as e:
        sys.stderr.write("schemagen: %s\n" % e)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
