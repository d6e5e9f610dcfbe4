"""Test double of the RDK X5 board's hobot_dnn package (see hobot_dnn_double)."""
