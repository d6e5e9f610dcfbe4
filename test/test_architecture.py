"""The package's import rules, read from the source with ast (function-local imports included).

Layers, lowest first: core < export < options < loading < (ros, bag, harness) < perf < cli.
A module imports only its own layer and the layers its row of ALLOWED lists; nothing imports cli
but the `python -m mobilenetv1_ros` shim; core, export, options, loading and the offline bag
modules never import rclpy or ROS message packages; optional runtimes (ONNX Runtime, the
exporter's onnx and tflite, hobot_dnn, LiteRT, OpenVINO) are imported only inside functions, in
every module; no two modules import each other, directly or around a loop. Every failing test
prints all its violations as `file:line: ...`.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from shared import REPO_ROOT

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

PACKAGE = 'mobilenetv1_ros'
PACKAGE_DIR = REPO_ROOT / PACKAGE

#: Layer -> the layers its modules may import (besides their own).
ALLOWED: Mapping[str, frozenset[str]] = {
    'core': frozenset(),
    'export': frozenset({'core'}),
    'options': frozenset({'export', 'core'}),
    'loading': frozenset({'options', 'export', 'core'}),
    'ros': frozenset({'loading', 'options', 'export', 'core', 'procfs'}),
    # The live player and recorder use rclpy directly, never the node's ros layer.
    'bag': frozenset({'loading', 'options', 'export', 'core', 'console', 'procfs'}),
    'harness': frozenset({'ros', 'loading', 'options', 'export', 'core', 'procfs'}),
    'perf': frozenset({'harness', 'bag', 'ros', 'loading', 'options', 'export', 'core',
                       'console', 'procfs'}),
    'cli': frozenset({'perf', 'harness', 'bag', 'ros', 'loading', 'options', 'export', 'core',
                      'console', 'procfs'}),
    # Leaf utilities of the command-line tools (progress bars, stop signals).
    'console': frozenset(),
    # Leaf readers of the kernel's accounting in /proc (the node's diagnostics, the tools).
    'procfs': frozenset(),
    # mobilenetv1_ros/__init__.py: the version, nothing else.
    'package': frozenset(),
    # Entry shims for `python -m`: each imports only its target.
    'shim:node': frozenset({'ros'}),
    'shim:main': frozenset({'cli'}),
}
#: Layers that must work without ROS: no rclpy, no message packages, not even lazily.
ROS_FREE_LAYERS = ('core', 'export', 'options', 'loading', 'procfs')
#: The bag layer's live tools (they publish and subscribe); the rest of bag/ is offline.
LIVE_BAG_MODULES = frozenset({f'{PACKAGE}.bag.player', f'{PACKAGE}.bag.recorder',
                              f'{PACKAGE}.bag.ros_types'})
#: Runtimes a machine may lack: the CPU backends' (onnxruntime; openvino, opt-in and no
#: dependency of the package, scripts/requirements-peers.txt installs it), the exporter's (onnx,
#: tflite), the BPU's (hobot_dnn) and the LiteRT peer's. Every module imports them inside
#: functions only, when a backend, an export or a peer needs them, so it imports without them.
OPTIONAL_RUNTIMES = ('onnxruntime', 'onnx', 'tflite', 'hobot_dnn', 'hobot_dnn_rdkx5',
                     'ai_edge_litert', 'openvino')
#: Runtimes that the ROS-free layers import only when a backend or an export needs them.
LAZY_RUNTIMES = ('rclpy', *OPTIONAL_RUNTIMES, 'sensor_msgs', 'vision_msgs', 'std_msgs')


@dataclass(frozen=True)
class Import:
    """One import statement's target, as the importing module sees it.

    Attributes:
        module: The importing module (dotted name).
        path: Its file.
        line: Line of the import statement.
        target: The imported module (dotted; `from a import b` names a.b when that is a module).
        local: Inside a function (runs on call, not on import).
        type_only: Under `if TYPE_CHECKING:` (never runs).
    """

    module: str
    path: Path
    line: int
    target: str
    local: bool
    type_only: bool

    def where(self) -> str:
        kind = ' (function-local)' if self.local else ' (TYPE_CHECKING)' if self.type_only else ''
        try:
            path = self.path.relative_to(REPO_ROOT)
        except ValueError:
            path = self.path
        return f'{path}:{self.line}: {self.module} imports {self.target}{kind}'


def module_files(root: Path = PACKAGE_DIR, package: str = PACKAGE) -> dict[str, Path]:
    """Every module under `root` by dotted name (a package by its __init__.py)."""
    found = {}
    for path in sorted(root.rglob('*.py')):
        parts = list(path.relative_to(root).with_suffix('').parts)
        if parts[-1] == '__init__':
            parts.pop()
        found['.'.join([package, *parts])] = path
    return found


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == 'TYPE_CHECKING') or (
        isinstance(test, ast.Attribute) and test.attr == 'TYPE_CHECKING')


class _Collector(ast.NodeVisitor):
    def __init__(self, module: str, path: Path, is_package: bool, known: Iterable[str]) -> None:
        self.module, self.path, self.is_package = module, path, is_package
        self.known = set(known)
        self.depth = 0
        self.type_only = 0
        self.found: list[Import] = []

    def _add(self, node: ast.stmt, target: str) -> None:
        self.found.append(Import(self.module, self.path, node.lineno, target, self.depth > 0,
                                 self.type_only > 0))

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        self.depth += 1
        self.generic_visit(node)
        self.depth -= 1

    visit_AsyncFunctionDef = visit_FunctionDef  # noqa: N815 - ast.NodeVisitor's naming

    def visit_If(self, node: ast.If) -> None:
        if _is_type_checking(node.test):
            self.type_only += 1
            for child in node.body:
                self.visit(child)
            self.type_only -= 1
            for child in node.orelse:
                self.visit(child)
        else:
            self.generic_visit(node)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._add(node, alias.name)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level:
            base = self.module.split('.')
            if not self.is_package:
                base = base[:-1]
            base = base[:len(base) - (node.level - 1)]
            source = '.'.join(base + ([node.module] if node.module else []))
        else:
            source = node.module or ''
        for alias in node.names:
            candidate = f'{source}.{alias.name}'
            self._add(node, candidate if candidate in self.known else source)


def collect_imports(files: Mapping[str, Path]) -> list[Import]:
    """Every import of every module in `files`, from its source."""
    found: list[Import] = []
    for module, path in files.items():
        tree = ast.parse(path.read_text(encoding='utf-8'), filename=str(path))
        collector = _Collector(module, path, path.name == '__init__.py', files)
        collector.visit(tree)
        found += collector.found
    return found


def layer_of(module: str) -> str | None:
    """The layer of a package module, or None for a module outside the plan."""
    parts = module.split('.')
    if parts[0] != PACKAGE:
        return None
    if len(parts) == 1:
        return 'package'
    if parts[1] in ('core', 'export', 'ros', 'bag', 'harness', 'perf', 'cli', 'console',
                    'procfs'):
        return parts[1]
    return {'options': 'options', 'loading': 'loading',
            'node': 'shim:node', '__main__': 'shim:main'}.get(parts[1])


def _is_ros(target: str) -> bool:
    top = target.split('.')[0]
    return (top in ('rclpy', 'builtin_interfaces', 'launch', 'launch_ros')
            or top.endswith(('_msgs', '_srvs', '_interfaces')) or top.startswith('rosidl'))


def layer_violations(imports: Iterable[Import]) -> list[str]:
    """Imports that go up or sideways: a layer importing one its ALLOWED row does not list."""
    problems = []
    for item in imports:
        source, target = layer_of(item.module), layer_of(item.target)
        if target is None or source == target or target == 'package':
            continue
        if source is None:
            problems.append(f'{item.where()}: {item.module} is in no layer (place it in '
                            'ALLOWED)')
        elif target not in ALLOWED[source]:
            allowed = ', '.join(sorted(ALLOWED[source])) or 'nothing else'
            problems.append(f'{item.where()}: {source} -> {target} (allowed: {allowed})')
    return problems


def cli_importers(imports: Iterable[Import]) -> list[str]:
    """Imports of the cli layer from outside it, but for the `python -m` shim."""
    return [f'{item.where()}: only mobilenetv1_ros.__main__ may import the cli'
            for item in imports
            if layer_of(item.target) == 'cli'
            and layer_of(item.module) not in ('cli', 'shim:main')]


def ros_free(module: str) -> bool:
    layer = layer_of(module)
    return layer in ROS_FREE_LAYERS or (layer == 'bag' and module not in LIVE_BAG_MODULES)


def ros_violations(imports: Iterable[Import]) -> list[str]:
    """ROS imports (rclpy, *_msgs, ...) in modules that must run without ROS."""
    return [f'{item.where()}: {layer_of(item.module)} must work without ROS'
            for item in imports if ros_free(item.module) and _is_ros(item.target)]


def optional_runtime_violations(imports: Iterable[Import]) -> list[str]:
    """Imports of an optional runtime at module level (they must stay optional)."""
    return [f'{item.where()}: an optional runtime must be imported inside a function'
            for item in imports
            if item.target.split('.')[0] in OPTIONAL_RUNTIMES and not item.local
            and not item.type_only]


def import_cycles(imports: Iterable[Import]) -> list[list[str]]:
    """Groups of package modules that import each other (TYPE_CHECKING imports left out)."""
    graph: dict[str, set[str]] = {}
    for item in imports:
        graph.setdefault(item.module, set())
        if not item.type_only and layer_of(item.target) is not None \
                and item.target != item.module:
            graph[item.module].add(item.target)
    # Tarjan's strongly connected components, iteratively.
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.get(root, ()))))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    group = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        group.append(member)
                        if member == node:
                            break
                    if len(group) > 1:
                        groups.append(sorted(group))
            elif child not in index:
                index[child] = low[child] = len(index)
                stack.append(child)
                on_stack.add(child)
                work.append((child, iter(sorted(graph.get(child, ())))))
            elif child in on_stack:
                low[node] = min(low[node], index[child])
    return groups


def cycle_report(imports: list[Import], group: list[str]) -> str:
    members = set(group)
    edges = [item.where() for item in imports if item.module in members
             and item.target in members and item.target != item.module and not item.type_only]
    return 'cycle between ' + ', '.join(group) + ':\n    ' + '\n    '.join(edges)


def _fail_with(problems: list[str], what: str) -> None:
    if problems:
        pytest.fail(f'{len(problems)} {what}:\n' + '\n'.join(problems), pytrace=False)


# ---------------------------------------------------------------------------- the package

@pytest.fixture(scope='module')
def files() -> dict[str, Path]:
    return module_files()


@pytest.fixture(scope='module')
def imports(files: dict[str, Path]) -> list[Import]:
    return collect_imports(files)


def test_every_module_is_in_a_layer(files: dict[str, Path]) -> None:
    _fail_with([f'{path.relative_to(REPO_ROOT)}: {module} is in no layer'
                for module, path in files.items() if layer_of(module) is None],
               'modules outside the layer plan')


def test_imports_run_only_downward(imports: list[Import]) -> None:
    _fail_with(layer_violations(imports), 'imports against the layer order')


def test_nothing_imports_the_cli(imports: list[Import]) -> None:
    _fail_with(cli_importers(imports), 'imports of the cli')


def test_lower_layers_and_offline_bag_never_import_ros(imports: list[Import]) -> None:
    _fail_with(ros_violations(imports), 'ROS imports in code that must run without ROS')


def test_optional_runtimes_are_imported_only_inside_functions(imports: list[Import]) -> None:
    runtimes = {(item.module, item.target.split('.')[0]) for item in imports if item.local}
    assert {(f'{PACKAGE}.core.backends.onnx', 'onnxruntime'),
            (f'{PACKAGE}.core.backends.openvino', 'openvino')} <= runtimes
    _fail_with(optional_runtime_violations(imports), 'module-level imports of optional runtimes')


def test_no_import_cycles(imports: list[Import]) -> None:
    _fail_with([cycle_report(imports, group) for group in import_cycles(imports)],
               'import cycles')


def _modules_loaded_by(modules: list[str], watched: tuple[str, ...]) -> list[str]:
    code = ('import importlib, sys\n'
            f'for name in {modules!r}:\n'
            '    importlib.import_module(name)\n'
            f'print(sorted(m for m in sys.modules if m.split(".")[0] in {watched!r}))\n')
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO_ROOT), *sys.path]))
    result = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                            env=env, cwd=REPO_ROOT, check=False)
    assert result.returncode == 0, result.stderr
    return ast.literal_eval(result.stdout.strip())


def test_ros_free_layers_load_no_ros_and_no_optional_runtime(files: dict[str, Path]) -> None:
    """Importing them (what the AST cannot see: dynamic imports too) loads none of these."""
    modules = [module for module in files if ros_free(module)]
    assert {f'{PACKAGE}.core.backends.onnx', f'{PACKAGE}.core.backends.openvino',
            f'{PACKAGE}.bag.offline'} <= set(modules)
    loaded = _modules_loaded_by(modules, LAZY_RUNTIMES)
    assert loaded == [], f'importing {len(modules)} ROS-free modules loaded {loaded}'


def test_command_line_tools_load_rclpy_only_when_they_use_it() -> None:
    modules = [f'{PACKAGE}.cli', f'{PACKAGE}.cli.classify', f'{PACKAGE}.cli.evaluate',
               f'{PACKAGE}.cli.benchmark', f'{PACKAGE}.perf.evaluation', f'{PACKAGE}.perf.suite',
               f'{PACKAGE}.perf.endtoend']
    loaded = _modules_loaded_by(modules, ('rclpy', 'hobot_dnn', 'sensor_msgs', 'vision_msgs',
                                          'openvino'))
    assert loaded == []


# ---------------------------------------------------------------------------- the checker

def _scratch_package(root: Path, sources: dict[str, str]) -> dict[str, Path]:
    for relative, text in sources.items():
        path = root / PACKAGE / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding='utf-8')
    return module_files(root / PACKAGE)


def test_the_checker_finds_each_kind_of_violation(tmp_path: Path) -> None:
    files = _scratch_package(tmp_path, {
        '__init__.py': '',
        'core/__init__.py': '',
        'core/frames.py': 'from typing import TYPE_CHECKING\n'
                          'if TYPE_CHECKING:\n'
                          '    from mobilenetv1_ros.ros.node import ClassifierNode\n',
        'core/assets.py': 'def share():\n'
                          '    from mobilenetv1_ros.export import cache\n'
                          '    import rclpy.qos\n',
        'export/__init__.py': '',
        'export/cache.py': 'from ..core import assets\n',
        'ros/__init__.py': '',
        'ros/node.py': 'from mobilenetv1_ros.cli.options import add_pipeline_arguments\n',
        'cli/__init__.py': '',
        'cli/options.py': 'from mobilenetv1_ros.perf import report\n',
        'bag/__init__.py': '',
        'bag/offline.py': 'from sensor_msgs.msg import Image\n',
        'bag/player.py': 'from sensor_msgs.msg import Image\n',
        'perf/__init__.py': '',
        'perf/peer.py': 'import openvino\n'
                        'def load():\n'
                        '    import openvino.runtime\n',
        'stray.py': 'from mobilenetv1_ros.core import frames\n'
                    'def peer():\n'
                    '    import openvino\n'
                    'import onnxruntime.capi\n',
    })
    imports = collect_imports(files)
    assert sorted((i.module, i.target, i.local, i.type_only) for i in imports
                  if i.module.endswith(('frames', 'assets', 'cache'))) == [
        ('mobilenetv1_ros.core.assets', 'mobilenetv1_ros.export.cache', True, False),
        ('mobilenetv1_ros.core.assets', 'rclpy.qos', True, False),
        ('mobilenetv1_ros.core.frames', 'mobilenetv1_ros.ros.node', False, True),
        ('mobilenetv1_ros.core.frames', 'typing', False, False),
        ('mobilenetv1_ros.export.cache', 'mobilenetv1_ros.core.assets', False, False),
    ]
    layers = layer_violations(imports)
    assert len(layers) == 4, layers
    assert any('core/frames.py:3: mobilenetv1_ros.core.frames imports mobilenetv1_ros.ros.node '
               '(TYPE_CHECKING): core -> ros (allowed: nothing else)' in p for p in layers)
    assert any('core/assets.py:2:' in p and 'core -> export' in p for p in layers)
    assert any('ros/node.py:1:' in p and 'ros -> cli' in p for p in layers)
    assert any('stray.py:1:' in p and 'is in no layer' in p for p in layers)
    assert cli_importers(imports) == [
        f'{files["mobilenetv1_ros.ros.node"]}:1: mobilenetv1_ros.ros.node imports '
        'mobilenetv1_ros.cli.options: only mobilenetv1_ros.__main__ may import the cli']
    ros = ros_violations(imports)
    assert len(ros) == 2, ros
    assert any('core/assets.py:3:' in p and 'rclpy.qos (function-local)' in p for p in ros)
    assert any('bag/offline.py:1:' in p for p in ros)
    runtimes = optional_runtime_violations(imports)
    assert len(runtimes) == 2, runtimes
    assert any('perf/peer.py:1:' in p and 'inside a function' in p for p in runtimes)
    assert any('stray.py:4:' in p and 'onnxruntime.capi' in p for p in runtimes)
    assert import_cycles(imports) == [['mobilenetv1_ros.core.assets',
                                       'mobilenetv1_ros.export.cache']]
    assert layer_of('mobilenetv1_ros.stray') is None
