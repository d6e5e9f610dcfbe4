"""Markdown tables from evaluation and benchmark results (the model zoo's table format)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

__all__ = [
    'FASTER_PEER_MARGIN',
    'ZOO_COLUMNS',
    'ZOO_X5_REFERENCE',
    'ZooReference',
    'benchmark_markdown',
    'comparison_markdown',
    'end_to_end_markdown',
    'markdown_table',
    'zoo_rows',
]

#: Issue 14's rule: a peer this much faster than ours (1.2 = 20 %) at equal accuracy is offered
#: as a backend option.
FASTER_PEER_MARGIN = 1.2
#: McNemar p-value under which two top-1 results count as different.
_SIGNIFICANT = 0.05

#: The model zoo README's classification table columns.
ZOO_COLUMNS = ('Model', 'Runtime', 'Size (px)', 'Classes', 'Params (M)', 'Float Top-1',
               'Quant Top-1', 'Latency, 1 thread', 'Latency, N threads', 'FPS')

@dataclass(frozen=True)
class ZooReference:
    """A row of the RDK model zoo's classification table, as published."""

    model: str
    runtime: str
    size: str
    classes: int
    params_m: str
    float_top1: float
    quant_top1: float
    latency_1: str
    latency_n: str
    fps: str
    source: str


#: The RDK model zoo's published MobileNetV1 figures for the X5 BPU (cited, not measured here).
ZOO_X5_REFERENCE = ZooReference(
    model='MobileNetV1', runtime='RDK X5 BPU, model zoo (cited, not measured here)',
    size='224x224', classes=1000, params_m='1.33 (as published)', float_top1=71.74,
    quant_top1=65.36, latency_1='1.27 ms', latency_n='2.90 ms (4 threads)', fps='1356.25',
    source='D-Robotics/rdk_model_zoo MobileNetV1 README, X5, hrt_model_exec perf (C++); '
           'accuracy on the full ImageNet validation set')


def markdown_table(header: Sequence[str], rows: Iterable[Sequence[object]],
                   align: Sequence[str] | None = None) -> str:
    """Render a GitHub markdown table; `align` holds 'l' or 'r' per column (default 'l')."""
    header = list(header)
    marks = [':---' if a == 'l' else '---:' for a in (align or ['l'] * len(header))]
    lines = ['| ' + ' | '.join(header) + ' |', '| ' + ' | '.join(marks) + ' |']
    lines += ['| ' + ' | '.join(str(cell) for cell in row) + ' |' for row in rows]
    return '\n'.join(lines)


def _fmt(value: float | None, digits: int = 2, unit: str = '') -> str:
    return '—' if value is None else f'{value:.{digits}f}{unit}'


def comparison_markdown(results: Sequence[dict[str, Any]]) -> str:
    """One row per evaluated subject.

    Columns: images, top-1 (also with ties at the top split), top-5, the image-by-image
    comparison with the first subject when present, failures, throughput.
    """

    def versus(result: dict[str, Any]) -> str:
        pair = result.get('paired')
        if not pair:
            return '—'
        return f"+{pair['gained']} / -{pair['lost']} (p = {pair['p_value']:.2f})"

    rows = [(r['name'], r['precision'], r['images'], _fmt(r['top1']),
             f"{_fmt(r.get('top1_ties_split'))} ({r.get('top1_ties', 0)})", _fmt(r['top5']),
             versus(r), r['failed'], _fmt(r['images_per_second'], 1), _fmt(r['seconds'], 1))
            for r in results]
    return markdown_table(('Model', 'Precision', 'Images', 'Top-1 %',
                           'Top-1 %, ties split (ties)', 'Top-5 %',
                           f"Top-1 vs {results[0]['name']}" if results else 'Top-1 vs first',
                           'Failed', 'Images/s', 'Seconds'), rows, 'llrrrrrrrr')


#: How the table names each peer runtime, by the spec's name.
_PEER_RUNTIMES = {'litert': 'LiteRT/XNNPACK, uint8 TFLite',
                  'openvino': 'OpenVINO CPU, our NV12 ONNX graph'}


def _runtime_label(model: dict[str, Any]) -> str:
    if model['peer']:
        runtime = _PEER_RUNTIMES.get(model['name'].split(':')[0], '')
        return f'{model["name"]} (peer{": " + runtime if runtime else ""})'
    return f'{model["name"]} (ours{", default CPU model" if model.get("default_cpu") else ""})'


