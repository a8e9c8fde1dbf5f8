"""The layer rules, read from the source (AST), so that a new import cannot quietly break them.

- ``studio/ui`` talks to the services through one door (``studio.services``) plus the config
  dataclasses (``studio.config``, ``studio.schema``), and never imports the model libraries;
- no service package imports the UI, the CLI or the benchmark, nor gradio;
- the packages import each other without cycles;
- modules stay small enough to read: well under 400 lines (out of the last 5%, the biggest named when
  one is not), about 60 lines a function;
- imports sit at the top of their module, except at a few named boundaries;
- each package's docstring names every module and subpackage directly inside it.

An import inside a function carries its reason, one of ``LAZY_REASONS``, on its first line or in a
comment directly above it (one comment may head a run of such imports)::

    from studio.chat.engine import ChatEngine  # lazy: cli-startup
    import llama_cpp  # lazy: optional - compiled from source (requirements-llamacpp.txt)
    # lazy: ui-startup - rouge_score loads nltk (seconds), for a score few runs ask for
    from rouge_score import rouge_scorer

A standard-library module is never imported lazily, and no reason is an import cycle: the
modules import each other without cycles, lazy imports included (``test_modules_have_no_import_cycles``).
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

STUDIO = Path(__file__).resolve().parents[1] / "studio"
MODEL_LIBRARIES = {"torch", "transformers", "trl", "peft", "bitsandbytes", "accelerate"}
UI_MAY_IMPORT = ("studio.services", "studio.config", "studio.schema", "studio.ui")
FRONT_ENDS = {"ui", "cli", "bench"}
MAX_MODULE_LINES = 400
CAP_MARGIN = 0.05  # no module within 5% of the cap: one that is holds two things
MAX_FUNCTION_LINES = 60


def imports(path: Path) -> list[str]:
    """Every module a file imports, at any depth (function-level imports count too)."""
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            out.append(node.module)
            # `from studio.export import hub` imports the module studio.export.hub
            out += [f"{node.module}.{alias.name}" for alias in node.names if node.module.startswith("studio")]
    return out


def package_of(path: Path) -> str:
    """studio/train/jobs/manager.py -> train; studio/config.py -> config."""
    parts = path.relative_to(STUDIO).parts
    return parts[0] if len(parts) > 1 else parts[0].removesuffix(".py")


def studio_files() -> list[Path]:
    return sorted(STUDIO.rglob("*.py"))


def test_ui_imports_only_the_door_and_no_model_library():
    bad = []
    for path in (STUDIO / "ui").rglob("*.py"):
        for name in imports(path):
            root = name.split(".")[0]
            if root in MODEL_LIBRARIES or (root == "studio" and not name.startswith(UI_MAY_IMPORT)):
                bad.append(f"{path.relative_to(STUDIO)} imports {name}")
    assert not bad, "\n".join(bad)


def test_services_import_no_front_end_and_no_gradio():
    bad = []
    for path in studio_files():
        if package_of(path) in FRONT_ENDS | {"__main__"}:
            continue
        for name in imports(path):
            parts = name.split(".")
            if parts[0] == "gradio" or (parts[0] == "studio" and len(parts) > 1 and parts[1] in FRONT_ENDS):
                bad.append(f"{path.relative_to(STUDIO)} imports {name}")
    assert not bad, "\n".join(bad)


def package_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = defaultdict(set)
    for path in studio_files():
        here = package_of(path)
        for name in imports(path):
            parts = name.split(".")
            if (
                parts[0] == "studio"
                and len(parts) > 1
                and parts[1] != here
                and (STUDIO / parts[1]).exists() | (STUDIO / f"{parts[1]}.py").exists()
            ):
                graph[here].add(parts[1])
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1: on the stack, 2: done

    def visit(node, stack):
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack + [node, nxt]
            if nxt not in state and (found := visit(nxt, stack + [node])):
                return found
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node, [])):
            return found
    return None


def test_packages_have_no_import_cycles():
    cycle = find_cycle(package_graph())
    assert cycle is None, " -> ".join(cycle)


def test_find_cycle_sees_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) is not None
    assert find_cycle({"a": {"b"}, "b": {"c"}}) is None


def test_top_of_studio_is_a_handful_of_packages():
    entries = sorted(p.name for p in STUDIO.iterdir() if p.name != "__pycache__")
    modules = [e for e in entries if e.endswith(".py")]
    assert set(modules) <= {"__init__.py", "__main__.py", "schema.py", "paths.py"}, entries
    assert len(entries) <= 19, entries  # 15 packages (config, services and generate the newest), 4 modules


def test_paths_is_a_leaf():
    """studio/paths.py (the runs root, the cache, the allowed folders) imports nothing of the studio's,
    so every package may ask it without a cycle."""
    assert not [name for name in imports(STUDIO / "paths.py") if name.split(".")[0] == "studio"]


def module_name(path: Path) -> str:
    parts = path.relative_to(STUDIO.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def module_graph() -> dict[str, set[str]]:
    """Module -> the studio modules it imports, at any depth: a lazy import cannot hide a cycle."""
    modules = {module_name(path): path for path in studio_files()}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        found = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found |= {
                    f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in modules else node.module
                    for a in node.names
                }
        found |= {parent for m in found for parent in _parents(m) if not _inside(name, parent)}
        graph[name] = {m for m in found if m in modules and m != name}
    return graph


def _parents(module: str) -> list[str]:
    """studio.train.methods.grpo_rewards -> studio.train.methods, studio.train (not studio itself):
    importing a module first runs each package above it, and what their ``__init__`` imports."""
    parts = module.split(".")
    return [".".join(parts[:i]) for i in range(2, len(parts))]


def _inside(module: str, package: str) -> bool:
    """A module inside ``package`` runs after that package's ``__init__`` began: no new edge."""
    return module == package or module.startswith(package + ".")


