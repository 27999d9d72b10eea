# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Validating an Airlock Rego policy before it is deployed.

Airlock queries ``data.airlock.authz.allow``; only boolean ``true`` allows.
A policy is fit to deploy when

1. every module parses and compiles as OPA v1 would compile it;
2. every *known request* (an input document and the expected ``allow`` or
   ``deny``) gets the expected decision;
3. optionally, every ``test_*`` rule is true (what ``opa test`` checks).

Evaluation uses the real Rego engine ``regopy`` (rego-cpp). What was learned
about regopy 1.5.2, and how this file copes with it:

* it **crashes the process** (SIGSEGV) on some valid modules (``with input
  as <object>`` applied to a rule that uses other rules, typical of
  ``test_*`` rules), whatever the query, so every engine call runs in a child
  Python process (``ENGINE_WORKER``): a crash becomes an error on the one item
  being evaluated, never a dead module. Decisions are evaluated without the
  policy's ``test_*`` rules, and test rules' ``with input as {"k": v}`` is
  evaluated as the equivalent ``with input["k"] as v`` (which does not crash);
* ``Interpreter.query`` returns the text ``undefined`` when a rule is
  undefined, and its ``Output`` object fails to parse runtime errors; the
  worker uses the low-level calls and hands back the output *text*, which is
  parsed here as JSON (``Output.expressions()`` aborted the process);
* compile errors raise ``RegoError`` whose text is an AST dump
  (``(error 8:file.rego|46|2 (errormsg 16:this is unclosed) ...)``):
  ``parse_engine_error`` extracts the message and turns the byte offset into
  ``file:line:col``;
* it is laxer than OPA at compile time: it accepts Rego v0 rule bodies without
  ``if``, unsafe variables and calls to undefined functions (which only fail
  when reached). ``static_check`` reports those the way ``opa check`` does:
  ``if`` keyword required, ``undefined function``, deprecated built-ins, and
  unsafe variables that occur once in a rule and cannot be bound there (a
  conservative subset: it never refuses a policy OPA compiles, it may miss a
  subtle unsafe variable);
* it lacks some OPA built-ins (``net.cidr_*``, ``http.send``, ``print``...):
  a decision that reaches one is reported as an engine error, never guessed.

The module does not import regopy itself: ``HAS_REGOPY`` tells whether the
interpreter running the module can, and the worker runs under the same
interpreter (``sys.executable``).
"""

from __future__ import annotations

import bisect
import json
import os
import re
import signal
import subprocess
import sys

try:
    import regopy  # noqa: F401  (only probed here; the engine runs in ENGINE_WORKER)

    HAS_REGOPY = True
    REGOPY_IMPORT_ERROR = None
    REGOPY_VERSION = getattr(regopy, "__version__", "unknown")
except Exception as _exc:  # ImportError, or OSError when librego_shared cannot load
    HAS_REGOPY = False
    REGOPY_IMPORT_ERROR = _exc
    REGOPY_VERSION = None

#: The rule Airlock queries, as a package path and a rule name.
AIRLOCK_PACKAGE = "airlock.authz"
AIRLOCK_RULE = "allow"
AIRLOCK_QUERY = "data.airlock.authz.allow"

#: Input keys the Airlock policy engine sends (interface notes, section 7).
INPUT_KEYS = ("sub", "tenant", "groups", "tool", "resource", "method", "headers",
              "virtual_uri", "real_path", "root_type", "read_only", "operation")

#: Seconds one engine child may run before it is killed.
ENGINE_TIMEOUT = 120.0

#: Built-in functions of OPA v1.22.3 (``opa capabilities --current``), without
#: the infix operators and the deprecated ones.
OPA_BUILTINS = frozenset("""
abs array.concat array.flatten array.reverse array.slice base64.decode base64.encode base64.is_valid
base64url.decode base64url.encode base64url.encode_no_pad bits.and bits.lsh bits.negate bits.or bits.rsh
bits.xor ceil concat contains count crypto.hmac.equal crypto.hmac.md5 crypto.hmac.sha1 crypto.hmac.sha256
crypto.hmac.sha512 crypto.md5 crypto.parse_private_keys crypto.sha1 crypto.sha256
crypto.x509.parse_and_verify_certificates crypto.x509.parse_and_verify_certificates_with_options
crypto.x509.parse_certificate_request crypto.x509.parse_certificates crypto.x509.parse_keypair
crypto.x509.parse_rsa_private_key endswith floor format_int glob.match glob.quote_meta graph.reachable
graph.reachable_paths graphql.is_valid graphql.parse graphql.parse_and_verify graphql.parse_query
graphql.parse_schema graphql.schema_is_valid hex.decode hex.encode http.send indexof indexof_n internal.print
internal.template_string internal.test_case intersection io.jwt.decode io.jwt.decode_verify io.jwt.encode_sign
io.jwt.encode_sign_raw io.jwt.verify_eddsa io.jwt.verify_es256 io.jwt.verify_es384 io.jwt.verify_es512
io.jwt.verify_hs256 io.jwt.verify_hs384 io.jwt.verify_hs512 io.jwt.verify_ps256 io.jwt.verify_ps384
io.jwt.verify_ps512 io.jwt.verify_rs256 io.jwt.verify_rs384 io.jwt.verify_rs512 is_array is_boolean is_null
is_number is_object is_set is_string json.filter json.is_valid json.marshal json.marshal_with_options
json.match_schema json.patch json.remove json.unmarshal json.verify_schema lower max min net.cidr_contains
net.cidr_contains_matches net.cidr_expand net.cidr_intersects net.cidr_is_valid net.cidr_merge
net.lookup_ip_addr numbers.range numbers.range_step object.filter object.get object.keys object.remove
object.subset object.union object.union_n opa.runtime print product providers.aws.sign_req rand.intn
regex.find_all_string_submatch_n regex.find_n regex.globs_match regex.is_valid regex.match regex.replace
regex.split regex.template_match rego.metadata.chain rego.metadata.rule rego.parse_module replace round
semver.compare semver.is_valid sort split sprintf startswith strings.any_prefix_match strings.any_suffix_match
strings.count strings.render_template strings.replace_n strings.reverse strings.split_n substring sum
time.add_date time.clock time.date time.diff time.format time.now_ns time.parse_duration_ns time.parse_ns
time.parse_rfc3339_ns time.weekday to_number trace trim trim_left trim_prefix trim_right trim_space
trim_suffix type_name union units.parse units.parse_bytes upper uri.is_valid uri.parse urlquery.decode
urlquery.decode_object urlquery.encode urlquery.encode_object uuid.parse uuid.rfc4122 walk yaml.is_valid
yaml.marshal yaml.unmarshal
""".split())

#: Built-ins OPA v1 refuses ("deprecated built-in function calls in expression").
OPA_DEPRECATED_BUILTINS = frozenset(
    ["all", "any", "cast_array", "cast_boolean", "cast_null", "cast_object", "cast_set", "cast_string",
     "net.cidr_overlap", "re_match", "set_diff"])

KEYWORDS = frozenset(["package", "import", "as", "default", "else", "if", "not", "some", "every", "in",
                      "contains", "with", "true", "false", "null"])

_CONTINUATION = frozenset([":=", "=", "==", "!=", "<", ">", "<=", ">=", "+", "-", "*", "/", "%", "&", "|",
                           ",", ".", ":", "if", "else", "contains", "in", "as", "with", "not", "default",
                           "some", "every"])
_TERM_END_KINDS = ("ident", "string", "raw", "number")

_TOKEN_RE = re.compile(r"""
 (?P<nl>\r\n|\n|\r)
