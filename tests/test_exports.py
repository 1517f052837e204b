"""The public surface: what ``shallot_ws`` exports is pinned, and the pure modules stay pure."""

from __future__ import annotations

import ast
import pathlib

import shallot_ws
import shallot_ws.testing

PACKAGE = pathlib.Path(shallot_ws.__file__).parent


def test_public_names_are_pinned():
    assert sorted(shallot_ws.__all__) == [
        "Broadcast",
        "BroadcastError",
        "ConfigError",
        "ConfigTypeError",
        "InvalidHandler",
        "InvalidMessage",
        "InvalidMessageType",
        "LifecycleError",
        "MappedReceiver",
        "MultiDict",
        "ProtocolError",
        "Receiver",
        "ReceiverBusy",
        "RouteError",
        "Router",
        "ShallotWSError",
        "SubprotocolError",
        "WSDisconnect",
        "WebSocketApp",
        "allow_origins",
        "bearer_auth",
        "compose",
        "every",
        "guarded",
        "merge",
        "mount",
        "relay",
        "route",
        "router",
        "select_subprotocol",
        "websocket",
        "wrap_errors",
        "wrap_heartbeat",
        "wrap_idle_timeout",
        "wrap_json",
        "wrap_limits",
        "wrap_logging",
        "wrap_resource",
        "ws_accept",
        "ws_close",
        "ws_deny",
        "ws_send",
    ]
    for name in shallot_ws.__all__:
        assert getattr(shallot_ws, name) is not None


def test_testing_names_are_pinned():
    assert sorted(shallot_ws.testing.__all__) == [
        "ASGIViolation",
        "AppClosed",
        "BadFrame",
        "ContractMachine",
        "DISCONNECT_1006",
        "Disconnect",
        "Drop",
        "FlowError",
        "HandshakeRefused",
        "Receive",
        "SEND_AFTER_CLOSE_IGNORED",
        "SEND_AFTER_CLOSE_OSERROR",
        "SEND_AFTER_DISCONNECT_OSERROR",
        "Send",
        "Sleep",
        "TestingError",
        "Transcript",
        "VirtualClock",
        "WSTestConnection",
        "WSTimeout",
        "WebSocketMachine",
        "bad_frames",
        "check_sends",
        "connect",
        "contract_frames",
        "invalid_frames",
        "messages",
        "run_flow",
        "virtual_time",
    ]


def test_every_module_declares_all():
    for path in PACKAGE.rglob("*.py"):
        if path.name == "__main__.py":
            continue
        tree = ast.parse(path.read_text())
        names = {
            target.id
            for node in tree.body
            if isinstance(node, ast.Assign)
            for target in node.targets
            if isinstance(target, ast.Name)
        }
        assert "__all__" in names, f"{path.relative_to(PACKAGE)} has no __all__"


def _imports(path: pathlib.Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found


def test_pure_modules_import_no_event_loop_library():
    pure = (
        "types",
        "errors",
        "messages",
        "signatures",
        "asgi",
        "handshake",
        "reporting",
        "guards/chain",
        "scope",
        "guards/origin",
        "guards/auth",
        "guards/subprotocols",
        "patterns",
        "options",
        "lifecycle",
    )
    for name in pure:
        imported = _imports(PACKAGE / f"{name}.py")
        assert not imported & {"asyncio", "trio", "anyio", "uvloop"}, (name, imported)


# The layout rule: the optional packages import the core, never the other way. The core is
# every module but these (``__init__.py`` is the package's face: it re-exports ``Broadcast``;
# ``asyncapi.py`` is the command line's shim, ``python -m shallot_ws.asyncapi``, and holds
# nothing but its import of ``contracts.asyncapi``).
OPTIONAL = ("broadcast", "testing", "contracts", "client", "observability")
SHIMS = (PACKAGE / "__init__.py", PACKAGE / "asyncapi.py")


def _internal_imports(path: pathlib.Path) -> set[str]:
    """The ``shallot_ws`` modules ``path`` imports (relative imports resolved), any place in
    it, ``TYPE_CHECKING`` blocks and functions included."""
    package = path.relative_to(PACKAGE.parent).with_suffix("").parts[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith("shallot_ws"))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = ".".join(package[: len(package) - node.level + 1])
                module = f"{base}.{node.module}" if node.module else base
            elif (node.module or "").startswith("shallot_ws"):
                module = node.module or ""
            else:
                continue
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)
    return found


def test_the_core_imports_no_optional_package():
    core = [
        path
        for path in PACKAGE.rglob("*.py")
        if path.relative_to(PACKAGE).parts[0] not in OPTIONAL and path not in SHIMS
    ]
    assert PACKAGE / "merge.py" in core and PACKAGE / "guards" / "chain.py" in core
    forbidden = tuple(f"shallot_ws.{name}" for name in OPTIONAL)
    for path in core:
        wrong = sorted(
            name for name in _internal_imports(path) if name.split(".")[:2] in _split(forbidden)
        )
        assert wrong == [], (path.relative_to(PACKAGE), wrong)


