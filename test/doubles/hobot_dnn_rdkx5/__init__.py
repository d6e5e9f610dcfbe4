"""Test double of the hobot-dnn-rdkx5 PyPI wheel's package (see hobot_dnn_double)."""
