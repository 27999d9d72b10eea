# -*- coding: utf-8 -*-
# Copyright (c) 2026, airlock.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Property-based tests of every module entry point (issue #16, item 6).

For each module under ``plugins/modules`` (audit_query and audit_verify have
their own, deeper suite in test_audit_fuzz.py) Hypothesis generates arguments
from the module's own argument spec: odd text, huge numbers, ``inf``/``nan``,
wrong types, and paths inside a sandbox that hold links to a directory outside
it, FIFOs, directories and missing files. The contract checked on every run:

* ``main()`` ends with a JSON result, never an uncaught exception;
* a failure's ``msg`` carries no traceback and, when nothing was asked of the
  Kubernetes API, names one of the options given (a refusal names the field);
* the Kubernetes modules talk to a loopback API server that answers 503 to
  everything: a refusal made no request at all;
* nothing outside the sandbox changed (the files behind the planted links keep
  their content and mtime, no new file appears next to them).

Each test is bounded by ``max_examples`` (about 40 s for the whole file on the
CI machine).
"""

from __future__ import annotations

import hashlib
import http.server
import json
import os
import sqlite3
import stat
import threading

import pytest

from ansible_collections.airlock.incident.plugins.module_utils.core import argspec
from ansible_collections.airlock.incident.tests.unit.plugins.module_utils import airlock_db_factory as factory

hypothesis = pytest.importorskip("hypothesis")
st = hypothesis.strategies
settings = hypothesis.settings(max_examples=40, deadline=None, derandomize=True,
                               suppress_health_check=list(hypothesis.HealthCheck))

HOST_MODULES = ["audit_integrity", "audit_restore", "audit_snapshot", "config", "evidence", "health", "incident", "latency",
                "log_scan", "oidc_check", "policy"]
K8S_MODULES = ["k8s_audit_restore", "k8s_audit_snapshot", "k8s_delete_pods", "k8s_egress_check", "k8s_helm_rollback", "k8s_hpa",
               "k8s_incident_store", "k8s_ip_block",
               "k8s_resources", "k8s_rollback", "k8s_rollout_restart", "k8s_scale", "k8s_triage", "k8s_usage"]

#: Options whose documented behaviour is to write through a link the operator points at (docs/security.md).
WRITES_THROUGH_LINKS = {("config", "path"), ("policy", "path")}

ODD_TEXT = ["", " ", "\n", "-1", "0", "inf", "nan", "1e400", "1e999999999", "../..", "a" * 300, "INC-1", "INC-\u0661",
            "server.addr", "k=v", "{{ lookup('pipe', 'id') }}", "\x00", "ø", "2026-01-01T00:00:00Z", "10000-01-01T00:00:00Z",
            "http://user:pass@127.0.0.1:1/?token=t0k3n", "http://[::1", "https://127.0.0.1:1/", "file:///etc/passwd"]
NUMBERS = [-1, 0, 1, 3, 2 ** 31, 2 ** 63, 10 ** 30, -(10 ** 30), "inf", "-inf", "nan", "1e400", "1e999999999", "1.5",
           "abc", float("inf"), float("nan"), 1e300, True]


#: Modules with a deeper suite of their own (test_audit_fuzz.py).
OWN_SUITE = ["audit_query", "audit_verify"]


def test_every_module_is_fuzzed():
    """A new module joins one of the lists above (or has its own suite): none escapes the contract."""
    here = os.path.dirname(os.path.abspath(__file__))
    modules_dir = os.path.join(here, "..", "..", "..", "..", "plugins", "modules")
    shipped = sorted(name[:-3] for name in os.listdir(modules_dir) if name.endswith(".py") and name != "__init__.py")
    assert shipped == sorted(HOST_MODULES + K8S_MODULES + OWN_SUITE)


class Capture(Exception):
    """Raised instead of building the module: carries its AnsibleModule arguments."""


def module_spec(name):
    """The argument spec a module's main() builds (captured by stopping AirlockModule before it parses)."""
    module = __import__("ansible_collections.airlock.incident.plugins.modules." + name, fromlist=["main"])
    original = argspec.AirlockModule.__init__

    def capture(self, *args, **kwargs):
        raise Capture(kwargs.get("argument_spec", args[0] if args else None))

    argspec.AirlockModule.__init__ = capture
    try:
        module.main()
    except Capture as exc:
        return module, exc.args[0]
    finally:
        argspec.AirlockModule.__init__ = original
    raise AssertionError("%s.main() built no AirlockModule" % name)


