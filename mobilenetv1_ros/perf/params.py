"""Count the trained parameters of the TFLite MobileNetV1 files (weights and biases)."""

from __future__ import annotations

from dataclasses import dataclass
from math import prod
from typing import TYPE_CHECKING

from mobilenetv1_ros.core.errors import ModelError

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ['ParameterCount', 'count_parameters']

# tflite BuiltinOperator codes of the layers that carry weights.
_WEIGHTED_OPS = {3: 'CONV_2D', 4: 'DEPTHWISE_CONV_2D', 9: 'FULLY_CONNECTED'}


@dataclass(frozen=True)
class ParameterCount:
    """Parameters of the chained TFLite files.

    Attributes:
        total: Weights and biases of every layer, as stored (1001 outputs with background).
        without_background: The same for the 1000 ImageNet classes the package reports.
        layers: Number of weighted layers.
    """

    total: int
    without_background: int
    layers: int

    @property
    def millions(self) -> float:
        """The 1000-class count in millions."""
        return self.without_background / 1e6


def _file_parameters(path: Path) -> tuple[int, int, int]:
    """Return (parameters, weighted layers, parameters per output of the last layer)."""
    import tflite

    try:
        model = tflite.Model.GetRootAsModel(path.read_bytes(), 0)
    except FileNotFoundError:
        raise ModelError(f'Model file {path} does not exist') from None
    except Exception as error:  # noqa: BLE001 - the flatbuffer reader raises anything
        raise ModelError(f'Model file {path} is not a TFLite model: {error}') from None
    total = layers = last_per_output = 0
    for graph_index in range(model.SubgraphsLength()):
        graph = model.Subgraphs(graph_index)
        for op_index in range(graph.OperatorsLength()):
            op = graph.Operators(op_index)
            code = model.OperatorCodes(op.OpcodeIndex())
            builtin = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
            if builtin not in _WEIGHTED_OPS:
                continue
            layers += 1
            sizes = [int(prod(graph.Tensors(index).ShapeAsNumpy()))
                     for index in op.InputsAsNumpy()[1:] if index >= 0]
            weights_shape = graph.Tensors(op.InputsAsNumpy()[1]).ShapeAsNumpy()
            total += sum(sizes)
            outputs = int(weights_shape[0]) if builtin != 4 else int(weights_shape[-1])
            last_per_output = sum(sizes) // max(outputs, 1)
    return total, layers, last_per_output


def count_parameters(extractor: Path, head: Path, background_classes: int = 1) -> ParameterCount:
    """Count the weights and biases of the extractor and head TFLite files.

    Args:
        extractor: The embedding extractor file.
        head: The classifier head file; its last layer holds the class outputs.
        background_classes: Outputs of the head that are not ImageNet classes.

    Raises:
        ModelError: A file is missing or not a TFLite model.
    """
    extractor_total, extractor_layers, _ = _file_parameters(extractor)
    head_total, head_layers, per_output = _file_parameters(head)
    total = extractor_total + head_total
    return ParameterCount(total, total - background_classes * per_output,
                          extractor_layers + head_layers)