def test_modules_have_no_import_cycles():
    """Within a package too (data/ had access -> clean -> dataset -> loading -> access, hidden by a lazy
    import), and through a package's ``__init__``: train.checks imported a reward function from
    train.methods, whose ``__init__`` imported every builder, which imported train.model, which
    imported train.checks."""
    cycle = find_cycle(module_graph())
    assert cycle is None, " -> ".join(cycle)


def module_sizes() -> list[tuple[int, str]]:
    """(lines, path) of every studio module, the biggest first."""
    sizes = [(len(p.read_text().splitlines()), str(p.relative_to(STUDIO))) for p in studio_files()]
    return sorted(sizes, reverse=True)


def test_modules_stay_well_under_the_cap():
    """The cap is guidance: a module near it holds two things. Every module stays out of the last 5%
    (under 380 lines); a failure names the biggest modules, so a split lands where it is due."""
    sizes = module_sizes()
    over = [(n, path) for n, path in sizes if n > MAX_MODULE_LINES * (1 - CAP_MARGIN)]
    biggest = ", ".join(f"{path} {n}" for n, path in sizes[:8])
    assert not over, f"split by concept: {', '.join(f'{p} ({n} lines)' for n, p in over)}; the biggest: {biggest}"


def test_functions_stay_small():
    long = [
        f"{path.relative_to(STUDIO)}:{node.name} ({node.end_lineno - node.lineno + 1} lines)"
        for path in studio_files()
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES
    ]
    assert not long, f"functions over {MAX_FUNCTION_LINES} lines: {', '.join(long)}"


def unnamed_contents(package: Path) -> list[str]:
    """The modules and subpackages directly inside ``package`` that its ``__init__`` docstring does not
    name as a whole word (``gguf_check``, ``jobs``)."""
    doc = ast.get_docstring(ast.parse((package / "__init__.py").read_text())) or ""
    inside = [p.stem for p in package.glob("*.py") if p.name != "__init__.py"]
    inside += [p.name for p in package.iterdir() if (p / "__init__.py").is_file()]
    return sorted(name for name in inside if not re.search(rf"\b{re.escape(name)}\b", doc))


def test_each_package_docstring_names_what_is_inside_it():
    """A reader opening a package's ``__init__`` learns what each module in it is for, by its name."""
    missing = {
        str(init.parent.relative_to(STUDIO.parent)): unnamed
        for init in sorted(STUDIO.rglob("__init__.py"))
        if (unnamed := unnamed_contents(init.parent))
    }
    assert not missing, "name each, with what it is for, in the package's docstring: " + "; ".join(
        f"{package}: {', '.join(names)}" for package, names in missing.items()
    )


def test_unnamed_contents_sees_a_module_the_docstring_leaves_out(tmp_path):
    (tmp_path / "__init__.py").write_text('"""- ``gguf``: the file; ``jobs``: the queue."""\n')
    for name in ("gguf.py", "gguf_check.py", "__main__.py"):
        (tmp_path / name).write_text("")
    (tmp_path / "jobs").mkdir()
    (tmp_path / "jobs" / "__init__.py").write_text("")
    (tmp_path / "assets").mkdir()  # a folder without __init__.py is no package
    assert unnamed_contents(tmp_path) == ["__main__", "gguf_check"]


