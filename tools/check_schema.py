#!/usr/bin/python3
"""Validate YAML files against a JSON Schema (draft 2020-12), with YAML line:column in the errors.

  check_schema.py SCHEMA FILE...

The schema is checked first (Draft202012Validator.check_schema). Each FILE is read the way ckconv
reads YAML (PyYAML's SafeLoader resolution; mapping keys as written; duplicate keys, merge keys and
non-scalar keys refused, as src/ydoc.c does) and validated. Prints `FILE: ok`, or one line per error:
`FILE:LINE:COL: error: PATH: MESSAGE`. Exit status 0 when every file is valid, 1 when some are not,
2 on bad usage or an invalid schema. Needs python3-jsonschema and python3-yaml (Debian).
"""
import datetime, difflib, json, sys

import jsonschema  # Debian python3-jsonschema (4.10: Draft202012Validator)
import yaml

MERGE_TAG = "tag:yaml.org,2002:merge"
MAX_NODES, MAX_DEPTH = 1000000, 64  # src/ydoc.h: YDOC_MAX_NODES, YDOC_MAX_DEPTH


class Problem(Exception):
    def __init__(self, node, message):
        super().__init__(message)
        self.node, self.message = node, message


class Doc:
    """A YAML document as JSON-like data plus the node of every value and mapping key."""

    def __init__(self, text):
        self.nodes = {}  # path tuple -> value node
        self.keys = {}   # path tuple -> key node (for paths ending in a mapping key)
        self.count = 0
        loader = yaml.SafeLoader(text)
        try:
            root = loader.get_single_node()
            self.empty = root is None
            self.data = None if root is None else self._walk(loader, root, ())
        finally:
            loader.dispose()

    def _walk(self, loader, node, path):
        self.nodes[path] = node
        self.count += 1
        if self.count > MAX_NODES:
            raise Problem(node, f"more than {MAX_NODES} nodes (aliases expanded)")
        if len(path) > MAX_DEPTH:
            raise Problem(node, f"nested deeper than {MAX_DEPTH}")
        if isinstance(node, yaml.ScalarNode):
            v = loader.construct_object(node, deep=True)
            if isinstance(v, (datetime.date, datetime.datetime)):
                v = node.value  # a timestamp stays text: JSON has no dates
            elif isinstance(v, bytes):
                v = v.decode("utf-8", "replace")
            return v
        if isinstance(node, yaml.SequenceNode):
            return [self._walk(loader, n, path + (i,)) for i, n in enumerate(node.value)]
        if not isinstance(node, yaml.MappingNode):
            raise Problem(node, f"unsupported YAML node {node.tag}")
        out, first = {}, {}
        for k, v in node.value:
            if not isinstance(k, yaml.ScalarNode):
                raise Problem(k, f"mapping keys must be scalars, found a {kind_of_node(k)}")
            if k.tag == MERGE_TAG:
                raise Problem(k, "merge keys are not supported")
            if k.value in first:
                m = first[k.value].start_mark
                raise Problem(k, f"duplicate key '{k.value}' (first defined at {m.line + 1}:{m.column + 1})")
            first[k.value] = k
            self.keys[path + (k.value,)] = k
            out[k.value] = self._walk(loader, v, path + (k.value,))
        return out


def kind_of_node(n):
    return "mapping" if isinstance(n, yaml.MappingNode) else "sequence" if isinstance(n, yaml.SequenceNode) else "scalar"


def kind(v):
    if v is None:
        return "null (an empty value)"
    if isinstance(v, bool):
        return "a boolean"
    if isinstance(v, int):
        return "an integer"
    if isinstance(v, float):
        return "a number"
    if isinstance(v, str):
        return "a string"
    return "a sequence" if isinstance(v, list) else "a mapping"


TYPE_WORDS = {"object": "a mapping", "array": "a sequence", "string": "a string", "integer": "an integer",
              "number": "a number", "boolean": "a boolean"}


def show(v):
    return json.dumps(v, ensure_ascii=False) if not isinstance(v, str) else f"'{v}'"


def either(words):
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]


def path_text(path):
    s = ""
    for p in path:
        s += f"[{p}]" if isinstance(p, int) else (("." if s else "") + str(p))
    return s


def near(word, choices):
    m = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1, cutoff=0.6)
    return f" (did you mean '{m[0]}'?)" if m else ""


def own_message(err):
    return isinstance(err.schema, dict) and "errorMessage" in err.schema


def pick(err):
    """The error to report for one top-level error: descend into anyOf/oneOf alternatives, into the one
    whose type fits the value (then the deepest of its errors); stop at a schema with its own errorMessage
    or when several alternatives fit equally."""
    while err.context and not own_message(err):
        branches = {}
        for e in err.context:
            branches.setdefault(e.relative_schema_path[0], []).append(e)
        # an alternative whose own type does not fit the value is not what the author meant
        fits = {b: es for b, es in branches.items()
                if not any(e.validator == "type" and len(e.absolute_path) == len(err.absolute_path) for e in es)}
        if len(fits) != 1:
            if fits:
                deepest = {b: max(len(e.absolute_path) for e in es) for b, es in fits.items()}
                top = max(deepest.values())
                fits = {b: es for b, es in fits.items() if deepest[b] == top}
            if len(fits) != 1:
                return err
        es = next(iter(fits.values()))
        err = max(es, key=lambda e: len(e.absolute_path))
    return err