def test_the_asyncapi_shim_holds_only_its_import():
    tree = ast.parse((PACKAGE / "asyncapi.py").read_text())
    imports = [node for node in tree.body if isinstance(node, (ast.Import, ast.ImportFrom))]
    assert [ast.unparse(node) for node in imports] == [
        "from __future__ import annotations",
        "from .contracts.asyncapi import asyncapi, main",
    ]
    assert [type(node).__name__ for node in tree.body] == [
        "Expr",  # the docstring
        "ImportFrom",
        "ImportFrom",
        "Assign",  # __all__
        "If",  # if __name__ == "__main__": raise SystemExit(main())
    ]
    assert ast.unparse(tree.body[-1]) == (
        "if __name__ == '__main__':\n    raise SystemExit(main())"
    )


def _split(names: tuple[str, ...]) -> list[list[str]]:
    return [name.split(".") for name in names]


def test_the_core_import_check_sees_relative_imports():
    merge = _internal_imports(PACKAGE / "merge.py")
    assert "shallot_ws.options.count" in merge and "shallot_ws.errors" in merge
    chain = _internal_imports(PACKAGE / "guards" / "chain.py")
    assert "shallot_ws.signatures.check_hook" in chain


def test_the_package_needs_nothing_beyond_the_standard_library():
    import sys

    allowed = set(sys.stdlib_module_names) | {"shallot_ws", "__future__"}
    optional = {  # the ``redis``, ``typed``, ``pydantic``, ``prometheus`` and ``otel`` extras
        PACKAGE / "broadcast" / "_redis.py": {"redis"},
        PACKAGE / "contracts" / "codecs.py": {"msgspec", "pydantic"},
        PACKAGE / "contracts" / "contract.py": {"msgspec"},
        PACKAGE / "observability" / "prometheus.py": {"prometheus_client"},
        PACKAGE / "observability" / "otel.py": {"opentelemetry"},
    }
    for path in PACKAGE.rglob("*.py"):
        if "testing" in path.parts:
            continue  # test helpers may use hypothesis (the ``test`` extra)
        extra = optional.get(path, set())
        assert _imports(path) <= allowed | extra, (path, _imports(path) - allowed)


def test_redis_is_imported_only_when_a_redis_url_is_used():
    import subprocess
    import sys

    code = (
        "import sys; import shallot_ws, shallot_ws.broadcast as b; b.Broadcast('memory://');"
        " print('redis' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"


def test_observability_works_without_its_exporters_and_the_core_never_loads_it():
    import subprocess
    import sys

    code = (
        "import sys\n"
        "sys.modules['prometheus_client'] = None\n"  # as if not installed
        "sys.modules['opentelemetry'] = None\n"
        "import shallot_ws, shallot_ws.broadcast\n"
        "print('shallot_ws.observability' in sys.modules)\n"
        "from shallot_ws.observability import Metrics, instrument\n"
        "instrument(shallot_ws.router([]), Metrics())\n"
        "for exporter in ('prometheus', 'otel'):\n"
        "    try:\n"
        "        __import__(f'shallot_ws.observability.{exporter}')\n"
        "    except ImportError as error:\n"
        "        print(error.name)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.split() == ["False", "prometheus_client", "opentelemetry"]


def test_observability_names_are_pinned():
    import shallot_ws.observability

    assert sorted(shallot_ws.observability.__all__) == [
        "ALL_CHANNELS",
        "ChannelStats",
        "ConnectionTrace",
        "ConnectionTracer",
        "DEFAULT_BUCKETS",
        "Ending",
        "Histogram",
        "Instrumented",
        "Metrics",
        "RouteStats",
        "Tally",
        "Traffic",
        "UNROUTED",
        "ending",
        "instrument",
        "payload_size",
        "wrap_dropped_frames",
    ]


def test_typed_marker_is_shipped():
    assert (PACKAGE / "py.typed").exists()


def _private_reads_of_others(path: pathlib.Path) -> list[str]:
    """``x._name`` in ``path`` where ``x`` is not ``self``/``cls`` and ``_name`` is nothing
    the module itself defines: a read of another module's private member."""
    tree = ast.parse(path.read_text())
    own: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            own.add(node.name)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            own.add(node.attr)
        elif (
            isinstance(node, ast.Assign)
            and isinstance(node.value, (ast.Tuple, ast.List))
            and any(isinstance(t, ast.Name) and t.id == "__slots__" for t in node.targets)
        ):
            own.update(e.value for e in node.value.elts if isinstance(e, ast.Constant))
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Attribute) or not node.attr.startswith("_"):
            continue
        if node.attr.startswith("__") or node.attr in own:
            continue
        if isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"):
            continue
        found.append(f"{path.relative_to(PACKAGE)}:{node.lineno}: {ast.unparse(node)}")
    return found


def test_no_module_reads_another_modules_private_members():
    # The virtual clock drives asyncio's own loop: its ready queue and timer heap have no
    # public names (testing/clock.py says so); nothing else is allowed.
    allowed = {"_scheduled", "_ready", "_clock_resolution"}
    found = [
        line
        for path in sorted(PACKAGE.rglob("*.py"))
        for line in _private_reads_of_others(path)
        if not (path.name == "clock.py" and line.rsplit(".", 1)[-1].split("[")[0] in allowed)
    ]
    assert found == []
