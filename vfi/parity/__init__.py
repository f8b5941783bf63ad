"""`vfi parity`: two runners on the same real frames, compared pair by pair (see vfi.parity.cli).

pairs (data) ← runners (backends, thresholds) ← compare (metrics, run) ← report, html,
polygraphy_files (outputs) ← cli.
"""
