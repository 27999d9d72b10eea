# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Static checks of Rego modules: what OPA v1's compiler refuses and rego-cpp (regopy) accepts.

rego-cpp is laxer than OPA at compile time: it accepts Rego v0 rule bodies
without ``if``, unsafe variables and calls to undefined functions (which only
fail when reached). :func:`static_check` reports those the way ``opa check``
does: ``if`` keyword required, ``undefined function``, deprecated built-ins,
and unsafe variables that occur once in a rule and cannot be bound there (a
conservative subset: it never refuses a policy OPA compiles, it may miss a
subtle unsafe variable). :class:`Module` is what the checks (and
:mod:`.rego`) know of one module: package, imports, rules, ``test_*`` rules.
"""

from __future__ import annotations

import json
import re
import typing as t

from ansible_collections.airlock.incident.plugins.module_utils.airlock.rego_engine import make_error

#: The rule Airlock queries, as a package path and a rule name.
AIRLOCK_PACKAGE = "airlock.authz"
AIRLOCK_RULE = "allow"
AIRLOCK_QUERY = "data.airlock.authz.allow"

#: Input keys the Airlock policy engine sends (interface notes, section 7).
INPUT_KEYS = ("sub", "tenant", "groups", "tool", "resource", "method", "headers",
              "virtual_uri", "real_path", "root_type", "read_only", "operation")

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


# ---------------------------------------------------------------------------
# static checks (what OPA's compiler refuses and rego-cpp accepts)
# ---------------------------------------------------------------------------


class Token:
    __slots__ = ("kind", "text", "line", "col", "start", "index", "scope", "containers")

    def __init__(self, kind: str, text: str, line: int, col: int, start: int = 0) -> None:
        self.start = start
        self.kind = kind
        self.text = text
        self.line = line
        self.col = col
        self.index = 0
        self.scope: t.Optional[t.Tuple[int, int]] = None
        self.containers: t.Tuple[t.Dict[str, t.Any], ...] = ()

    def __repr__(self) -> str:
        return "Token(%s %r %d:%d)" % (self.kind, self.text, self.line, self.col)


def tokenize(text: str) -> t.Optional[t.List[Token]]:
    """Significant tokens (``nl`` included, comments and blanks dropped); None if unlexable."""
    tokens: t.List[Token] = []
    line, line_start = 1, 0
    for match in _TOKEN_RE.finditer(text):
        kind = match.lastgroup
        value = match.group()
        start = match.start()
        if kind == "bad":
            return None
        if kind not in ("ws", "comment"):
            tokens.append(Token(str(kind), value, line, start - line_start + 1, start))
        newlines = value.count("\n") + (value.count("\r") if "\n" not in value else 0)
        if newlines:
            line += newlines
            line_start = start + max(value.rfind("\n"), value.rfind("\r")) + 1
    return tokens


def _significant(tokens: t.Iterable[Token]) -> t.List[Token]:
    return [tok for tok in tokens if tok.kind != "nl"]


def split_statements(tokens: t.Iterable[Token]) -> t.List[t.List[Token]]:
    """Top-level statements (lists of tokens, ``nl`` kept inside brackets)."""
    statements: t.List[t.List[Token]] = []
    current: t.List[Token] = []
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


class Module:
    """What the static checks need to know about one Rego module."""

    def __init__(self, name: str, text: str) -> None:
        self.name = name
        self.text = text
        self.tokens = tokenize(text)
        self.lexable = self.tokens is not None
        self.package: t.Optional[str] = None
        self.imports: t.Set[str] = set()
        self.import_paths: t.Dict[str, str] = {}   # alias -> dotted path (data.airlock.lib)
        #: (name, statement tokens, kind) kind: rule|function|default
        self.rules: t.List[t.Tuple[str, t.List[Token], str]] = []
        self.rule_names: t.Set[str] = set()
        self.function_names: t.Set[str] = set()
        if self.tokens is None:
            return
        for statement in split_statements(self.tokens):
            words = _significant(statement)
            if not words:
                continue
            first = words[0].text
            if first == "package":
                self.package = ".".join(tok.text for tok in words[1:] if tok.text != ".")
            elif first == "import":
                path = [tok.text for tok in words[1:] if tok.text != "."]
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
    def _head_name(words: t.Sequence[Token]) -> str:
        parts = [words[0].text]
        index = 1
        while index + 1 < len(words) and words[index].text == "." and words[index + 1].kind == "ident":
            parts.append(words[index + 1].text)
            index += 2
        return ".".join(parts)

    def without_test_rules(self) -> str:
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

    def with_input_rewritten(self) -> str:
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

    def _with_input_edit(self, words: t.Sequence[Token], at: int) -> t.Optional[t.Tuple[int, int, str]]:
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

    def test_rules(self) -> t.List[str]:
        """Names of the ``test_*`` rules, in order, once each (what ``opa test`` runs)."""
        names = []
        for name, dummy, kind in self.rules:
            if kind != "function" and name.startswith("test_") and name not in names:
                names.append(name)
        return names


def _annotate(statement: t.Sequence[Token]) -> t.List[Token]:
    """Give every token its expression scope and enclosing containers.

    Containers are ``[kind, open_token, comprehension]`` where kind is
    ``body`` (a rule, ``else`` or ``every`` body) or ``literal`` (array,
    set, object, parentheses). Expressions are separated by newlines and
    ``;`` in a body, and by ``|`` in a comprehension. Returns the list of
    ``{`` tokens that open a rule body without ``if`` (Rego v0 syntax).
    """
    v0_bodies: t.List[Token] = []
    stack: t.List[t.Dict[str, t.Any]] = []   # each: {"kind", "open", "id", "expr"}
    head: t.Dict[str, t.Any] = {"kind": "head", "open": None, "id": 0, "expr": 0}
    counter = [0]

    def body_scope() -> t.Dict[str, t.Any]:
        for entry in reversed(stack):
            if entry["kind"] in ("body", "comp"):
                return entry
        return head

    previous: t.Optional[Token] = None
    expression_start: t.Dict[t.Tuple[int, int], Token] = {}  # scope id -> first token of the current expression
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


def _calls(words: t.Sequence[Token]) -> t.List[t.Tuple[str, Token, t.List[int]]]:
    """(name, first_token, token_indexes) for each call ``a.b.c(`` in ``words``."""
    found: t.List[t.Tuple[str, Token, t.List[int]]] = []
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


def _in_known_package(path: str, packages: t.Iterable[str]) -> bool:
    """Whether ``data.<pkg>.<name>`` names a function of a module given to the check."""
    body = path[len("data."):]
    package = body.rpartition(".")[0]
    return package in packages


def unknown_input_keys(module: Module) -> t.List[str]:
    """``input.<key>`` references whose key Airlock never sends, as ``input.key`` (sorted, unique)."""
    if not module.lexable:
        return []
    words = _significant(module.tokens or [])
    found = set()
    for index in range(len(words) - 2):
        if (words[index].text == "input" and words[index + 1].text == "." and words[index + 2].kind == "ident"
                and (index == 0 or words[index - 1].text != ".") and words[index + 2].text not in INPUT_KEYS):
            found.add("input." + words[index + 2].text)
    return sorted(found)


def module_calls(module: Module) -> t.List[str]:
    """Names of every function called in a ``Module``."""
    if not module.lexable:
        return []
    names: t.List[str] = []
    for rule in module.rules:
        statement = rule[1]
        words = _significant(statement)
        names.extend(call[0] for call in _calls(words))
    return names


def static_check(modules: t.Sequence[Module]) -> t.List[t.Dict[str, t.Any]]:
    """OPA compile errors that regopy does not report, for a list of ``Module``.

    Returns a list of ``make_error`` dicts (empty when nothing was found).
    """
    errors: t.List[t.Dict[str, t.Any]] = []
    package_names: t.Dict[t.Optional[str], t.Set[str]] = {}
    functions: t.Set[str] = set()
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
            call_members: t.Set[int] = set()
            head_call: t.Optional[Token] = None
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


def _unsafe_vars(module: Module, words: t.Sequence[Token], kind: str, known: t.Set[str], call_members: t.Set[int],
                 head_call: t.Optional[Token]) -> t.List[t.Dict[str, t.Any]]:
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
    occurrences: t.Dict[str, int] = {}
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


def _can_bind(words: t.Sequence[Token], position: int, token: Token) -> bool:
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
