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
        "MappedReceiver",
        "MultiDict",
        "ProtocolError",
        "Receiver",
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
        "connect",
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
        "guards",
        "scope",
        "origin",
        "auth",
        "subprotocols",
        "patterns",
        "options",
    )
    for name in pure:
        imported = _imports(PACKAGE / f"{name}.py")
        assert not imported & {"asyncio", "trio", "anyio", "uvloop"}, (name, imported)


def test_the_package_needs_nothing_beyond_the_standard_library():
    import sys

    allowed = set(sys.stdlib_module_names) | {"shallot_ws", "__future__"}
    optional = {PACKAGE / "broadcast" / "_redis.py": {"redis"}}  # the ``redis`` extra
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


def test_typed_marker_is_shipped():
    assert (PACKAGE / "py.typed").exists()