def message(err):
    """(message, path of the node to point at, point at the key rather than the value)"""
    schema, kw = err.schema if isinstance(err.schema, dict) else {}, err.validator
    path = tuple(err.absolute_path)
    if err.schema is False:
        return "not allowed here", path, True
    in_names = len(err.schema_path) >= 2 and list(err.schema_path)[-2] == "propertyNames"
    if in_names:  # the instance is a key of the mapping at path
        if "errorMessage" in schema:
            return f"unknown key '{err.instance}': {schema['errorMessage']}", path + (err.instance,), True
        if kw == "enum":
            return (f"unknown key '{err.instance}' (expected one of: {', '.join(schema['enum'])})"
                    + near(err.instance, schema["enum"]), path + (err.instance,), True)
        if kw == "pattern":
            why = schema.get("patternErrorMessage", f"does not match {schema['pattern']}")
            return f"key '{err.instance}': {why}", path + (err.instance,), True
        return f"key '{err.instance}': {err.message}", path + (err.instance,), True
    if kw == "additionalProperties" and err.schema.get("additionalProperties") is False:
        allowed = list(err.schema.get("properties", {}))
        extra = [k for k in err.instance if k not in allowed]
        if "errorMessage" in schema:
            return schema["errorMessage"], path + (extra[0],), True
        return (f"unknown key '{extra[0]}' (expected one of: {', '.join(allowed)})" + near(extra[0], allowed),
                path + (extra[0],), True)
    if kw in ("anyOf", "oneOf") and "errorMessage" not in schema:  # no alternative fits (pick() stopped)
        want = []
        for e in err.context:
            if e.validator == "type" and len(e.absolute_path) == len(path):
                vv = e.validator_value if isinstance(e.validator_value, list) else [e.validator_value]
                want += [t for t in vv if t not in want]
        typed = {e.relative_schema_path[0] for e in err.context
                 if e.validator == "type" and len(e.absolute_path) == len(path)}
        if len(typed) == len(err.validator_value):  # every alternative wants another type
            return f"expected {either([TYPE_WORDS.get(t, t) for t in want])}, found {kind(err.instance)}", \
                path, False
        return f"{show(err.instance)} does not fit any of the forms allowed here", path, False
    if kw == "type":
        want = err.validator_value if isinstance(err.validator_value, list) else [err.validator_value]
        if {"string", "number", "boolean"} <= set(want):
            words = ["a scalar"]
        else:
            words = [TYPE_WORDS.get(t, t) for t in want if t != "null"]
        return f"expected {either(words)}, found {kind(err.instance)}", path, False
    if kw == "pattern":
        why = schema.get("patternErrorMessage", f"does not match the pattern {schema['pattern']}")
        return f"{show(err.instance)}: {why}", path, False
    if "errorMessage" in schema:
        return schema["errorMessage"], path, False
    if kw == "enum":
        return (f"{show(err.instance)} is not one of: {', '.join(map(str, err.validator_value))}"
                + near(err.instance, err.validator_value), path, False)
    if kw == "required":
        missing = [k for k in err.validator_value if k not in err.instance]
        return f"missing key '{missing[0]}'", path, False
    return err.message, path, False


def position(doc, path, at_key):
    node = doc.keys.get(path) if at_key else None
    while node is None:
        node = doc.nodes.get(path)
        path = path[:-1]
    m = node.start_mark
    return m.line + 1, m.column + 1


def check(validator, name):
    try:
        with open(name, encoding="utf-8") as f:
            text = f.read()
    except (OSError, UnicodeDecodeError) as e:
        return [f"{name}:1:1: error: cannot read: {e}"]
    try:
        doc = Doc(text)
    except yaml.MarkedYAMLError as e:
        m = e.problem_mark or e.context_mark
        return [f"{name}:{m.line + 1}:{m.column + 1}: error: {e.problem or e.context}"]
    except yaml.YAMLError as e:
        return [f"{name}:1:1: error: {e}"]
    except Problem as p:
        m = p.node.start_mark
        return [f"{name}:{m.line + 1}:{m.column + 1}: error: {p.message}"]
    if doc.empty:
        return [f"{name}:1:1: error: empty file"]
    found = {}
    for top in validator.iter_errors(doc.data):
        err = pick(top)
        msg, path, at_key = message(err)
        line, col = position(doc, path, at_key)
        where = path_text(tuple(err.absolute_path))
        text = f"{name}:{line}:{col}: error: " + (f"{where}: " if where else "") + msg
        # an unknown key fails both the rule's key list and its variant's (propertyNames, more specific):
        # one error per key
        place = (line, col, "key" if at_key else msg)
        rank = 0 if "propertyNames" in err.schema_path else 1
        if place not in found or rank < found[place][0]:
            found[place] = (rank, text)
    return [found[k][1] for k in sorted(found)]


def main(argv):
    if len(argv) > 1 and argv[1] in ("-h", "--help"):
        print(__doc__.strip())
        return 0
    if len(argv) < 3:
        print("usage: check_schema.py SCHEMA FILE...", file=sys.stderr)
        return 2
    try:
        with open(argv[1], encoding="utf-8") as f:
            schema = json.load(f)
        jsonschema.Draft202012Validator.check_schema(schema)
    except (OSError, ValueError) as e:
        print(f"{argv[1]}: error: cannot read the schema: {e}", file=sys.stderr)
        return 2
    except jsonschema.exceptions.SchemaError as e:
        print(f"{argv[1]}: error: not a valid draft 2020-12 schema: {path_text(tuple(e.absolute_path))}: "
              f"{e.message}", file=sys.stderr)
        return 2
    validator = jsonschema.Draft202012Validator(schema)
    bad = 0
    for name in argv[2:]:
        errors = check(validator, name)
        if errors:
            bad += 1
            print("\n".join(errors))
        else:
            print(f"{name}: ok")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