class Sandbox:
    """A target directory (the module's working directory and every generated path) and an outside directory
    that the target's planted links point at; :meth:`outside_state` fingerprints the outside."""

    def __init__(self, root):
        self.root = root
        self.target = root / "target"
        self.outside = root / "outside"
        self.target.mkdir()
        self.outside.mkdir()
        (self.outside / "canary.txt").write_text("canary\n")
        (self.outside / "canary.yaml").write_text("server:\n  addr: ':8080'\n")
        (self.outside / "dir").mkdir()
        factory.build_db(self.outside / "audit.db", events=4)
        # open it once read-only, as a reader following a link would: its -wal/-shm exist from the start
        reader = sqlite3.connect("file:%s?mode=ro" % (self.outside / "audit.db"), uri=True)
        reader.execute("SELECT COUNT(*) FROM audit_events").fetchone()
        reader.close()
        os.symlink(str(self.outside / "canary.txt"), str(self.target / "link-file"))
        os.symlink(str(self.outside / "canary.yaml"), str(self.target / "link-yaml"))
        os.symlink(str(self.outside / "dir"), str(self.target / "link-dir"))
        os.symlink(str(self.outside / "missing"), str(self.target / "dangling"))
        os.symlink(str(self.outside / "audit.db"), str(self.target / "link-db"))
        os.mkfifo(str(self.target / "fifo"))
        factory.build_db(self.target / "audit.db", events=4)
        (self.target / "config.yaml").write_text("server:\n  addr: ':8080'\n")
        (self.target / "airlock.log").write_text('{"time":"2026-01-01T00:00:00Z","level":"error","msg":"x"}\n')

    def paths(self, writes_through):
        """Paths for a path option: planted links as the last component (a link to a directory the operator
        names is the operator's choice, followed by design, so none is offered)."""
        names = ["new-file", "audit.db", "config.yaml", "airlock.log", "fifo", "missing/deeper", "link-file", "link-db",
                 "dangling", "dangling/x", ""]
        if writes_through:
            names = [n for n in names if not n.startswith(("link-", "dangling"))]
        return [str(self.target / n) if n else "" for n in names]

    def outside_state(self):
        """Every name outside, with its type, size and content; an input read through a link the operator
        named may be opened (SQLite's read-only WAL reader keeps its shared-memory index in ``-shm``, whose
        content is not data and is left out), but nothing there may be written, created or removed."""
        state = {}
        for base, dirs, files in os.walk(str(self.outside)):
            for name in dirs + files:
                path = os.path.join(base, name)
                info = os.lstat(path)
                digest = None
                if os.path.isfile(path) and not name.endswith("-shm"):
                    with open(path, "rb") as handle:
                        digest = hashlib.sha256(handle.read()).hexdigest()
                state[path] = (stat.S_IFMT(info.st_mode), None if name.endswith("-shm") else info.st_size, digest)
        return state


