"""`hobot_dnn.pyeasy_dnn` as the board image ships it, emulated by hobot_dnn_double."""

from hobot_dnn_double import Model, TensorProperties, load, pyDNNTensor

__all__ = ['Model', 'TensorProperties', 'load', 'pyDNNTensor']
