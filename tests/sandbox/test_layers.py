"""The sandbox's modules import each other in one direction only (core at the bottom, the CLI at the top)."""
import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# lower layers first; a module may import its own layer's and lower layers' modules, never a higher one's
LAYERS = [
    {"sandbox.core", "sandbox.names"},
    {"sandbox.delivery"},
    {"sandbox.state"},
    {"sandbox.wecom.models", "sandbox.dingtalk.models"},
    {"sandbox.wecom.seed", "sandbox.dingtalk.seed"},
    {"sandbox.wecom.actions", "sandbox.dingtalk.actions"},
    {"sandbox.wecom.endpoints", "sandbox.dingtalk.endpoints"},
    {"sandbox.scenarios", "sandbox.seed"},
    {"sandbox.control"},
    {"sandbox.index"},
    {"sandbox.app"},
    {"sandbox.cli"},
]


def _modules() -> dict[str, Path]:
    out = {}
    for path in (ROOT / "sandbox").rglob("*.py"):
        name = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        out[name] = path
    return out


def _layer(module: str) -> int | None:
    for depth, layer in enumerate(LAYERS):
        if any(module == m or module.startswith(m + ".") for m in layer):
            return depth
    return None  # a package's __init__ (a docstring only)


def _imports(path: Path, known: set[str]) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found |= {node.module} | {f"{node.module}.{a.name}" for a in node.names}
    return {name for name in found if name in known}


def test_every_sandbox_module_has_a_layer_and_package_inits_import_nothing_else():
    modules = _modules()
    for name, path in modules.items():
        if _layer(name) is None:
            assert path.name == "__init__.py", f"{name} belongs to no layer"
            assert not _imports(path, set(modules)), f"{name} should only describe its package"


def test_sandbox_modules_never_import_a_higher_layer():
    modules = _modules()
    for name, path in modules.items():
        mine = _layer(name)
        for imported in _imports(path, set(modules)):
            theirs = _layer(imported)
            assert theirs is None or mine is None or theirs <= mine, f"{name} imports higher {imported}"
            if theirs == mine and not imported.startswith(name.rsplit(".", 1)[0]):
                assert False, f"{name} imports {imported} of its own layer in another package"


def test_the_sandbox_imports_no_product_code_but_the_codecs():
    for name, path in _modules().items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] in {"scrm", "connectors"}:
                assert node.module in {"connectors.wecom.crypto", "connectors.dingtalk.crypto"}, (name, node.module)
