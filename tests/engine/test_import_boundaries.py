"""A worker and ``crmsync serve`` run no emulator code: the emulators are imported only by
``crmsync emulate``, the demo, the tests and the benchmarks."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import crmsync.api
import crmsync.cli
import crmsync.domain
import crmsync.engine
import crmsync.services
import crmsync.web

PRODUCTION = """
import json, sys
from crmsync.cli.main import app  # the CLI module itself
from crmsync.engine.queue import WorkerConsumer, create_queue  # what `crmsync worker` runs
from crmsync.engine.runtime import Runtime
from crmsync.metrics import registry_for
from crmsync.service import build_service  # what `crmsync serve` runs
from crmsync.settings import Settings
Runtime.from_settings(Settings(database_url="sqlite://", encryption_key=EncryptionKey))
loaded = [m for m in sys.modules if m.startswith("crmsync.emulation") or ".emulator" in m]
print(json.dumps(sorted(loaded)))
"""


def _loaded_after(code: str) -> list[str]:
    from cryptography.fernet import Fernet

    key = Fernet.generate_key().decode()
    script = code.replace("EncryptionKey", repr(key))
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout
    loaded: list[str] = json.loads(out.strip().splitlines()[-1])
    return loaded


def test_the_worker_and_the_server_import_no_emulator() -> None:
    assert _loaded_after(PRODUCTION) == []


def test_the_check_sees_an_emulator_when_one_is_imported() -> None:
    """The probe above can fail: importing the emulator catalogue is seen."""
    probe = PRODUCTION.replace(
        "from crmsync.settings import Settings",
        "from crmsync.settings import Settings\nimport crmsync.providers.emulators",
    )
    assert "crmsync.providers.hubspot.emulator.harness" in _loaded_after(probe)


def _imports(package: ModuleType) -> list[tuple[str, str]]:
    """Every module a package's files import, as (file, module), read from their source."""
    root = Path(str(package.__file__)).parent
    found: list[tuple[str, str]] = []
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                found.append((str(path.relative_to(root)), node.module or ""))
            elif isinstance(node, ast.Import):
                found += [(str(path.relative_to(root)), alias.name) for alias in node.names]
    assert len({file for file, _ in found}) >= 3, "the scan must see the package's modules"
    return found


def test_the_domain_imports_nothing_else_of_crmsync() -> None:
    """The domain is plain data every layer may use; it depends on none of them."""
    outside = [
        (file, name)
        for file, name in _imports(crmsync.domain)
        if name.startswith("crmsync") and not name.startswith("crmsync.domain")
    ]
    assert outside == []


def test_the_host_api_imports_nothing_of_the_admin_ui() -> None:
    """Layers point one way: the service assembly composes the API and the admin UI."""
    assert [(f, n) for f, n in _imports(crmsync.api) if n.startswith("crmsync.web")] == []


EDGES = ("crmsync.api", "crmsync.web")


def _edge(module: str) -> bool:
    return any(module == edge or module.startswith(edge + ".") for edge in EDGES)


def test_the_services_import_nothing_of_the_host_api_or_the_admin_ui() -> None:
    """The edges turn their input into domain commands; the services know no schema."""
    assert [(f, n) for f, n in _imports(crmsync.services) if _edge(n)] == []


def test_the_edge_check_sees_an_api_import() -> None:
    """The check above can fail: the host API's own modules are seen importing it."""
    assert ("routes/host.py", "crmsync.api.schemas") in _imports(crmsync.api)
    assert _edge("crmsync.api.schemas") and _edge("crmsync.web") and not _edge("crmsync.apikey")


DATABASE_CALLS = frozenset(
    {"execute", "scalar", "scalars", "get", "add", "add_all", "delete", "merge", "flush", "query"}
)


def _database_calls(package: ModuleType) -> list[tuple[str, str]]:
    """Calls such as ``session.scalars(...)`` in the package's files, as (file, method), and
    every ``sqlalchemy`` name they import beyond the ``Session`` type."""
    root = Path(str(package.__file__)).parent
    found: list[tuple[str, str]] = []
    for path in sorted(root.rglob("*.py")):
        file = str(path.relative_to(root))
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("sqlalchemy"):
                found += [(file, a.name) for a in node.names if a.name != "Session"]
            elif isinstance(node, ast.Import):
                found += [(file, a.name) for a in node.names if a.name.startswith("sqlalchemy")]
            elif (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and isinstance(node.func.value, ast.Name)
                and "session" in node.func.value.id
                and node.func.attr in DATABASE_CALLS
            ):
                found.append((file, node.func.attr))
    return found


def test_the_admin_ui_reads_and_changes_state_only_through_the_services() -> None:
    """The admin UI passes its session to the services, which query and write the tables;
    it builds no statement and calls no session method itself."""
    assert _database_calls(crmsync.web) == []


def test_the_database_call_check_sees_a_service_query() -> None:
    """The check above can fail: the services' own queries are seen."""
    found = _database_calls(crmsync.services)
    assert ("connections.py", "scalar") in found and ("connections.py", "select") in found


def _lazy_imports(package: ModuleType) -> list[tuple[str, str]]:
    """Imports inside a function or method of the package's files, as (file, module)."""
    root = Path(str(package.__file__)).parent
    found: list[tuple[str, str]] = []
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for inner in ast.walk(node):
                if isinstance(inner, ast.ImportFrom):
                    found.append((str(path.relative_to(root)), inner.module or ""))
                elif isinstance(inner, ast.Import):
                    found += [(str(path.relative_to(root)), a.name) for a in inner.names]
    return found


def test_the_engine_imports_nothing_lazily() -> None:
    """A function-level import hides a cycle (runner, pump, batch, bulk) from the reader and
    the type checker: the engine's modules import at the top, one way."""
    assert _lazy_imports(crmsync.engine) == []


def test_the_lazy_import_check_sees_a_function_level_import() -> None:
    """The check above can fail: the CLI imports inside its commands, and is seen doing so."""
    assert ("main.py", "uvicorn") in _lazy_imports(crmsync.cli)
