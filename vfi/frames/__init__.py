"""Frames in and out, without torch: still images, decoded video frames, thumbnails, calibration
frame sources, triplet folders and synthetic clips. The calibration, export, runtime, parity and
benchmark stages all read frames through this package, so they convert them the same way."""
