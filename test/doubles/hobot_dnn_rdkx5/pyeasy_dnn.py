"""`hobot_dnn_rdkx5.pyeasy_dnn` as the PyPI wheel ships it, emulated by hobot_dnn_double."""

from hobot_dnn_double import Model, TensorProperties, load, pyDNNTensor

__all__ = ['Model', 'TensorProperties', 'load', 'pyDNNTensor']
