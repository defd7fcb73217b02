"""Imports inside ``speechbrain_ptssnn`` run one way: from a layer to the layers below it.

Every module of the package is read with ``ast`` (nothing is imported); every
import in it, at module level or inside a function, ``import x`` or ``from x
import y``, absolute or relative, and ``importlib.import_module("...")`` with a
literal name, is mapped to the package it reaches. A module may import its own
package and any lower layer; never a higher layer, nor another package of its
own layer -- except for the few imports in :data:`ALLOWED`, which the code
needs today and which are listed with their reason.
"""

import ast
import pathlib

import pytest

PACKAGE = "speechbrain_ptssnn"
PACKAGE_DIR = pathlib.Path(__file__).resolve().parents[1] / PACKAGE

#: The layers, lowest first. ``export`` and ``inference`` are matched by prefix
#: (``speechbrain_ptssnn.export*``), as they may become packages.
LAYERS = (
    ("atomic", "runs"),
    ("dataprep", "lobes", "losses", "metrics"),
    ("upstreams",),
    ("features",),
    ("brain", "dataio", "run_fingerprint", "run_options", "summary"),
    ("calibration", "cross_corpus_stage"),
    ("experiment",),
    ("report", "inference", "export"),
)
PREFIXED = ("export", "inference")

#: The package's own ``__init__`` (its version): below every layer, so anyone
#: may import it and it imports nothing of the package.
ROOT = "(root)"
LAYER_OF = {ROOT: -1, **{name: layer for layer, names in enumerate(LAYERS) for name in names}}

#: Imports against the rule that the code needs today: (importer, imported, why).
ALLOWED = (
    ("experiment", "report", "--efficiency_report=True writes each fold's efficiency report "
                             "(a function-level import)"),
    ("export", "inference", "the export loads the adapter state and checks that the exported "
                            "repository loads through EmotionRecognizer (function-level imports)"),
)


def package_of(module):
    """The package (a name of :data:`LAYERS`, or :data:`ROOT`) a dotted module name is in."""
    parts = module.split(".")
    if parts[0] != PACKAGE:
        return None
    if len(parts) == 1:
        return ROOT
    for prefix in PREFIXED:
        if parts[1].startswith(prefix):
            return prefix
    return parts[1]


def _is_submodule(name):
    """Whether ``speechbrain_ptssnn.<name>`` is a module (not a name in the root ``__init__``)."""
    return (
        name in LAYER_OF
        or name.startswith(PREFIXED)
        or (PACKAGE_DIR / name).is_dir()
        or (PACKAGE_DIR / f"{name}.py").is_file()
    )


def _resolve_relative(importer, is_package, level, name):
    base = importer.split(".") if is_package else importer.split(".")[:-1]
    if level > 1:
        base = base[: len(base) - (level - 1)]
    return ".".join(base + ([name] if name else []))


def imported_modules(source, importer, is_package=False):
    """``(line, module)`` of every import in a module's text, in order.

    Arguments
    ---------
    source : str
        The module's text.
    importer : str
        Its dotted name (for relative imports).
    is_package : bool
        Whether it is a package's ``__init__``.

    Returns
    -------
    list of tuple
        ``(line number, dotted module name)``; ``from P import n`` gives
        ``P.n`` when ``P`` is the root package and ``n`` one of its modules.
    """
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            target = node.module or ""
            if node.level:
                target = _resolve_relative(importer, is_package, node.level, node.module)
            if target == PACKAGE:
                found += [(node.lineno, f"{PACKAGE}.{a.name}" if _is_submodule(a.name) else PACKAGE)
                          for a in node.names]
            else:
                found.append((node.lineno, target))
        elif (
            isinstance(node, ast.Call)
            and getattr(node.func, "attr", getattr(node.func, "id", None))
            in ("import_module", "__import__")
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            found.append((node.lineno, node.args[0].value))
    return sorted(found)


def import_violations(source, importer, is_package=False, path=None, used=None):
    """Every import of a module's text against the layer order, in words.

    Arguments
    ---------
    source, importer, is_package
        As for :func:`imported_modules`.
    path : str, optional
        The file, for the messages (``importer`` if None).
    used : set, optional
        Collects the :data:`ALLOWED` pairs that were needed.

    Returns
    -------
    list of str
        ``"path:line: importer (layer, package) imports module (layer,
        package): why not"``, one per violation.
    """
    own = package_of(importer)
    where = path or importer
    if own not in LAYER_OF:
        return [f"{where}: {importer} is in package {own!r}, which has no layer in LAYERS"]
    problems = []
    for line, module in imported_modules(source, importer, is_package):
        other = package_of(module)
        if other is None or other == own:
            continue
        if other not in LAYER_OF:
            problems.append(f"{where}:{line}: {importer} imports {module}, whose package "
                            f"{other!r} has no layer in LAYERS")
            continue
        if LAYER_OF[other] < LAYER_OF[own]:
            continue
        allowed = [entry for entry in ALLOWED if entry[:2] == (own, other)]
        if allowed:
            if used is not None:
                used.add(allowed[0][:2])
            continue
        why = ("a higher layer" if LAYER_OF[other] > LAYER_OF[own]
               else "another package of the same layer")
        problems.append(
            f"{where}:{line}: {importer} (layer {LAYER_OF[own]}, {own}) imports {module} "
            f"(layer {LAYER_OF[other]}, {other}): {why}"
        )
    return problems


def package_modules():
    """``(path, dotted name, is_package)`` of every module of the package."""
    modules = []
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE_DIR.parent).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        if is_package:
            parts = parts[:-1]
        modules.append((path, ".".join(parts), is_package))
    return modules


