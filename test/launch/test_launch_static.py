"""The launch file and the params file, checked without the launch package.

launch/launch_ros are not on PyPI, so this always-run test reads launch/classify.launch.py as
Python source: its arguments, the package and executable it starts (against setup.py and
package.xml), the Fast DDS profile it gives the node, and the params file against the parameters
the node declares. test/launch/test_dds_profile.py tests the profile choice itself;
test/launch/test_node_launch.py runs the launch file for real where `launch` imports.
"""

from __future__ import annotations

import ast
from pathlib import Path
import re
from typing import Any

import pytest
import yaml
from shared import CONFIG_DIR, REPO_ROOT

from mobilenetv1_ros.ros.dds_profile import AUTO, KEYWORDS, LARGE_FRAMES_FILE
from mobilenetv1_ros.ros.params import NODE_NAME, PARAMETERS, parameter

LAUNCH_FILE = REPO_ROOT / 'launch' / 'classify.launch.py'
PARAMS_FILE = CONFIG_DIR / 'classifier.yaml'
EXPECTED_ARGUMENTS = {
    'image_topic': '',  # chosen by input (test_image_topic_default_follows_the_input)
    'input': '',
    'backend': '',
    'model_path': '',
    'labels_path': '',
    'params_file': None,  # a substitution: the installed config/classifier.yaml
    'namespace': '',
    'dds_profile': AUTO,
    'log_level': 'info',
}


def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding='utf-8'), filename=str(path))


def _constants(tree: ast.Module) -> dict[str, Any]:
    """Module-level NAME = <literal> assignments."""
    found = {}
    for statement in tree.body:
        if isinstance(statement, ast.Assign) and len(statement.targets) == 1 \
                and isinstance(statement.targets[0], ast.Name):
            try:
                found[statement.targets[0].id] = ast.literal_eval(statement.value)
            except ValueError:
                pass
    return found


def _calls(tree: ast.AST, name: str) -> list[ast.Call]:
    return [node for node in ast.walk(tree) if isinstance(node, ast.Call)
            and ((isinstance(node.func, ast.Name) and node.func.id == name)
                 or (isinstance(node.func, ast.Attribute) and node.func.attr == name))]


def _value(node: ast.AST, constants: dict[str, Any]) -> Any:
    if isinstance(node, ast.Name) and node.id in constants:
        return constants[node.id]
    return ast.literal_eval(node)


def _keyword(call: ast.Call, name: str) -> ast.AST:
    for keyword in call.keywords:
        if keyword.arg == name:
            return keyword.value
    raise AssertionError(f'{ast.unparse(call)[:60]}... has no {name}=')


@pytest.fixture(scope='module')
def launch_tree() -> ast.Module:
    return _tree(LAUNCH_FILE)


@pytest.fixture(scope='module')
def setup_entry_points() -> dict[str, str]:
    tree = _tree(REPO_ROOT / 'setup.py')
    for node in ast.walk(tree):
        if isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values):
                if isinstance(key, ast.Constant) and key.value == 'console_scripts':
                    lines = ast.literal_eval(value)
                    return dict(re.fullmatch(r'\s*(\S+)\s*=\s*(\S+)\s*', line).groups()
                                for line in lines)
    raise AssertionError('setup.py declares no console_scripts')


def test_declares_the_documented_arguments_with_their_defaults(launch_tree):
    constants = _constants(launch_tree)
    declared = {}
    for call in _calls(launch_tree, 'DeclareLaunchArgument'):
        name = _value(call.args[0], constants)
        default = _keyword(call, 'default_value')
        declared[name] = (ast.literal_eval(default) if isinstance(default, ast.Constant)
                          else None)
        assert ast.literal_eval(_keyword(call, 'description')).strip(), name
    assert declared == EXPECTED_ARGUMENTS


def test_params_file_default_is_the_installed_config(launch_tree):
    call = next(c for c in _calls(launch_tree, 'DeclareLaunchArgument')
                if ast.literal_eval(c.args[0]) == 'params_file')
    source = ast.unparse(_keyword(call, 'default_value'))
    assert 'FindPackageShare(PACKAGE)' in source
    assert "'config'" in source and "'classifier.yaml'" in source
    assert PARAMS_FILE.is_file()


def test_starts_the_setup_py_executable_of_this_package(launch_tree, setup_entry_points):
    constants = _constants(launch_tree)
    nodes = _calls(launch_tree, 'Node')
    assert len(nodes) == 1
    node = nodes[0]
    package = _value(_keyword(node, 'package'), constants)
    executable = _value(_keyword(node, 'executable'), constants)
    setup_constants = _constants(_tree(REPO_ROOT / 'setup.py'))
    assert package == setup_constants['PACKAGE']
    package_xml = (REPO_ROOT / 'package.xml').read_text(encoding='utf-8')
    assert f'<name>{package}</name>' in package_xml
    assert setup_entry_points[executable] == 'mobilenetv1_ros.ros.node:main'
    assert _value(_keyword(node, 'name'), constants) == NODE_NAME


def test_remaps_the_node_input_and_passes_namespace_params_and_log_level(launch_tree):
    node = _calls(launch_tree, 'Node')[0]
    assert ast.unparse(_keyword(node, 'remappings')) == "[('image', image_topic)]"
    assert ast.unparse(_keyword(node, 'namespace')) == "LaunchConfiguration('namespace')"
    assert ast.unparse(_keyword(node, 'parameters')) == \
        "[LaunchConfiguration('params_file'), overrides]"
    assert "LaunchConfiguration('log_level')" in ast.unparse(_keyword(node, 'arguments'))


