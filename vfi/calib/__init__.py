"""Calibration data: real frame pairs from videos and image sequences, preprocessed exactly as the
runtime does, chosen evenly over the input and across motion magnitudes (`vfi calib collect`), and
read back by the INT8 quantizer (`vfi.calib.store.load_pair`)."""
