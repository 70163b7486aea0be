"""Who may import whom (docs/architecture.md): a walk over every import in ``timebank/``.

- No module imports another feature's ``api`` or ``pages`` module, and no page imports an
  ``api`` module: what both need lives in the feature's service or in ``people.policy``.
- No feature imports the command line (``timebank.cli``) or the app's wiring (``timebank.app``,
  ``timebank.api``).
- The ledger's core imports no other feature: it depends on the database alone.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "timebank"
FEATURES = sorted(
    p.name
    for p in PACKAGE.iterdir()
    if p.is_dir() and (p / "__init__.py").exists() and p.name not in {"db", "migrations"}
)
WEB_MODULES = {"api", "pages"}
WIRING = {"timebank.cli", "timebank.app", "timebank.api"}
LEDGER_CORE = {
    "models", "steps", "drivers", "posting", "holds", "chain", "verify", "service", "rules",
    "accounts",
}  # fmt: skip


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> list[str]:
    """Every module ``path`` imports, at the top or inside a function."""
    found: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append(node.module)
            # ``from timebank.visits import api`` imports the module timebank.visits.api.
            found += [f"{node.module}.{alias.name}" for alias in node.names]
    return [name for name in found if name.startswith("timebank")]


def sources() -> list[Path]:
    return [p for p in sorted(PACKAGE.rglob("*.py")) if "migrations" not in p.parts]


def violations() -> list[str]:
    return [v for path in sources() for v in check(module_name(path), imports(path))]


def check(here: str, names: list[str]) -> list[str]:
    """What is wrong with module ``here`` importing ``names``."""
    found = []
    parts = here.split(".")
    feature = parts[1] if len(parts) > 2 and parts[1] in FEATURES else None
    for name in names:
        target = name.split(".")
        if len(target) == 3 and target[1] in FEATURES and target[2] in WEB_MODULES:
            if here in WIRING:
                continue
            if target[1] != feature:
                found.append(f"{here} imports another feature's {name}")
            elif parts[-1] == "pages" and target[2] == "api":
                found.append(f"{here} (a page) imports {name}")
        if feature and name in WIRING:
            found.append(f"{here} (a feature) imports the wiring {name}")
        if (
            feature == "ledger"
            and parts[-1] in LEDGER_CORE
            and len(target) >= 2
            and target[1] in FEATURES
            and target[1] != "ledger"
        ):
            found.append(f"{here} (the ledger's core) imports {name}")
    return found


def test_the_walk_sees_every_feature() -> None:
    assert {"ledger", "people", "visits", "orders", "pairing", "redeem"} <= set(FEATURES)
    assert len(sources()) > 80


def test_the_checker_can_fail() -> None:
    """Each rule refuses a made-up import, and lets the allowed ones through."""
    assert check("timebank.visits.pages", ["timebank.orders.api"])
    assert check("timebank.visits.pages", ["timebank.visits.api"])
    assert check("timebank.visits.service", ["timebank.orders.pages"])
    assert check("timebank.orders.cli", ["timebank.cli"])
    assert check("timebank.ledger.service", ["timebank.people.models"])
    assert not check("timebank.visits.api", ["timebank.visits.service", "timebank.orders.service"])
    assert not check("timebank.api", ["timebank.visits.api"])
    assert not check("timebank.ledger.pages", ["timebank.people.web"])


def test_no_module_crosses_a_layer() -> None:
    assert violations() == []