def test_the_package_imports_run_one_way():
    modules = package_modules()
    assert len(modules) > 50, "the walk found too few modules"
    problems = []
    for path, name, is_package in modules:
        rel = path.relative_to(PACKAGE_DIR.parent).as_posix()
        problems += import_violations(path.read_text(encoding="utf-8"), name, is_package, rel)
    assert not problems, "imports against the layer order:\n" + "\n".join(problems)


def test_every_allowed_exception_is_still_needed():
    used = set()
    for path, name, is_package in package_modules():
        import_violations(path.read_text(encoding="utf-8"), name, is_package, used=used)
    stale = [entry for entry in ALLOWED if entry[:2] not in used]
    assert not stale, f"ALLOWED lists imports the code no longer makes; remove them: {stale}"


@pytest.mark.parametrize(
    "importer, is_package, source, line, imported, why",
    [
        ("speechbrain_ptssnn.lobes.attention", False,
         "import torch\n\n\ndef f():\n    import speechbrain_ptssnn.dataprep.audio\n",
         5, "speechbrain_ptssnn.dataprep.audio", "another package of the same layer"),
        ("speechbrain_ptssnn.upstreams.storage", False,
         "from speechbrain_ptssnn.features import cache\n",
         1, "speechbrain_ptssnn.features", "a higher layer"),
        ("speechbrain_ptssnn.features.cache", False,
         "import os\nfrom ..report.energy import energy_mj\n",
         2, "speechbrain_ptssnn.report.energy", "a higher layer"),
        ("speechbrain_ptssnn.report", True,
         "from . import energy\nfrom .. import export\n",
         2, "speechbrain_ptssnn.export", "another package of the same layer"),
        ("speechbrain_ptssnn.lobes.masking", False,
         "import importlib\nBrain = importlib.import_module('speechbrain_ptssnn.brain')\n",
         2, "speechbrain_ptssnn.brain", "a higher layer"),
        ("speechbrain_ptssnn.inference", False,
         "from speechbrain_ptssnn import export_hub\n",
         1, "speechbrain_ptssnn.export_hub", "another package of the same layer"),
        ("speechbrain_ptssnn", True,
         "from .lobes import PTSSNN\n",
         1, "speechbrain_ptssnn.lobes", "a higher layer"),
    ],
)
def test_the_walker_names_each_violation(importer, is_package, source, line, imported, why):
    problems = import_violations(source, importer, is_package)
    assert len(problems) == 1, problems
    assert problems[0].startswith(f"{importer}:{line}: {importer} (layer ")
    assert f" imports {imported} (layer " in problems[0]
    assert problems[0].endswith(why)


def test_the_walker_accepts_imports_that_keep_the_order():
    source = (
        "import os\n"
        "import torch\n"
        "from speechbrain_ptssnn.report.energy import energy_mj\n"   # own package
        "from .monitor import SpikeMonitor\n"                        # own package, relative
        "from speechbrain_ptssnn.features import make_feature_source\n"
        "from speechbrain_ptssnn import runs, __version__\n"
        "\n"
        "def f():\n"
        "    import speechbrain_ptssnn.upstreams.storage\n"
        "    from ..lobes import PTSSNN\n"
    )
    assert import_violations(source, "speechbrain_ptssnn.report.efficiency") == []
    modules = [module for _, module in
               imported_modules(source, "speechbrain_ptssnn.report.efficiency")]
    assert "speechbrain_ptssnn.report.monitor" in modules and "speechbrain_ptssnn.lobes" in modules
    assert {"speechbrain_ptssnn.runs", "speechbrain_ptssnn"} <= set(modules)
    # a package split by prefix is one package; an allowed exception passes
    assert import_violations(
        "from speechbrain_ptssnn.export import x\n", "speechbrain_ptssnn.export_hub"
    ) == []
    used = set()
    assert import_violations("def f():\n    from speechbrain_ptssnn.report import r\n",
                             "speechbrain_ptssnn.experiment", used=used) == []
    assert used == {("experiment", "report")}


def test_a_package_without_a_layer_fails():
    assert "has no layer" in import_violations("import os\n", "speechbrain_ptssnn.plugins.x")[0]
    problems = import_violations(
        "from speechbrain_ptssnn.plugins import x\n", "speechbrain_ptssnn.lobes.a"
    )
    assert len(problems) == 1 and "'plugins' has no layer" in problems[0]