STATUS_WORDS = {"queued", "starting", "running", "stopping", "completed", "stopped", "failed", "interrupted"}


def test_run_statuses_are_listed_in_one_place():
    """A tuple or set of status words anywhere but studio/runs/directory.py is a second table that can drift."""
    bad = []
    for path in studio_files():
        if path == STUDIO / "runs" / "directory.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Tuple | ast.Set | ast.List) and len(node.elts) >= 2:
                words = [e.value for e in node.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)]
                if len(words) == len(node.elts) and set(words) <= STATUS_WORDS:
                    bad.append(f"{path.relative_to(STUDIO)}:{node.lineno} {words}")
    assert not bad, "\n".join(bad)


LAZY_REASONS = {
    "cli-startup": "keeps `python -m studio --help` from loading torch or another slow library: the CLI's "
    "commands, and the modules they import to build their flags",
    "optional": "a package the studio runs without (llama_cpp, ray, the trackers, lm_eval, the GGUF "
    "converter's script, bitsandbytes where optional)",
    "ui-startup": "a slow library (a second or more) that the app would otherwise load at start through "
    "studio.services, for a feature few sessions use",
    "ray-worker": "the function Ray sends to its workers: the driver runs as __main__, so Ray pickles it by "
    "value with its globals, and a module-level torch or accelerate fails to serialize",
}
LAZY = re.compile(r"#\s*lazy:\s*([\w-]+)")


def lazy_reason(lines: list[str], lineno: int) -> str | None:
    """The ``# lazy: REASON`` on an import's first line, or in the comments right above it or above
    the run of imports it belongs to."""
    if found := LAZY.search(lines[lineno - 1]):
        return found.group(1)
    i = lineno - 2
    while i >= 0 and (text := lines[i].strip()).startswith(("#", "import ", "from ")):
        if text.startswith("#") and (found := LAZY.search(text)):
            return found.group(1)
        i -= 1
    return None


def lazy_imports(path: Path) -> list[tuple[int, str, str | None]]:
    """(line, module, reason) of every import inside a function of ``path``."""
    text = path.read_text()
    lines, found = text.splitlines(), {}
    for fn in ast.walk(ast.parse(text)):
        if isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
            for node in ast.walk(fn):
                if isinstance(node, ast.Import | ast.ImportFrom) and node.lineno not in found:
                    name = node.names[0].name if isinstance(node, ast.Import) else node.module or ""
                    found[node.lineno] = (node.lineno, name, lazy_reason(lines, node.lineno))
    return sorted(found.values())


def test_imports_sit_at_module_top_or_name_their_boundary():
    """A lazy import hides a cycle or a slow import that should be fixed where it starts (STYLE.md 17):
    only the boundaries in LAZY_REASONS keep one, and never for the standard library."""
    bad = []
    for path in studio_files():
        for lineno, name, reason in lazy_imports(path):
            where = f"{path.relative_to(STUDIO)}:{lineno} {name}"
            if name.split(".")[0] in sys.stdlib_module_names:
                bad.append(f"{where}: the standard library belongs at the top")
            elif reason not in LAZY_REASONS:
                bad.append(f"{where}: move it to the top, or say '# lazy: {'|'.join(LAZY_REASONS)}' (got {reason})")
    assert not bad, "\n".join(bad)


def test_lazy_reason_is_read_from_the_line_or_the_comment_above(tmp_path):
    source = tmp_path / "m.py"
    source.write_text(
        "def f():\n"
        "    import llama_cpp  # lazy: optional - compiled from source\n"
        "    # lazy: ui-startup - seconds to load\n"
        "    from rouge_score import rouge_scorer\n"
        "    import ray\n"
        "    x = 1\n"
        "    import torch  # the model libraries load here\n"
        "    import json  # lazy: optional\n"
    )
    assert lazy_imports(source) == [
        (2, "llama_cpp", "optional"),
        (4, "rouge_score", "ui-startup"),
        (5, "ray", "ui-startup"),
        (7, "torch", None),
        (8, "json", "optional"),
    ]


HEAVY = {"torch", "transformers", "trl", "peft", "accelerate", "datasets", "datasketch", "scipy", "gradio"}


def test_cli_help_loads_no_model_library():
    """``python -m studio --help`` lists the commands without loading torch, transformers or the like."""
    script = (
        "import sys\n"
        "from studio.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        f"print(sorted({{m.split('.')[0] for m in sys.modules}} & set({sorted(HEAVY)!r})))"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=STUDIO.parent, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert "usage: python -m studio" in done.stdout
    assert done.stdout.strip().splitlines()[-1] == "[]"