def zoo_rows(report: dict[str, Any]) -> list[list[str]]:
    """Rows of the model zoo table: every measured subject, then the cited X5 reference.

    A quantized subject's Float Top-1 is the float32 subject of the same backend measured in
    the same run (its float original), when there is one.
    """
    models = report['models']
    params = report.get('params') or {}
    params_m = f'{params["without_background"] / 1e6:.2f}' if params else '—'
    float_by_backend = {m['name'].split(':')[0]: m['accuracy']['top1'] for m in models
                        if m.get('accuracy') and m['precision'] == 'float32'}
    rows = []
    for model in models:
        accuracy = model.get('accuracy')
        top1 = accuracy['top1'] if accuracy else None
        quantized = model['precision'] in ('int8', 'uint8')
        float_top1 = (float_by_backend.get(model['name'].split(':')[0]) if quantized
                      else top1)
        single = model['latency'].get('1') or next(iter(model['latency'].values()), None)
        best = model.get('best_throughput')
        rows.append([
            'MobileNetV1', _runtime_label(model), f'{model["size"][0]}x{model["size"][1]}',
            str(model['num_classes']), params_m, _fmt(float_top1),
            _fmt(top1 if quantized else None),
            _fmt(single['p50'] if single else None, 2, ' ms'),
            (f'{best["latency_ms"]["mean"]:.2f} ms ({best["workers"]} {best["mode"]})'
             if best else '—'),
            _fmt(best['fps'] if best else None)])
    ref = ZOO_X5_REFERENCE
    rows.append([ref.model, ref.runtime, ref.size, str(ref.classes), ref.params_m,
                 _fmt(ref.float_top1), _fmt(ref.quant_top1), ref.latency_1, ref.latency_n,
                 ref.fps])
    return rows


def _latency_rows(report: dict[str, Any]) -> list[list[str]]:
    rows = []
    for model in report['models']:
        for threads, stats in model['latency'].items():
            rows.append([model['name'], threads, _fmt(stats['p50'], 3), _fmt(stats['p95'], 3),
                         _fmt(stats['p99'], 3), _fmt(stats['mean'], 3), str(stats['count'])])
    return rows


def _throughput_rows(report: dict[str, Any]) -> list[list[str]]:
    rows = []
    for model in report['models']:
        for run in model['throughput']:
            stats = run['latency_ms']
            rows.append([model['name'], run['mode'], str(run['workers']), _fmt(run['fps'], 1),
                         _fmt(stats.get('mean'), 2), _fmt(stats.get('p99'), 2)])
    return rows


def _conversion_markdown(records: Sequence[dict[str, Any]]) -> str:
    sizes = sorted({(r['width'], r['height']) for r in records}, key=lambda s: s[0] * s[1])
    encodings = list(dict.fromkeys(r['encoding'] for r in records))
    cell = {(r['encoding'], r['width'], r['height']): r['ms'] for r in records}
    rows = []
    for encoding in encodings:
        row = [encoding]
        for width, height in sizes:
            stats = cell.get((encoding, width, height))
            row.append(f'{stats["p50"]:.3f} / {stats["p95"]:.3f}' if stats else '—')
        rows.append(row)
    header = ['Encoding'] + [f'{w}x{h} p50 / p95 ms' for w, h in sizes]
    return markdown_table(header, rows, 'l' + 'r' * len(sizes))


def _ratio_rows(report: dict[str, Any]) -> list[list[str]]:
    def image_by_image(ratio: dict[str, Any]) -> str:
        pair = ratio.get('paired')
        if not pair:
            return ''
        return (f"ours +{pair['gained']} / -{pair['lost']} images, "
                f"McNemar p = {pair['p_value']:.2f}")

    return [[r['ours'], r['peer'], r['measure'], _fmt(r['ours_value'], 3),
             _fmt(r['peer_value'], 3), f'{r["ratio"]:.2f}x', image_by_image(r)]
            for r in report.get('ratios', [])]


def faster_peers(report: dict[str, Any]) -> list[str]:
    """One sentence per peer that beats one of ours by more than FASTER_PEER_MARGIN.

    A measure counts where the peer's speed-up (our latency / the peer's, or the peer's FPS /
    ours) exceeds the margin; the sentence says whether the top-1 results differ significantly
    image by image (McNemar p < 0.05), do not, or were not measured.
    """
    pairs: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for ratio in report.get('ratios', []):
        pairs.setdefault((ratio['ours'], ratio['peer']), []).append(ratio)
    sentences = []
    for (ours, peer), ratios in pairs.items():
        wins, accuracy = [], 'accuracy not measured (pass --dataset)'
        for ratio in ratios:
            if ratio['measure'].startswith('top-1'):
                pair = ratio.get('paired')
                if pair:
                    same = pair['p_value'] >= _SIGNIFICANT
                    accuracy = (f"top-1 {'not ' if same else ''}significantly different ("
                                f"{ratio['ours_value']:.2f} / {ratio['peer_value']:.2f} %, "
                                f"McNemar p = {pair['p_value']:.2f})")
                continue
            # Every ratio is above 1 where ours is faster: the peer's speed-up is its inverse.
            speedup = 1 / ratio['ratio'] if ratio['ratio'] else 0.0
            if speedup > FASTER_PEER_MARGIN:
                wins.append(f'{ratio["measure"]} {speedup:.2f}x')
        if wins:
            sentences.append(f'{peer} is faster than {ours} by more than '
                             f'{round((FASTER_PEER_MARGIN - 1) * 100)} %: {", ".join(wins)}; '
                             f'{accuracy}.')
    return sentences


