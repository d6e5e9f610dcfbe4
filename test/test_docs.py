"""The documentation: front door size, the quick-start commands CI runs, links, tables."""

from __future__ import annotations

import contextlib
import io
import re

from shared import REPO_ROOT

README = REPO_ROOT / 'README.md'
DOCS = REPO_ROOT / 'docs'
TABLE = re.compile(r'<!-- parameters table: generated from '
                   r'mobilenetv1_ros.ros.params.PARAMETERS -->'
                   r'\n(?P<table>.*?)\n<!-- end of generated table -->', re.DOTALL)
SNIPPET = re.compile(r"## Regenerating the parameter table\n\n```bash\n"
                     r"\.venv/bin/python - <<'EOF'\n"
                     r'(?P<code>.*?)\nEOF\n```', re.DOTALL)
LINK = re.compile(r'\]\((?P<target>[^)#\s]+)(?:#[^)]*)?\)')


def test_readme_is_a_front_door_under_15_kb() -> None:
    assert README.stat().st_size < 15 * 1024


def test_ci_runs_the_readme_test_command() -> None:
    quick_start = README.read_text(encoding='utf-8').split('## Quick start', 1)[1]
    commands = re.findall(r'^(bash scripts/\S+)', quick_start.split('```', 2)[1], re.MULTILINE)
    assert commands == ['bash scripts/demo.sh', 'bash scripts/test.sh']
    ci = (REPO_ROOT / '.ci' / 'run').read_text(encoding='utf-8')
    assert re.findall(r'^exec (.+)$', ci, re.MULTILINE) == ['bash scripts/test.sh']


def test_relative_links_point_at_files() -> None:
    broken = []
    for page in [README, *sorted(DOCS.glob('*.md'))]:
        for match in LINK.finditer(page.read_text(encoding='utf-8')):
            target = match['target']
            if '://' not in target and not (page.parent / target).exists():
                broken.append(f'{page.relative_to(REPO_ROOT)}: {target}')
    assert broken == []


def test_parameter_table_matches_the_parameters() -> None:
    text = (DOCS / 'node.md').read_text(encoding='utf-8')
    table, snippet = TABLE.search(text), SNIPPET.search(text)
    assert table is not None and snippet is not None
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(snippet['code'], 'docs/node.md', 'exec'), {})  # noqa: S102 - our own doc
    assert table['table'] == out.getvalue().strip(), \
        'regenerate it with the snippet in docs/node.md'