def test_image_topic_default_follows_the_input(launch_tree):
    """input:=hbmem listens where mipi_cam's shared_mem mode publishes, else /image_raw."""
    constants = _constants(launch_tree)
    assert constants['INPUT_TOPICS'] == {'hbmem': '/hbmem_img'}
    assert constants['DEFAULT_TOPIC'] == '/image_raw'
    assert set(constants['INPUT_TOPICS']) <= set(parameter('input').choices)
    assert 'input' in constants['PARAMETER_ARGUMENTS']
    source = ast.unparse(_function(launch_tree, '_classifier_node'))
    assert "LaunchConfiguration('image_topic').perform(context) or " \
        "INPUT_TOPICS.get(overrides.get('input', ''), DEFAULT_TOPIC)" in source


def _function(tree: ast.Module, name: str) -> ast.FunctionDef:
    return next(node for node in ast.walk(tree)
                if isinstance(node, ast.FunctionDef) and node.name == name)


def test_dds_profile_is_chosen_from_the_launch_environment_for_the_node_only(launch_tree):
    """choose_profile() decides; its variables go to the node's process, nowhere else."""
    assert EXPECTED_ARGUMENTS['dds_profile'] in KEYWORDS
    imports = {(node.module, alias.name) for node in ast.walk(launch_tree)
               if isinstance(node, ast.ImportFrom) for alias in node.names}
    assert ('mobilenetv1_ros.ros.dds_profile', 'choose_profile') in imports
    source = ast.unparse(_function(launch_tree, '_classifier_node'))
    assert "choose_profile(LaunchConfiguration('dds_profile').perform(context), " \
        'context.environment, large_frames)' in source
    assert "Path(FindPackageShare(PACKAGE).perform(context)) / 'config' / LARGE_FRAMES_FILE" \
        in source
    node = _calls(launch_tree, 'Node')[0]
    assert ast.unparse(_keyword(node, 'additional_env')) == 'profile.env'
    assert 'LogInfo(msg=profile.description)' in source
    # No process-wide environment change: the camera or anything else launched alongside keeps
    # its own profile (TROS hobot_shm's included launch file sets its own with setdefault).
    assert not _calls(launch_tree, 'SetEnvironmentVariable')
    assert not {'environ', 'putenv'} & {node.attr for node in ast.walk(launch_tree)
                                        if isinstance(node, ast.Attribute)}


def test_the_large_frames_profile_is_installed_where_the_launch_file_looks():
    assert (CONFIG_DIR / LARGE_FRAMES_FILE).is_file()
    setup = (REPO_ROOT / 'setup.py').read_text(encoding='utf-8')
    assert "(f'share/{PACKAGE}/config', _files('config/*'))" in setup


def test_argument_overrides_are_declared_parameters(launch_tree):
    overrides = _constants(launch_tree)['PARAMETER_ARGUMENTS']
    declared = {spec.name for spec in PARAMETERS}
    assert set(overrides) <= declared
    assert set(overrides) <= set(EXPECTED_ARGUMENTS)


def test_no_eval_exec_or_shell(launch_tree):
    names = {node.id for node in ast.walk(launch_tree) if isinstance(node, ast.Name)}
    assert not names & {'eval', 'exec', 'compile', '__import__'}
    imported = {alias.name for node in ast.walk(launch_tree)
                if isinstance(node, (ast.Import, ast.ImportFrom)) for alias in node.names}
    assert not imported & {'subprocess', 'os', 'ExecuteProcess', 'PythonExpression'}
    assert 'shell' not in {kw.arg for call in _calls(launch_tree, 'Node') for kw in call.keywords}


@pytest.fixture(scope='module')
def params_file() -> dict[str, Any]:
    document = yaml.safe_load(PARAMS_FILE.read_text(encoding='utf-8'))
    assert list(document) == ['/**']
    return document['/**']['ros__parameters']


def test_params_file_lists_every_declared_parameter_with_its_default(params_file):
    assert list(params_file) == [spec.name for spec in PARAMETERS]
    for spec in PARAMETERS:
        value = params_file[spec.name]
        assert type(value) is type(spec.default), spec.name
        assert value == spec.default, spec.name


def test_params_file_documents_every_parameter():
    lines = PARAMS_FILE.read_text(encoding='utf-8').splitlines()
    for spec in PARAMETERS:
        index = next(i for i, line in enumerate(lines) if line.strip().startswith(f'{spec.name}:'))
        comment = lines[index - 1].strip()
        assert comment.startswith('#'), f'{spec.name} has no comment above it'
        block = []
        for line in reversed(lines[:index]):
            if not line.strip().startswith('#'):
                break
            block.append(line)
        text = ' '.join(block)
        assert ('Read-only' in text) == spec.read_only, spec.name
        for choice in spec.choices:
            assert choice in text, f'{spec.name}: choice {choice} undocumented'


@pytest.mark.parametrize('spec', PARAMETERS, ids=lambda spec: spec.name)
def test_declared_parameter_has_description_and_valid_default(spec):
    assert spec.description.strip()
    if spec.choices:
        assert spec.default in spec.choices
    if spec.int_range is not None:
        assert spec.int_range[0] <= spec.default <= spec.int_range[1]
    if spec.float_range is not None:
        assert spec.float_range[0] <= spec.default <= spec.float_range[1]