class CountingApi(http.server.ThreadingHTTPServer):
    """A loopback 'API server' that answers 503 to every request and counts them."""

    daemon_threads = True

    def __init__(self):
        self.requests = 0

        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def _answer(self):
                server.requests += 1
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                body = json.dumps({"kind": "Status", "message": "unavailable", "code": 503}).encode()
                self.send_response(503)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _answer

            def log_message(self, *args):
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)
        self.thread.start()

    def kubeconfig(self, path):
        path.write_text(json.dumps({
            "apiVersion": "v1", "kind": "Config", "current-context": "fuzz",
            "clusters": [{"name": "fuzz", "cluster": {"server": "http://127.0.0.1:%d" % self.server_address[1]}}],
            "users": [{"name": "fuzz", "user": {"token": "fuzz-bearer-token-0123456789"}}],
            "contexts": [{"name": "fuzz", "context": {"cluster": "fuzz", "user": "fuzz"}}]}))
        return str(path)


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    box = Sandbox(tmp_path_factory.mktemp("fuzz"))
    cwd = os.getcwd()
    os.chdir(str(box.target))
    yield box
    os.chdir(cwd)


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    server = CountingApi()
    yield server
    server.shutdown()
    server.server_close()


#: Good values by option name, so that most runs get past the first check and reach deeper code.
GOOD_BY_NAME = {
    "incident_id": ["INC-1", "INC-2026-0001"],
    "confirm": ["INC-1"],
    "name": ["airlock"],
    "namespace": ["airlock-system", "fuzz"],
    "release": ["airlock"],
    "since": ["2h", "7d"],
    "severity": ["P1", "P2"],
    "type": ["outage", "security"],
}
LOOPBACK_URLS = ["http://127.0.0.1:1/", "http://user:pa55word@127.0.0.1:1/ready?token=t0k3n", "https://127.0.0.1:1"]


def mostly(good, odd):
    """``good`` four times in five, ``odd`` otherwise."""
    return st.one_of(good, good, good, good, odd)


def value_strategy(module_name, name, option, box, kubeconfig):
    """Values for one option, from its spec: the right type most of the time, and every odd value."""
    kind = option.get("type", "str")
    odd = st.sampled_from(NUMBERS if kind in ("int", "float") else ODD_TEXT)
    if option.get("choices"):
        return mostly(st.sampled_from(list(option["choices"])), odd)
    if name == "kubeconfig":
        broken = [str(box.target / "missing"), str(box.target / "fifo"), str(box.target / "config.yaml")]
        return mostly(st.just(kubeconfig), st.sampled_from(broken))
    if kind == "path":
        return st.sampled_from(box.paths((module_name, name) in WRITES_THROUGH_LINKS))
    if kind == "bool":
        return mostly(st.booleans(), st.sampled_from(["yes", "maybe", 2]))
    if kind == "int":
        return mostly(st.integers(min_value=0, max_value=400), odd)
    if kind == "float":
        return mostly(st.floats(min_value=0.1, max_value=3), odd)
    if kind == "list":
        sub = option.get("options")
        if sub:
            return st.lists(dict_strategy(module_name, sub, box, kubeconfig), max_size=2)
        return mostly(st.lists(st.one_of(st.text(max_size=12), st.sampled_from(ODD_TEXT)), max_size=3), odd)
    if kind == "dict":
        sub = option.get("options")
        if sub:
            return dict_strategy(module_name, sub, box, kubeconfig)
        return mostly(st.dictionaries(st.sampled_from(["server", "server.addr", "a", "upstreams", "env"]),
                                      st.one_of(st.text(max_size=8), st.integers(), st.dictionaries(
                                          st.text(max_size=4), st.text(max_size=4), max_size=2)), max_size=3), odd)
    if name in GOOD_BY_NAME:
        return mostly(st.sampled_from(GOOD_BY_NAME[name]), odd)
    if "url" in name:
        return mostly(st.sampled_from(LOOPBACK_URLS), odd)
    return st.one_of(st.text(max_size=16), odd)


def dict_strategy(module_name, spec, box, kubeconfig):
    required = {}
    optional = {}
    for name, option in spec.items():
        if name == "kubeconfig":
            required[name] = st.just(kubeconfig)
            continue
        strategy = value_strategy(module_name, name, option, box, kubeconfig)
        if option.get("required"):
            required[name] = strategy
        else:
            optional[name] = strategy
    return st.fixed_dictionaries(required, optional=optional)