|(?P<ws>[ \t\f\v]+)
|(?P<comment>\#[^\r\n]*)
|(?P<string>"(?:[^"\\\r\n]|\\.)*")
|(?P<raw>`[^`]*`)
|(?P<number>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
|(?P<ident>[A-Za-z_][A-Za-z0-9_]*)
|(?P<op>:=|==|!=|<=|>=|[=<>+\-*/%&|{}\[\](),;.:])
|(?P<bad>.)
""", re.VERBOSE | re.DOTALL)


class RegoCheckError(Exception):
    """The check itself could not run (not: the policy is bad)."""


# ---------------------------------------------------------------------------
# results
# ---------------------------------------------------------------------------


def make_error(filename, line, col, code, message):
    return {"file": filename, "line": line, "col": col, "code": code, "message": message}


def format_error(error):
    """``file:line:col: code: message`` (the form ``opa check`` prints, with a column)."""
    where = error.get("file") or "<policy>"
    if error.get("line"):
        where += ":%d" % error["line"]
        if error.get("col"):
            where += ":%d" % error["col"]
    code = error.get("code")
    return "%s: %s%s" % (where, (code + ": ") if code else "", error.get("message", ""))


class _Lines(object):
    """Byte offset -> (line, column) for one source text (both 1-based)."""

    def __init__(self, text):
        self.data = text.encode("utf-8")
        self.starts = [0]
        for index, byte in enumerate(bytearray(self.data)):
            if byte == 10:
                self.starts.append(index + 1)

    def position(self, offset):
        offset = max(0, min(int(offset), len(self.data)))
        line = bisect.bisect_right(self.starts, offset)
        column = len(self.data[self.starts[line - 1]:offset].decode("utf-8", "replace")) + 1
        return line, column


def _length_prefixed(text, pos):
    """(value, end) for ``<n>:<n chars>`` at ``pos``; (None, pos) when absent."""
    match = re.compile(r"(\d+):").match(text, pos)
    if not match:
        return None, pos
    size = int(match.group(1))
    start = match.end()
    return text[start:start + size], start + size


def parse_engine_error(text, sources, default_file=None, code="rego_parse_error"):
    """Errors from a regopy ``RegoError`` text (an AST dump) or a ``(error ...)`` output.

    ``sources`` maps module name to source text, to turn byte offsets into
    line and column. Returns a list of ``make_error`` dicts (at least one).
    """
    text = str(text or "")
    errors = []
    for match in re.finditer(r"\(error\b", text):
        pos = match.end()
        while pos < len(text) and text[pos] in " \t\r\n":
            pos += 1
        filename = line = col = None
        name, after = _length_prefixed(text, pos)
        if name is not None:
            location = re.compile(r"\|(\d+)\|(\d+)").match(text, after)
            if location:
                filename = name
                if name in sources:
                    line, col = _Lines(sources[name]).position(int(location.group(1)))
        message = None
        msg_at = text.find("(errormsg", pos)
        if msg_at >= 0:
            value, dummy = _length_prefixed(text, msg_at + len("(errormsg") + 1)
            message = value
        if message is None:
            continue
        errors.append(make_error(filename or default_file, line, col, code, message.strip()))
    if not errors:
        stripped = " ".join(text.split())
        errors.append(make_error(default_file, None, None, code, stripped[:500] or "unknown engine error"))
    errors.sort(key=lambda e: (e["file"] or "", e["line"] or 0, e["col"] or 0))
    return errors


# ---------------------------------------------------------------------------
# static checks (what OPA's compiler refuses and rego-cpp accepts)
# ---------------------------------------------------------------------------


class Token(object):
    __slots__ = ("kind", "text", "line", "col", "start", "index", "scope", "containers")

    def __init__(self, kind, text, line, col, start=0):
        self.start = start
        self.kind = kind
        self.text = text
        self.line = line
        self.col = col
        self.index = 0
        self.scope = None
        self.containers = ()

    def __repr__(self):
        return "Token(%s %r %d:%d)" % (self.kind, self.text, self.line, self.col)


def tokenize(text):
    """Significant tokens (``nl`` included, comments and blanks dropped); None if unlexable."""
    tokens = []
    line, line_start = 1, 0
    for match in _TOKEN_RE.finditer(text):
        kind = match.lastgroup
        value = match.group()
        start = match.start()
        if kind == "bad":
            return None
        if kind not in ("ws", "comment"):
            tokens.append(Token(kind, value, line, start - line_start + 1, start))
        newlines = value.count("\n") + (value.count("\r") if "\n" not in value else 0)
        if newlines:
            line += newlines
            line_start = start + max(value.rfind("\n"), value.rfind("\r")) + 1
    return tokens


def _significant(tokens):
    return [t for t in tokens if t.kind != "nl"]


def split_statements(tokens):
    """Top-level statements (lists of tokens, ``nl`` kept inside brackets)."""
    statements = []
    current = []
    depth = 0
    pending_break = False
    for token in tokens:
        if token.kind == "nl":
            if depth == 0:
                pending_break = bool(current)
            else:
                current.append(token)
            continue
        if pending_break:
            previous = _significant(current)[-1] if _significant(current) else None
            continues = token.text == "else" or (
                previous is not None and previous.kind in ("op", "ident") and previous.text in _CONTINUATION)
            if not continues:
                statements.append(current)
                current = []
            pending_break = False
        current.append(token)
        if token.text in ("(", "[", "{"):
            depth += 1
        elif token.text in (")", "]", "}"):
            depth = max(0, depth - 1)
    if current:
        statements.append(current)
    return statements


class Module(object):
    """What the static checks need to know about one Rego module."""

    def __init__(self, name, text):
        self.name = name
        self.text = text
        self.tokens = tokenize(text)
        self.lexable = self.tokens is not None
        self.package = None
        self.imports = set()
        self.import_paths = {}   # alias -> dotted path (data.airlock.lib)
        self.rules = []          # (name, statement tokens, kind) kind: rule|function|default
        self.rule_names = set()
        self.function_names = set()
        if not self.lexable:
            return
        for statement in split_statements(self.tokens):
            words = _significant(statement)
            if not words:
                continue
            first = words[0].text
            if first == "package":
                self.package = ".".join(t.text for t in words[1:] if t.text != ".")
            elif first == "import":
                path = [t.text for t in words[1:] if t.text != "."]
                alias = None
                if "as" in path:
                    at = path.index("as")
                    alias = path[at + 1] if at + 1 < len(path) else None
                    path = path[:at]
                elif path:
                    alias = path[-1]
                if alias:
                    self.imports.add(alias)
                    self.import_paths[alias] = ".".join(path)
            elif first == "default":
                if len(words) > 1:
                    self.rule_names.add(words[1].text)
                    self.rules.append((words[1].text, statement, "default"))
            elif words[0].kind == "ident":
                name = self._head_name(words)
                kind = "rule"
                after = len(name.split(".")) * 2 - 1
                if after < len(words) and words[after].text == "(":
                    kind = "function"
                    self.function_names.add(name)
                self.rule_names.add(name.split(".", 1)[0])
                self.rules.append((name, statement, kind))

    @staticmethod
    def _head_name(words):
        parts = [words[0].text]
        index = 1
        while index + 1 < len(words) and words[index].text == "." and words[index + 1].kind == "ident":
            parts.append(words[index + 1].text)
            index += 2
        return ".".join(parts)

    def without_test_rules(self):
        """The source with every ``test_*`` rule blanked out (line numbers kept).

        Airlock never queries test rules, and regopy 1.5.2 crashes on a module
        where a test rule uses ``with input as <object>`` on a rule that uses
        other rules, whatever the query; decisions are therefore evaluated
        without them.
        """
        if not self.lexable:
            return self.text
        text = self.text
        for name, statement, kind in reversed(self.rules):
            if not name.startswith("test_") or kind == "function":
                continue
            start = statement[0].start
            last = statement[-1]
            end = last.start + len(last.text)
            blank = "".join(ch if ch in "\r\n" else " " for ch in text[start:end])
            text = text[:start] + blank + text[end:]
        return text

    def with_input_rewritten(self):
        """The source where test rules' ``with input as {"k": v, ...}`` become ``with input["k"] as v ...``.

        Test rules are evaluated with an empty input, where patching each key
        (``with input["k"] as v``) builds exactly the object the literal
        replaces ``input`` with. regopy 1.5.2 crashes (SIGSEGV) on ``with input
        as <object>`` when the rule under test uses another rule, and does not
        on the per-key form. Objects with non-string keys, and ``with input as
        <variable>``, are left as written.
        """
        if not self.lexable:
            return self.text
        edits = []
        for name, statement, kind in self.rules:
            if not name.startswith("test_") or kind == "function":
                continue
            words = _significant(statement)
            for index in range(len(words) - 3):
                if (words[index].text == "with" and words[index + 1].text == "input" and words[index + 2].text == "as"
                        and words[index + 3].text == "{"):
                    edit = self._with_input_edit(words, index + 1)
                    if edit is not None:
                        edits.append(edit)
        text = self.text
        for start, end, replacement in sorted(edits, reverse=True):
            text = text[:start] + replacement + text[end:]
        return text

    def _with_input_edit(self, words, at):
        """(start, end, replacement) for ``input as {...}`` starting at ``words[at]``."""
        opening = at + 2
        depth = 0
        entries = []
        key = None
        value_start = None
        closing = None
        for index in range(opening, len(words)):
            token = words[index]
            if token.text in ("{", "[", "("):
                depth += 1
                if depth == 1:
                    continue
            elif token.text in ("}", "]", ")"):
                depth -= 1
                if depth == 0:
                    closing = index
                    if key is not None:
                        entries.append((key, value_start, token.start))
                    break
            if depth != 1:
                continue
            if key is None:
                if token.kind not in ("string", "raw") or index + 1 >= len(words) or words[index + 1].text != ":":
                    return None
                key = token
                value_start = words[index + 1].start + 1
            elif token.text == ",":
                entries.append((key, value_start, token.start))
                key = None
        if closing is None:
            return None
        start = words[at].start
        end = words[closing].start + 1
        original = self.text[start:end]
        parts = []
        for key_token, value_from, value_to in entries:
            key_text = key_token.text if key_token.kind == "string" else json.dumps(key_token.text[1:-1])
            parts.append("input[%s] as %s" % (key_text, self.text[value_from:value_to].strip()))
        if parts:
            replacement = " with ".join(parts)
        else:
            # ``with input as {}``: the empty input is what tests run with; drop the clause
            with_token = words[at - 1]
            start = with_token.start
            replacement = ""
        missing = original.count("\n") - replacement.count("\n")
        replacement += "\n" * max(0, missing)
        return start, end, replacement

    def test_rules(self):
        """Names of the ``test_*`` rules, in order, once each (what ``opa test`` runs)."""
        names = []
        for name, dummy, kind in self.rules:
            if kind != "function" and name.startswith("test_") and name not in names:
                names.append(name)
        return names


def _annotate(statement):
    """Give every token its expression scope and enclosing containers.

    Containers are ``[kind, open_token, comprehension]`` where kind is
    ``body`` (a rule, ``else`` or ``every`` body) or ``literal`` (array,
    set, object, parentheses). Expressions are separated by newlines and
    ``;`` in a body, and by ``|`` in a comprehension. Returns the list of
    ``{`` tokens that open a rule body without ``if`` (Rego v0 syntax).
    """
    v0_bodies = []
    stack = []   # each: {"kind", "open", "id", "expr"}
    head = {"kind": "head", "open": None, "id": 0, "expr": 0}
    counter = [0]

    def body_scope():
        for entry in reversed(stack):
            if entry["kind"] in ("body", "comp"):
                return entry
        return head

    previous = None
    expression_start = {}  # scope id -> first token of the current expression
    for index, token in enumerate(statement):
        token.index = index
        if token.kind == "nl" or token.text == ";":
            innermost = stack[-1] if stack else head
            if innermost["kind"] in ("body", "comp", "head"):
                innermost["expr"] += 1
            continue
        scope = body_scope()
        key = (scope["id"], scope["expr"])
        if token.text == "{":
            kind = "literal"
            starter = expression_start.get(key)
            if previous is not None and previous.text == "if":
                kind = "body"
            elif starter is not None and starter.text == "every":
                kind = "body"
            elif previous is not None and not stack and (
                    previous.kind in _TERM_END_KINDS and previous.text not in KEYWORDS - {"true", "false", "null"}
                    or previous.text in (")", "]", "}", "else")):
                kind = "body"
                v0_bodies.append(token)
            token.scope = key
            token.containers = tuple(stack)
            expression_start.setdefault(key, token)
            counter[0] += 1
            stack.append({"kind": kind, "open": token, "id": counter[0], "expr": 0, "prev": previous})
            previous = token
            continue
        if token.text in ("[", "("):
            token.scope = key
            token.containers = tuple(stack)
            expression_start.setdefault(key, token)
            counter[0] += 1
            stack.append({"kind": "literal", "open": token, "id": counter[0], "expr": 0, "prev": previous})
            previous = token
            continue
        if token.text in (")", "]", "}"):
            if stack:
                stack.pop()
            token.scope = body_scope()["id"], body_scope()["expr"]
            token.containers = tuple(stack)
            previous = token
            continue
        if token.text == "|" and stack and stack[-1]["kind"] == "literal" and stack[-1]["open"].text in ("[", "{"):
            stack[-1]["kind"] = "comp"
            stack[-1]["expr"] = 1
            token.scope = key
            token.containers = tuple(stack)
            previous = token
            continue
        token.scope = key
        token.containers = tuple(stack)
        expression_start.setdefault(key, token)
        previous = token
    return v0_bodies


def _calls(words):
    """(name, first_token, token_indexes) for each call ``a.b.c(`` in ``words``."""
    found = []
    index = 0
    while index < len(words):
        token = words[index]
        if token.kind == "ident" and (index == 0 or words[index - 1].text != "."):
            parts = [token.text]
            members = [index]
            cursor = index + 1
            while cursor + 1 < len(words) and words[cursor].text == "." and words[cursor + 1].kind == "ident":
                parts.append(words[cursor + 1].text)
                members.append(cursor + 1)
                cursor += 2
            if cursor < len(words) and words[cursor].text == "(" and words[cursor].line == words[cursor - 1].line:
                found.append((".".join(parts), token, members))
            index = cursor if cursor > index else index + 1
            continue
        index += 1
    return found


def _in_known_package(path, packages):
    """Whether ``data.<pkg>.<name>`` names a function of a module given to the check."""
    body = path[len("data."):]
    package = body.rpartition(".")[0]
    return package in packages


def unknown_input_keys(module):
    """``input.<key>`` references whose key Airlock never sends, as ``input.key`` (sorted, unique)."""
    if not module.lexable:
        return []
    words = _significant(module.tokens)
    found = set()
    for index in range(len(words) - 2):
        if (words[index].text == "input" and words[index + 1].text == "." and words[index + 2].kind == "ident"
                and (index == 0 or words[index - 1].text != ".") and words[index + 2].text not in INPUT_KEYS):
            found.add("input." + words[index + 2].text)
    return sorted(found)


def module_calls(module):
    """Names of every function called in a ``Module``."""
    if not module.lexable:
        return []
    names = []
    for rule in module.rules:
        statement = rule[1]
        words = _significant(statement)
        names.extend(call[0] for call in _calls(words))
    return names


def static_check(modules):
    """OPA compile errors that regopy does not report, for a list of ``Module``.

    Returns a list of ``make_error`` dicts (empty when nothing was found).
    """
    errors = []
    package_names = {}
    functions = set()
    packages = set(module.package for module in modules if module.lexable and module.package)
    for module in modules:
        if not module.lexable:
            continue
        package_names.setdefault(module.package, set()).update(module.rule_names)
        for name in module.function_names:
            functions.add(name)
            if module.package:
                functions.add("data.%s.%s" % (module.package, name))
    for module in modules:
        if not module.lexable:
            continue
        known = set(package_names.get(module.package, set())) | module.imports | {"input", "data", "_"}
        for name, statement, kind in module.rules:
            v0_bodies = _annotate(statement)
            for token in v0_bodies:
                errors.append(make_error(module.name, token.line, token.col, "rego_parse_error",
                                         "`if` keyword is required before rule body"))
            words = _significant(statement)
            calls = _calls(words)
            call_members = set()
            head_call = None
            for call_name, token, members in calls:
                call_members.update(members)
                if token is words[0] and kind == "function":
                    head_call = token
                    continue
                first = call_name.split(".")[0]
                full = call_name
                if first in module.import_paths:
                    full = module.import_paths[first] + call_name[len(first):]
                if full.startswith("data.") and _in_known_package(full, packages) and full not in functions:
                    errors.append(make_error(module.name, token.line, token.col, "rego_type_error",
                                             "undefined function %s" % full))
                elif call_name in OPA_DEPRECATED_BUILTINS:
                    errors.append(make_error(module.name, token.line, token.col, "rego_type_error",
                                             "deprecated built-in function calls in expression: %s" % call_name))
                elif (call_name not in OPA_BUILTINS and call_name not in functions and first != "data"
                      and first not in module.imports):
                    errors.append(make_error(module.name, token.line, token.col, "rego_type_error",
                                             "undefined function %s" % call_name))
            if kind == "default":
                continue
            errors.extend(_unsafe_vars(module, words, kind, known, call_members, head_call))
    errors.sort(key=lambda e: (e["file"] or "", e["line"] or 0, e["col"] or 0))
    return errors


def _unsafe_vars(module, words, kind, known, call_members, head_call):
    """Variables used once in a rule where nothing can bind them (``var x is unsafe``)."""
    head_names = set()
    index = 0
    head_names.add(0)
    while index + 2 < len(words) and words[index + 1].text == "." and words[index + 2].kind == "ident":
        head_names.add(index + 2)
        index += 2
    args = set()
    if kind == "function":
        depth = 0
        for position in range(index + 1, len(words)):
            text = words[position].text
            if text == "(":
                depth += 1
            elif text == ")":
                depth -= 1
                if depth == 0:
                    break
            elif words[position].kind == "ident":
                args.add(position)
    occurrences = {}
    candidates = []
    for position, token in enumerate(words):
        if token.kind != "ident" or token.text in KEYWORDS or token.text in known:
            continue
        if position in head_names or position in call_members:
            continue
        if position > 0 and words[position - 1].text == ".":
            continue
        occurrences[token.text] = occurrences.get(token.text, 0) + 1
        if position not in args:
            candidates.append((position, token))
    errors = []
    for position, token in candidates:
        if occurrences[token.text] != 1:
            continue
        if _can_bind(words, position, token):
            continue
        errors.append(make_error(module.name, token.line, token.col, "rego_unsafe_var_error",
                                 "var %s is unsafe" % token.text))
    return errors


def _can_bind(words, position, token):
    """Whether the place of ``token`` could bind it (conservative: when unsure, yes)."""
    for entry in token.containers:
        opener = entry["open"]
        previous = entry.get("prev")
        if opener.text == "(" and previous is not None and (previous.kind == "ident" and previous.text not in KEYWORDS):
            return True  # a call argument (built-ins bind an extra last argument)
        if opener.text == "[" and previous is not None and (
                (previous.kind in _TERM_END_KINDS and previous.text not in KEYWORDS)
                or previous.text in (")", "]", "}")):
            return True  # a reference index: iteration binds it
    same = [w for w in words if w.scope == token.scope]
    texts = [w.text for w in same]
    if "=" in texts:
        return True
    if ":=" in texts:
        assign = same[texts.index(":=")]
        if token.index < assign.index:
            return True
    if same and same[0].text in ("some", "every"):
        return True
    for word in same:
        if word.text in ("some", "every") and word.index < token.index:
            return True
    return False


# ---------------------------------------------------------------------------
# the engine, in a child process
# ---------------------------------------------------------------------------

#: The child program: reads a JSON request on stdin, writes one line per event.
ENGINE_WORKER = r'''
import json, os, sys
_out = os.fdopen(os.dup(1), "w")
os.dup2(2, 1)  # rego-cpp prints diagnostics on stdout: keep them off the result channel
def emit(obj):
    _out.write("@@airlock-rego@@ " + json.dumps(obj) + "\n")
    _out.flush()
try:
    import regopy
    from regopy import rego_shared as rs
except Exception as exc:
    emit({"fatal": "cannot import regopy: %s" % (exc,)})
    sys.exit(0)
request = json.loads(sys.stdin.read())
modules = request["modules"]
emit({"version": getattr(regopy, "__version__", "unknown")})
for job in request["jobs"]:
    emit({"start": job["id"]})
    result = {"id": job["id"]}
    try:
        interpreter = regopy.Interpreter()
        if job["kind"] == "builtins":
            result["builtins"] = dict((name, bool(interpreter.is_builtin(name))) for name in job["names"])
        else:
            module_errors = []
            for index in job["modules"]:
                name, text = modules[index]
                try:
                    interpreter.add_module(name, text)
                except regopy.RegoError as exc:
                    module_errors.append([name, str(exc)])
            if module_errors:
                result["module_errors"] = module_errors
            elif job.get("query"):
                interpreter.set_input_term(json.dumps(job.get("input") or {}))
                handle = rs.rego_query(interpreter._impl, job["query"])
                try:
                    result["ok"] = bool(rs.rego_output_ok(handle))
                    result["output"] = rs.rego_output_string(handle)
                finally:
                    rs.rego_free_output(handle)
    except regopy.RegoError as exc:
        result["error"] = str(exc)
    except Exception as exc:
        result["error"] = "%s: %s" % (type(exc).__name__, exc)
    emit(result)
'''

_PREFIX = "@@airlock-rego@@ "


def _signal_name(code):
    try:
        return signal.Signals(-code).name
    except (ValueError, AttributeError):
        return "signal %d" % -code


def run_engine(modules, jobs, python=None, timeout=ENGINE_TIMEOUT):
    """Run ``jobs`` in engine children; returns ``(results_by_id, version)``.

    ``modules`` is a list of ``(name, text)``; each job is a dict with ``id``,
    ``kind`` (``modules``, ``query`` or ``builtins``) and its arguments. When a
    child dies (a rego-cpp crash) the job it was running gets
    ``{"crashed": "SIGSEGV"}`` and the remaining jobs run in a new child.
    """
    python = python or sys.executable
    env = dict(os.environ)
    env["RUST_BACKTRACE"] = "0"
    env.setdefault("PYTHONIOENCODING", "utf-8")
    results = {}
    version = None
    pending = list(jobs)
    while pending:
        request = json.dumps({"modules": [list(m) for m in modules], "jobs": pending})
        try:
            process = subprocess.Popen([python, "-c", ENGINE_WORKER], stdin=subprocess.PIPE,
                                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        except OSError as exc:
            raise RegoCheckError("cannot start the Rego engine with %s: %s" % (python, exc))
        timed_out = False
        try:
            stdout, stderr = process.communicate(request.encode("utf-8"), timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            stdout, stderr = process.communicate()
            timed_out = True
        started = None
        for raw in stdout.decode("utf-8", "replace").splitlines():
            if not raw.startswith(_PREFIX):
                continue
            event = json.loads(raw[len(_PREFIX):])
            if "fatal" in event:
                raise RegoCheckError(event["fatal"])
            if "version" in event:
                version = event["version"]
            elif "start" in event:
                started = event["start"]
            elif "id" in event:
                results[event["id"]] = event
                started = None
        done = set(results)
        if started is not None and started not in done:
            if timed_out:
                reason = "timed out after %gs" % timeout
            elif process.returncode is not None and process.returncode < 0:
                reason = _signal_name(process.returncode)
            else:
                reason = "exit status %s" % process.returncode
            results[started] = {"id": started, "crashed": reason}
            done.add(started)
        remaining = [job for job in pending if job["id"] not in done]
        if len(remaining) == len(pending):
            detail = stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or ["no output"]
            raise RegoCheckError("the Rego engine child failed before evaluating anything: %s" % detail[0])
        pending = remaining
    return results, version


# ---------------------------------------------------------------------------
# the whole check
# ---------------------------------------------------------------------------


def validate_known_requests(tests):
    """Normalised known requests, or raise ValueError naming the bad field."""
    normalised = []
    warnings = []
    for index, test in enumerate(tests or []):
        label = "tests[%d]" % index
        if not isinstance(test, dict):
            raise ValueError("%s: expected a mapping with input, expect and name" % label)
        unknown = sorted(set(test) - {"input", "expect", "name"})
        if unknown:
            raise ValueError("%s: unknown field(s) %s; accepted fields: input, expect, name" % (label, ", ".join(unknown)))
        expect = test.get("expect")
        if isinstance(expect, bool):
            expect = "allow" if expect else "deny"
        if expect not in ("allow", "deny"):
            raise ValueError("%s.expect: invalid value %r; accepted values: allow, deny" % (label, test.get("expect")))
        document = test.get("input")
        if not isinstance(document, dict):
            raise ValueError("%s.input: expected a mapping (the policy input document), got %r" % (label, document))
        name = test.get("name") or "request %d" % (index + 1)
        extra = sorted(set(document) - set(INPUT_KEYS))
        if extra:
            warnings.append("%s (%s): input keys %s are never sent by Airlock (it sends %s); a policy that reads "
                            "them denies real requests" % (label, name, ", ".join(extra), ", ".join(INPUT_KEYS[:7])))
        normalised.append({"name": str(name), "input": document, "expect": expect})
    names = [t["name"] for t in normalised]
    duplicates = sorted(set(n for n in names if names.count(n) > 1))
    if duplicates:
        raise ValueError("tests: duplicate name(s) %s; every known request needs its own name" % ", ".join(duplicates))
    return normalised, warnings


def _decision(result, sources, filename):
    """(actual, error) for one engine result of the ``allow`` query."""
    if "crashed" in result:
        return "deny", "the Rego engine crashed (%s) evaluating it" % result["crashed"]
    if "error" in result:
        return "deny", format_error(parse_engine_error(result["error"], sources, filename, "eval_error")[0])
    if result.get("module_errors"):
        return "deny", "the policy does not compile"
    output = str(result.get("output", "")).strip()
    if not result.get("ok", False):
        return "deny", "evaluation error (%s)" % (output or "no detail from rego-cpp")
    if output == "undefined":
        return "deny", None
    if output.startswith("(error"):
        return "deny", format_error(parse_engine_error(output, sources, filename, "eval_error")[0])
    try:
        parsed = json.loads(output)
    except ValueError:
        return "deny", "unreadable engine output %r" % output[:200]
    value = (parsed.get("bindings") or {}).get("x") if isinstance(parsed, dict) else None
    return ("allow" if value is True else "deny"), None


def check_policy(source, filename="policy.rego", tests=None, test_modules=None, run_rego_tests=False,
                 python=None, timeout=ENGINE_TIMEOUT):
    """Validate a policy; returns a report dict.

    ``tests`` are normalised known requests (``validate_known_requests``);
    ``test_modules`` a list of ``(name, text)`` loaded next to the policy for
    ``test_*`` rules. Report keys: ``ok`` (fit to deploy), ``compiled``,
    ``errors`` (dicts), ``messages`` (formatted errors), ``decisions`` (name,
    expected, actual, ok, error), ``rego_tests`` (name -> pass/fail/error),
    ``rego_test_errors`` (name -> text), ``warnings``, ``engine``.
    """
    tests = tests or []
    test_modules = list(test_modules or [])
    report = {"ok": False, "compiled": False, "errors": [], "messages": [], "decisions": [],
              "rego_tests": {}, "rego_test_errors": {}, "warnings": [], "engine": None, "unknown_input_keys": []}
    names = [filename] + [module[0] for module in test_modules]
    duplicates = sorted(set(n for n in names if names.count(n) > 1))
    if duplicates:
        raise RegoCheckError("two modules are named %s; give the test files distinct names" % ", ".join(duplicates))
    modules = [(filename, source)] + test_modules
    sources = dict(modules)
    # the unit Airlock evaluates: the policy without its inline test rules (see Module.without_test_rules)
    policy_module = Module(filename, source)
    deployed = policy_module.without_test_rules()
    decision_modules = modules + [(filename, deployed)] if deployed != source else modules

    # 1. compile every module with the engine (parse errors come from here)
    compile_jobs = [{"id": "compile:%d" % index, "kind": "modules", "modules": [index]}
                    for index in range(len(modules))]
    results, report["engine"] = run_engine(modules, compile_jobs, python=python, timeout=timeout)
    errors = []
    for index, (name, dummy) in enumerate(modules):
        result = results.get("compile:%d" % index, {})
        for module_name, text in result.get("module_errors", []):
            errors.extend(parse_engine_error(text, sources, module_name))
        if "crashed" in result:
            errors.append(make_error(name, None, None, "rego_error",
                                     "the Rego engine crashed (%s) compiling this module" % result["crashed"]))
        elif "error" in result:
            errors.extend(parse_engine_error(result["error"], sources, name))
    # 2. what OPA refuses and rego-cpp accepts
    parsed = [Module(name, text) for name, text in modules]
    if not errors:
        errors.extend(static_check(parsed))
    policy = parsed[0]
    if not errors and policy.lexable:
        if policy.package != AIRLOCK_PACKAGE:
            errors.append(make_error(filename, 1, 1, "airlock_package",
                                     "the policy declares package %s but Airlock queries %s: every request would "
                                     "be denied" % (policy.package or "(none)", AIRLOCK_QUERY)))
        elif AIRLOCK_RULE not in policy.rule_names:
            errors.append(make_error(filename, 1, 1, "airlock_rule",
                                     "the policy defines no %s rule: Airlock queries %s, so every request would "
                                     "be denied" % (AIRLOCK_RULE, AIRLOCK_QUERY)))
    report["unknown_input_keys"] = unknown_input_keys(policy)
    if report["unknown_input_keys"]:
        report["warnings"].append(
            "the policy reads %s, which Airlock never sends (its input has %s): rules that need them never match"
            % (", ".join(report["unknown_input_keys"]), ", ".join(INPUT_KEYS)))
    report["errors"] = errors
    report["messages"] = [format_error(e) for e in errors]
    report["compiled"] = not errors
    if errors:
        return report

    # 3. decisions and test rules
    jobs = []
    decision_index = len(decision_modules) - 1 if decision_modules is not modules else 0
    for index, test in enumerate(tests):
        jobs.append({"id": "decision:%d" % index, "kind": "query", "modules": [decision_index],
                     "query": "x := %s" % AIRLOCK_QUERY, "input": test["input"]})
    test_names = []
    if run_rego_tests:
        for index, module in enumerate(parsed):
            for rule in module.test_rules():
                label = "data.%s.%s" % (module.package, rule) if module.package else rule
                if label in test_names:
                    continue
                test_names.append(label)
                jobs.append({"id": "test:%s" % label, "kind": "query", "modules": list(range(len(modules))),
                             "query": "x := %s" % label, "input": {}})
        if not test_names:
            report["warnings"].append("run_rego_tests: no test_* rule found in %s" % ", ".join(names))
    lacking = sorted(set(call for module in parsed for call in module_calls(module)
                         if call in OPA_BUILTINS and call not in ("print", "internal.print")))
    if lacking:
        jobs.append({"id": "builtins", "kind": "builtins", "names": lacking})
    results = {}
    if jobs:
        engine_modules = list(decision_modules)
        for index, module in enumerate(parsed):
            rewritten = module.with_input_rewritten()
            if rewritten != module.text:
                engine_modules[index] = (module.name, rewritten)
        results = run_engine(engine_modules, jobs, python=python, timeout=timeout)[0]
    missing = sorted(name for name, known in (results.get("builtins") or {}).get("builtins", {}).items() if not known)
    if missing:
        report["warnings"].append(
            "the policy calls OPA built-ins that regopy %s does not implement (%s): OPA and Airlock evaluate "
            "them, but a decision or test that reaches them is not checked reliably here"
            % (report["engine"], ", ".join(missing)))
    for index, test in enumerate(tests):
        actual, error = _decision(results.get("decision:%d" % index, {"error": "not evaluated"}), sources, filename)
        report["decisions"].append({"name": test["name"], "expected": test["expect"], "actual": actual,
                                    "ok": actual == test["expect"] and error is None, "error": error})
    for label in test_names:
        result = results.get("test:%s" % label, {"error": "not evaluated"})
        verdict, error = _decision(result, sources, None)
        short = label.rsplit(".", 1)[-1] if label.startswith("data.%s." % AIRLOCK_PACKAGE) else label
        if error is not None:
            report["rego_tests"][short] = "error"
            report["rego_test_errors"][short] = error
            if "crashed" in result:
                report["rego_test_errors"][short] += (
                    "; regopy 1.5.2 crashes on `with input as <value>` when the rule under test uses other "
                    "rules (object literals are evaluated per key automatically): write the test with "
                    "`with input[<key>] as ...` clauses or an object literal, or check it with `opa test`")
        else:
            report["rego_tests"][short] = "pass" if verdict == "allow" else "fail"
    report["ok"] = (all(d["ok"] for d in report["decisions"])
                    and all(v == "pass" for v in report["rego_tests"].values()))
    return report


def summarize_failures(report):
    """One line per problem in a ``check_policy`` report."""
    lines = list(report["messages"])
    wrongly_denied = [d for d in report["decisions"] if d["expected"] == "allow" and d["actual"] == "deny"]
    if wrongly_denied and report.get("unknown_input_keys"):
        lines.append("the policy reads %s, keys Airlock never sends" % ", ".join(report["unknown_input_keys"]))
    for decision in report["decisions"]:
        if not decision["ok"]:
            text = "known request %r: expected %s, got %s" % (decision["name"], decision["expected"], decision["actual"])
            if decision.get("error"):
                text += " (%s)" % decision["error"]
            lines.append(text)
    for name, verdict in sorted(report["rego_tests"].items()):
        if verdict != "pass":
            text = "%s: %s" % (name, verdict.upper())
            if report["rego_test_errors"].get(name):
                text += " (%s)" % report["rego_test_errors"][name]
            lines.append(text)
    return lines
