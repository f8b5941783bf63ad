"""Calibration data: runs of real consecutive frames (pairs, or three or four for DSFN) from videos
and image sequences, preprocessed exactly as the runtime does, chosen evenly over the input and
across motion magnitudes (`vfi calib collect`), and read back by the INT8 quantizer
(`vfi.calib.store.load_sample`)."""