def names_of(spec):
    names = set()
    for name, option in spec.items():
        names.add(name)
        names.update(option.get("aliases") or ())
        if option.get("options"):
            names.update(names_of(option["options"]))
    return names


def check_contract(module_name, result, spec, args, box, before, api_requests):
    msg = result.get("msg", "")
    assert isinstance(msg, str)
    assert "Traceback" not in msg, msg
    if result.get("failed") and api_requests == 0:
        named = [n for n in names_of(spec) if n in msg]
        assert named, "%s failed without naming an option: %r for %r" % (module_name, msg, args)
    assert box.outside_state() == before, "%s changed a file outside its target for %r" % (module_name, args)


def run_fuzz(module_name, box, api, tmp_path_factory, data):
    module, spec = module_spec(module_name)
    kubeconfig = api.kubeconfig(box.target / "kubeconfig.json")
    args = data.draw(dict_strategy(module_name, spec, box, kubeconfig))
    args["_ansible_check_mode"] = data.draw(st.booleans())
    before = box.outside_state()
    start = api.requests
    result = factory.run_module(module.main, args)
    check_contract(module_name, result, spec, args, box, before, api.requests - start)
    return result


@pytest.mark.parametrize("module_name", HOST_MODULES)
def test_host_module_refuses_cleanly_and_touches_nothing_outside(module_name, sandbox, api, tmp_path_factory):
    @settings
    @hypothesis.given(data=st.data())
    def check(data):
        run_fuzz(module_name, sandbox, api, tmp_path_factory, data)

    check()


@pytest.mark.parametrize("module_name", K8S_MODULES)
def test_k8s_module_refuses_before_any_api_call(module_name, sandbox, api, tmp_path_factory):
    @settings
    @hypothesis.given(data=st.data())
    def check(data):
        run_fuzz(module_name, sandbox, api, tmp_path_factory, data)

    check()


@pytest.mark.parametrize("value", ["inf", "-inf", "nan", "1e400", "1e999999999", 10 ** 30, float("inf"), float("nan")])
def test_an_int_option_out_of_64_bits_is_refused_naming_it(value, api, tmp_path_factory):
    """ansible-core's check_type_int crashes (OverflowError) on inf; AirlockModule refuses before it."""
    from ansible_collections.airlock.incident.plugins.modules import k8s_scale

    kubeconfig = api.kubeconfig(tmp_path_factory.mktemp("int") / "kubeconfig.json")
    start = api.requests
    result = factory.run_module(k8s_scale.main, {"replicas": value, "incident_id": "INC-1", "kubeconfig": kubeconfig})
    assert result["failed"] is True
    assert result["msg"].startswith("replicas: invalid value ")
    assert "an integer from -9223372036854775808 to 9223372036854775807" in result["msg"]
    assert api.requests == start


def test_an_int_suboption_out_of_range_is_refused_naming_its_path():
    spec = {"sources": {"type": "list", "elements": "dict", "options": {"events": {"type": "int"}}}}
    params = {"sources": [{"events": 3}, {"events": "inf"}]}
    refusals = argspec.int_refusals(spec, params)
    assert refusals == ["sources[1].events: invalid value 'inf'; accepted values: an integer from "
                        "-9223372036854775808 to 9223372036854775807"]
    assert params["sources"][1]["events"] == 0 and params["sources"][0]["events"] == 3


@pytest.mark.parametrize("value", [5, "5", "  7 ", 5.0, "0E+999999999", -2 ** 63, 2 ** 63 - 1, "abc", "1.5", [1], None])
def test_values_ansible_can_convert_or_refuse_itself_are_left_alone(value):
    params = {"n": value}
    assert argspec.int_refusals({"n": {"type": "int"}}, params) == []
    assert params["n"] == value