#: Node CPU per frame columns of the end-to-end table: heading -> key of ms_per_frame.
_NODE_CPU_COLUMNS = {'CPU/frame ms': 'total', 'executor': 'executor', 'inference': 'inference',
                     'DDS': 'middleware', 'other': 'other',
                     'outside inference': 'outside_inference'}


def end_to_end_markdown(end_to_end: dict[str, Any]) -> str:
    """Render the node end-to-end runs: latency and the node's CPU per frame by thread role."""
    if end_to_end.get('skipped'):
        return f'Not measured: {end_to_end["skipped"]}'
    rows = []
    for run in end_to_end['runs']:
        cpu = run.get('thread_cpu', {}).get('ms_per_frame', {})
        rows.append([run['encoding'], f'{run["width"]}x{run["height"]}', str(run['received']),
                     str(run['sent']), _fmt(run['ms'].get('p50'), 2),
                     _fmt(run['ms'].get('p95'), 2), _fmt(run['ms'].get('p99'), 2),
                     *(_fmt(cpu.get(key), 2) for key in _NODE_CPU_COLUMNS.values())])
    table = markdown_table(('Encoding', 'Frame', 'Received', 'Sent', 'p50 ms', 'p95 ms',
                            'p99 ms', *_NODE_CPU_COLUMNS), rows, 'llrrrrr' + 'r' * len(
                                _NODE_CPU_COLUMNS))
    return f'{table}\n\n{end_to_end.get("description", "")}'.rstrip()


def benchmark_markdown(report: dict[str, Any]) -> str:
    """Render a whole benchmark report: the zoo table first, then every measured detail."""
    machine = report['machine']
    load = report.get('load', {})
    parts = [
        '## MobileNetV1 performance (model zoo format)',
        markdown_table(ZOO_COLUMNS, zoo_rows(report), 'llllrrrrrr'),
        '',
        f'Measured on {machine["cpu"]} ({machine["usable_cpus"]} usable CPUs, '
        f'{", ".join(machine["cpu_flags"]) or "no SIMD flags read"}), Python '
        f'{machine["python"]}; load average {load.get("start")} at start, '
        f'{load.get("end")} at end. Latency, 1 thread: median batch-1 inference with one '
        'inference thread. Latency, N threads and FPS: N workers with one inference thread '
        'each, per-frame mean and total frames per second. Accuracy: top-1 % on '
        f'{report.get("dataset") or "no dataset (pass --dataset)"}. '
        f'{ZOO_X5_REFERENCE.runtime}: {ZOO_X5_REFERENCE.source}.',
    ]
    if load.get('warning'):
        parts += ['', f'**Warning:** {load["warning"]}']
    parts += ['', '### Core budgets', markdown_table(
        ('Budget', 'Limit ms', 'Measured ms', 'Result'),
        [[b['name'], _fmt(b['limit_ms'], 2), _fmt(b['measured_ms'], 3),
          'n/a' if b['ok'] is None else 'PASS' if b['ok'] else 'FAIL']
         for b in report['budgets']], 'lrrl')]
    parts += ['', '### Backend latency, batch 1 (ms)', markdown_table(
        ('Model', 'Threads', 'p50', 'p95', 'p99', 'mean', 'runs'), _latency_rows(report),
        'lrrrrrr')]
    parts += ['', '### Throughput, N workers with 1 inference thread each', markdown_table(
        ('Model', 'Workers as', 'N', 'FPS', 'mean ms', 'p99 ms'), _throughput_rows(report),
        'llrrrr')]
    for entry in report.get('skipped', []):
        parts += ['', f'Not measured: {entry["name"]}: {entry["reason"]}']
    if report.get('ratios'):
        parts += ['', '### Peer ratio (peer / ours: above 1 means ours is faster)',
                  markdown_table(('Ours', 'Peer', 'Measure', 'Ours', 'Peer', 'Ratio',
                                  'Image by image'), _ratio_rows(report), 'lllrrrl')]
        faster = faster_peers(report)
        parts += ['', *(f'- {sentence}' for sentence in faster)] if faster else [
            '', f'No peer is faster than ours by more than '
                f'{round((FASTER_PEER_MARGIN - 1) * 100)} % in any measure.']
    pipeline = [[m['name'], _fmt(m['pipeline_ms'].get('p50'), 3),
                 _fmt(m['postprocess_ms'].get('p50'), 4)]
                for m in report['models'] if m.get('pipeline_ms')]
    if pipeline:
        parts += ['', f'### Whole classification of the {report["image"]["size"]} photo '
                      '(convert + infer + postprocess), and postprocessing alone (ms, p50)',
                  markdown_table(('Model', 'Pipeline', 'Postprocess'), pipeline, 'lrr')]
    parts += ['', '### Conversion to the NV12 model input, one core (ms)',
              _conversion_markdown(report['conversion'])]
    parts += ['', '### Node end to end over DDS (publish -> classification received)',
              end_to_end_markdown(report.get('end_to_end') or {'skipped': 'not requested'})]
    if report.get('command'):
        parts += ['', 'Reproduce: `' + report['command'] + '`']
    return '\n'.join(parts) + '\n'
