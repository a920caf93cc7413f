"""The shape of the code (docs/ARCHITECTURE.md): no import cycles, `actions`
never imports `bot`, the environment read in one module of each package,
nothing pointing outside the repository, README's configuration table
generated from bot/config.py."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("bot", "actions")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for package in PACKAGES for p in sorted((ROOT / package).rglob("*.py"))
            if "migrations" not in p.parts}


def _type_checking_only(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> bool:
    while node in parents:
        node = parents[node]
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            return True
    return False


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """The project modules a module imports, anywhere in it (functions included), but not under
    `if TYPE_CHECKING:`. `from package import name` counts as importing the submodule when there
    is one of that name, else the package."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(tree):
        if _type_checking_only(node, parents):
            continue
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names]
        else:
            continue
        found.update(t for t in targets if t in known and t != name)
    return found


def import_graph() -> dict[str, set[str]]:
    mods = modules()
    known = set(mods)
    return {name: imports_of(name, path, known) for name, path in mods.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10000))

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in graph:
        if node not in index:
            visit(node)
    return found


def test_the_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycles():
    assert cycles(import_graph()) == []


def test_actions_never_import_bot():
    graph = import_graph()
    offenders = {name: sorted(t for t in targets if t.split(".")[0] == "bot")
                 for name, targets in graph.items() if name.split(".")[0] == "actions"}
    assert {k: v for k, v in offenders.items() if v} == {}


def test_the_dialogue_engine_does_no_io():
    graph = import_graph()
    assert not graph["bot.engine"] & {"bot.store", "bot.runner", "bot.db", "bot.app"}


ENV_ACCESS = re.compile(r"\bos\.environ\b|\bos\.getenv\b|\bgetenv\(|\benviron\[")


def test_the_environment_is_read_in_one_module_of_each_package():
    """bot/config.py (through pydantic-settings) for the runtime; actions/loader.py (the criteria
    file only) for the stock action server, which runs without `bot`."""
    sources = {str(path.relative_to(ROOT)): path.read_text(encoding="utf-8") for path in modules().values()}
    readers = sorted(name for name, text in sources.items() if ENV_ACCESS.search(text))
    settings = sorted(name for name, text in sources.items() if "pydantic_settings" in text)
    assert readers == ["actions/loader.py"] and settings == ["bot/config.py"]
    assert set(re.findall(r"PRESCREEN_\w+", sources["actions/loader.py"])) == {"PRESCREEN_CRITERIA"}


def tracked_files() -> list[Path]:
    names = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                           capture_output=True, text=True, check=True).stdout.split()
    return [ROOT / n for n in names if (ROOT / n).is_file()]


def test_nothing_points_outside_the_repository():
    """No file names a document or folder that is not in the project (an earlier contract file
    lived beside it); docs/ARCHITECTURE.md states the architecture and contracts."""
    outside = re.compile(r"(?<![\w/])(DESIGN\.md|\.\./shared|\.\./seeds)")
    offenders = []
    for path in tracked_files():
        if path.suffix in {".sqlite3", ".png", ".ico"} or path == Path(__file__):
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        for number, line in enumerate(text.splitlines(), 1):
            if outside.search(line):
                offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()[:100]}")
    assert offenders == []


def test_architecture_document_exists_and_names_every_package():
    text = (ROOT / "docs" / "ARCHITECTURE.md").read_text(encoding="utf-8")
    for name in ("bot/db", "bot/store.py", "bot/engine.py", "bot/runner.py", "bot/config.py", "actions/",
                 "dialogues/", "criteria.yaml", "Rasa"):
        assert name in text, name


def test_readme_configuration_table_is_generated_from_the_settings():
    from bot.config import markdown_table
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert markdown_table() in readme, "run `python -m bot.config` and paste its table into README.md"


@pytest.mark.parametrize("variable, value, words", [
    ("PRESCREEN_ACTION_TIMEOUT", "soon", "PRESCREEN_ACTION_TIMEOUT"),
    ("PRESCREEN_TRUSTED_PROXIES", "-1", "PRESCREEN_TRUSTED_PROXIES"),
    ("PRESCREEN_AUTO_UPGRADE", "maybe", "PRESCREEN_AUTO_UPGRADE"),
    ("PRESCREEN_DATABASE_URL", "  ", "PRESCREEN_DATABASE_URL"),
])
def test_a_bad_variable_is_refused_by_name(variable, value, words):
    from bot.config import ConfigError, Settings
    with pytest.raises(ConfigError, match=words):
        Settings.load({variable: value})


def test_settings_defaults_and_values():
    from bot.config import Settings
    defaults = Settings.load({})
    assert defaults.max_message_length == 2000 and defaults.db_busy_timeout_ms == 5000
    assert defaults.criteria == "criteria.yaml" and defaults.auto_upgrade is True
    chosen = Settings.load({"PRESCREEN_MAX_MESSAGE_LENGTH": "500", "PRESCREEN_AUTO_UPGRADE": "0",
                            "PRESCREEN_SECURE_COOKIES": "", "OTHER": "x"})
    assert chosen.max_message_length == 500 and chosen.auto_upgrade is False and chosen.secure_cookies is None
