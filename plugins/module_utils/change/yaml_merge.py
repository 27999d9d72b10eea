# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Merging settings into a YAML document without replacing it, and describing the change.

The operator playbook patches ``config.yaml`` with a small YAML snippet, which
replaces the whole file (``server.addr`` is lost and Airlock no longer
starts). Here a change is always a *merge*:

* mappings are merged key by key, recursively;
* lists are replaced wholesale (``auth.required_groups: [a]`` replaces the
  list, it does not append to it);
* any other value replaces the old one (``null`` sets the key to null);
* every key that is not mentioned is kept as it was.

``YamlDocument`` loads the text with ruamel.yaml (round-trip: comments, key
order and quoting are kept) when it is importable, else with PyYAML (comments
are lost, key order is kept). ``changed_keys`` lists the dotted keys whose
value differs. Only the standard library is imported at module level: the
YAML libraries are optional and reported with ``HAS_YAML``/``YAML_IMPORT_ERROR``.
"""

from __future__ import annotations

import copy
import io
import typing as t

from ansible_collections.airlock.incident.plugins.module_utils.core.errors import InputError

try:
    from ruamel.yaml import YAML as _RuamelYAML
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    HAS_RUAMEL = True
except Exception:  # ImportError, or a broken install on the target
    _RuamelYAML = None  # type: ignore[assignment, misc, unused-ignore]
    CommentedMap = CommentedSeq = None  # type: ignore[assignment, misc, unused-ignore]
    HAS_RUAMEL = False

try:
    import yaml as _pyyaml

    HAS_PYYAML = True
    PYYAML_IMPORT_ERROR = None
except ImportError as _exc:  # pragma: no cover - PyYAML ships with ansible-core
    _pyyaml = None  # type: ignore[assignment, unused-ignore]
    HAS_PYYAML = False
    PYYAML_IMPORT_ERROR = _exc

HAS_YAML = HAS_RUAMEL or HAS_PYYAML
YAML_IMPORT_ERROR = PYYAML_IMPORT_ERROR

#: ruamel.yaml indentation styles tried, the one that reproduces the file wins.
_INDENT_STYLES = ((2, 4, 2), (2, 2, 0), (4, 6, 4), (4, 2, 0), (4, 4, 2), (4, 4, 0))


class YamlMergeError(InputError):
    """The document or the settings cannot be merged (the message names the key)."""


class YamlBoundsError(YamlMergeError):
    """The document is refused before it is loaded: too many nodes once its aliases are expanded, or too deep."""


#: Most nodes a document may have once every alias is expanded (a "billion laughs" file has 10^9).
MAX_NODES = 100000
#: Deepest nesting of mappings and sequences a document may have.
MAX_DEPTH = 64


def _bounds_error(what: str) -> YamlBoundsError:
    return YamlBoundsError("refusing the YAML document: %s (at most %d nodes once aliases are expanded and a nesting "
                           "depth of %d are accepted)" % (what, MAX_NODES, MAX_DEPTH))


def check_bounds(text: str) -> None:
    """YamlBoundsError when ``text`` expands to more than MAX_NODES nodes or nests deeper than MAX_DEPTH.

    Reads only the event stream (no node is built, no alias expanded), so an alias bomb is refused at
    once. A document that does not parse is left to the loader, which reports where.
    """
    if not HAS_PYYAML:  # pragma: no cover - PyYAML ships with ansible-core
        return
    sizes: t.Dict[str, int] = {}
    stack: t.List[t.List[t.Any]] = []  # [anchor, expanded size so far] of each open collection
    total = 0
    try:
        for event in _pyyaml.parse(text, Loader=_pyyaml.SafeLoader):
            size = 0
            if isinstance(event, _pyyaml.CollectionStartEvent):
                stack.append([event.anchor, 1])
                if len(stack) > MAX_DEPTH:
                    raise _bounds_error("it nests deeper than %d levels" % MAX_DEPTH)
                total += 1
            elif isinstance(event, _pyyaml.CollectionEndEvent):
                anchor, size = stack.pop()
                if anchor:
                    sizes[anchor] = size
            elif isinstance(event, _pyyaml.ScalarEvent):
                size = 1
                total += 1
                if event.anchor:
                    sizes[event.anchor] = 1
            elif isinstance(event, _pyyaml.AliasEvent):
                size = sizes.get(event.anchor or "", 1)
                total += size
            if size and stack and not isinstance(event, _pyyaml.CollectionStartEvent):
                stack[-1][1] += size
            if total > MAX_NODES:
                raise _bounds_error("its aliases expand to more than %d nodes" % MAX_NODES)
    except _pyyaml.YAMLError:
        return


def to_plain(value: t.Any) -> t.Any:
    """A copy of ``value`` made of dict, list, str, int, float, bool and None only.

    ruamel.yaml returns CommentedMap/CommentedSeq and str/int/float
    subclasses; validation and comparisons work on plain values.
    """
    if isinstance(value, dict):
        return dict((str(key), to_plain(item)) for key, item in value.items())
    if isinstance(value, (list, tuple)):
        return [to_plain(item) for item in value]
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, str):
        return str(value)
    if value is None:
        return None
    # dates and other YAML scalars: the text Airlock's decoder would see
    return str(value)


def deep_merge(base: t.Any, overlay: t.Any) -> t.Any:
    """A new plain document: ``overlay`` merged into ``base`` (see the module doc)."""
    if not isinstance(overlay, dict):
        return copy.deepcopy(overlay)
    result = copy.deepcopy(base) if isinstance(base, dict) else {}
    for key, value in overlay.items():
        key = str(key)
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = deep_merge(result[key], value)
        else:
            result[key] = copy.deepcopy(value)
    return result


def changed_keys(before: t.Any, after: t.Any, prefix: str = "") -> t.List[str]:
    """Sorted dotted keys whose value differs between two plain documents.

    Mappings are compared key by key; a list counts as one value
    (``auth.required_groups``); a key added or removed counts as changed.
    """
    found = []
    if isinstance(before, dict) and isinstance(after, dict):
        for key in list(before.keys()) + [k for k in after.keys() if k not in before]:
            path = key if not prefix else prefix + "." + key
            if key not in after or key not in before:
                found.append(path)
            else:
                found.extend(changed_keys(before[key], after[key], path))
    elif before != after or type(before) is not type(after):
        if not (isinstance(before, (int, float)) and isinstance(after, (int, float))
                and not isinstance(before, bool) and not isinstance(after, bool) and before == after):
            found.append(prefix or "(document)")
    return sorted(set(found))


def flatten(document: t.Any, prefix: str = "") -> t.Dict[str, t.Any]:
    """``{dotted_key: value}`` for every leaf of a plain mapping (lists are leaves)."""
    result = {}
    if isinstance(document, dict):
        for key, value in document.items():
            path = str(key) if not prefix else prefix + "." + str(key)
            if isinstance(value, dict) and value:
                result.update(flatten(value, path))
            else:
                result[path] = value
    return result


def _last_leaf(mapping: t.Any) -> t.Tuple[t.Any, t.Any]:
    """(mapping, key) of the deepest last key under ``mapping`` (ruamel only)."""
    node = mapping
    while True:
        keys = list(node.keys())
        if not keys:
            return None, None
        last = keys[-1]
        value = node[last]
        if isinstance(value, CommentedMap) and len(value):
            node = value
            continue
        return node, last


def _to_commented(value: t.Any) -> t.Any:
    if isinstance(value, dict):
        result = CommentedMap()
        for key, item in value.items():
            result[str(key)] = _to_commented(item)
        return result
    if isinstance(value, (list, tuple)):
        sequence = CommentedSeq()
        for item in value:
            sequence.append(_to_commented(item))
        return sequence
    return value


def _rt_merge(node: t.Any, overlay: t.Mapping[str, t.Any]) -> None:
    """Merge plain ``overlay`` into the ruamel CommentedMap ``node`` in place."""
    for key, value in overlay.items():
        key = str(key)
        current = node.get(key) if key in node else None
        if isinstance(value, dict) and isinstance(current, CommentedMap):
            _rt_merge(current, value)
            continue
        if key in node:
            if to_plain(current) == to_plain(value) and type(to_plain(current)) is type(to_plain(value)):
                continue  # keep the original scalar (and its quoting)
            node[key] = _to_commented(value)
            continue
        # a new key goes last: move the blank lines / comment that followed the
        # previous last entry (they introduce the next section) after it
        source_map, source_key = _last_leaf(node)
        node[key] = _to_commented(value)
        if source_map is not None and source_key in source_map.ca.items:
            entry = source_map.ca.items[source_key]
            if len(entry) > 2 and entry[2] is not None:
                target_map, target_key = (node, key)
                if isinstance(node[key], CommentedMap) and len(node[key]):
                    target_map, target_key = _last_leaf(node[key])
                if target_map is not None:
                    token = entry[2]
                    entry[2] = None
                    if not any(part is not None for part in entry):
                        del source_map.ca.items[source_key]
                    target_map.ca.items[target_key] = [None, None, token, None]


class YamlDocument:
    """One YAML mapping document loaded from text, ready to be merged and dumped."""

    def __init__(self, text: t.Any, prefer_ruamel: bool = True) -> None:
        if not isinstance(text, str):
            raise YamlMergeError("the document is not text")
        self.original_text = text
        check_bounds(text)
        self.engine: t.Optional[str] = None
        self._rt: t.Any = None
        self._rt_yaml: t.Any = None
        self.data: t.Any = None
        if prefer_ruamel and HAS_RUAMEL:
            try:
                self._load_ruamel(text)
            except Exception as exc:  # ruamel's errors have no common base
                raise YamlMergeError("cannot parse the YAML: %s" % _one_line(exc)) from exc
            self.engine = "ruamel.yaml"
        elif HAS_PYYAML:
            try:
                self.data = _pyyaml.safe_load(text)
            except _pyyaml.YAMLError as exc:
                raise YamlMergeError("cannot parse the YAML: %s" % _one_line(exc)) from exc
            self.engine = "PyYAML"
        else:  # pragma: no cover - guarded by HAS_YAML in the modules
            raise YamlMergeError("neither ruamel.yaml nor PyYAML is installed")
        if self.engine == "ruamel.yaml":
            if self._rt is None:  # an empty file
                self._rt = CommentedMap()
            self.data = self._rt
        elif self.data is None:
            self.data = {}
        if not isinstance(self.data, dict):
            raise YamlMergeError("the top level of the document is a %s, not a mapping" % type(self.data).__name__)

    def _new_ruamel(self, style: t.Tuple[int, int, int]) -> t.Any:
        yaml = _RuamelYAML(typ="rt")
        yaml.preserve_quotes = True
        yaml.width = 4096
        mapping, sequence, offset = style
        yaml.indent(mapping=mapping, sequence=sequence, offset=offset)
        return yaml

    def _load_ruamel(self, text: str) -> None:
        best: t.Optional[t.Tuple[int, t.Tuple[int, int, int]]] = None
        for style in _INDENT_STYLES:
            yaml = self._new_ruamel(style)
            data = yaml.load(text)
            if not isinstance(data, CommentedMap):
                self._rt, self._rt_yaml = data, yaml
                return
            dumped = self._dump_with(yaml, data)
            score = sum(1 for a, b in zip(dumped.splitlines(), text.splitlines()) if a == b)
            if dumped == text:
                self._rt, self._rt_yaml = data, yaml
                return
            if best is None or score > best[0]:
                best = (score, style)
        yaml = self._new_ruamel(best[1] if best is not None else _INDENT_STYLES[0])
        self._rt, self._rt_yaml = yaml.load(text), yaml

    @staticmethod
    def _dump_with(yaml: t.Any, data: t.Any) -> str:
        buffer = io.StringIO()
        yaml.dump(data, buffer)
        return buffer.getvalue()

    @property
    def preserves_comments(self) -> bool:
        return self.engine == "ruamel.yaml"

    def plain(self) -> t.Any:
        return to_plain(self.data)

    def merge(self, settings: t.Any) -> t.List[str]:
        """Merge the plain mapping ``settings`` in place; returns the changed dotted keys."""
        if not isinstance(settings, dict):
            raise YamlMergeError("settings must be a mapping of Airlock config keys")
        before = self.plain()
        if self.engine == "ruamel.yaml":
            _rt_merge(self._rt, settings)
        else:
            self.data = deep_merge(self.data, settings)
        return changed_keys(before, self.plain())

    def dump(self) -> str:
        """The document as text; the original text when nothing changed."""
        if self.engine == "ruamel.yaml":
            return self._dump_with(self._rt_yaml, self._rt)
        return _pyyaml.safe_dump(self.data, sort_keys=False, default_flow_style=False, allow_unicode=True,
                                 width=4096)


def parse_plain(text: str) -> t.Any:
    """The plain document for ``text`` (PyYAML when available, like Airlock's loaders)."""
    if HAS_PYYAML:
        check_bounds(text)
        return to_plain(_pyyaml.safe_load(text))
    return YamlDocument(text).plain()


def merge_text(text: str, settings: t.Any, prefer_ruamel: bool = True
               ) -> t.Tuple[str, t.Any, t.Any, t.List[str], t.Optional[str]]:
    """``(new_text, before_plain, after_plain, changed_keys, engine)`` for a merge.

    ``new_text`` is ``text`` itself when nothing changes, so an identical
    rerun never rewrites the file.
    """
    document = YamlDocument(text, prefer_ruamel=prefer_ruamel)
    before = document.plain()
    keys = document.merge(settings)
    after = document.plain()
    if not keys:
        return text, before, after, [], document.engine
    new_text = document.dump()
    check = YamlDocument(new_text, prefer_ruamel=document.engine == "ruamel.yaml").plain()
    if check != after:
        # never write what would not read back as the merged document
        raise YamlMergeError("the merged document does not read back identically (%s); nothing was written"
                             % ", ".join(changed_keys(after, check or {})[:5]))
    return new_text, before, after, keys, document.engine


def text_diff(before_text: str, after_text: str, before_header: str, after_header: str) -> t.Dict[str, str]:
    """An Ansible ``diff`` entry (before/after text) for ``--diff``."""
    return {
        "before": before_text,
        "after": after_text,
        "before_header": before_header,
        "after_header": after_header,
    }


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())
