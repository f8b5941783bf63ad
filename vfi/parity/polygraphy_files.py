"""`vfi parity`'s files in Polygraphy's formats, written and read through Polygraphy's own JSON
encoding (polygraphy.json, polygraphy.comparator.RunResults), so that `polygraphy run` reads what
vfi writes and vfi reads what `polygraphy run --save-inputs` writes.

- Input data (`--save-inputs`, `--load-inputs`): a JSON list of feed dicts, one per pair, each
  mapping the model's input names (frame0, frame1, and t for models that take it) to arrays:
  frames float32 [1,3,H,W] in [0, 1], t float32 [1].
- Outputs (`--save-outputs`): a RunResults holding the reference's and then the candidate's run,
  one iteration per pair, each mapping the graph's output name to the float32 output as returned.

Without Polygraphy these options are refused with the line that installs it: its array encoding
is its own, and a copy of it here could drift from what its loader reads.
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import numpy as np

from vfi.fileio import write_atomically
from vfi.parity.pairs import Pair, ParityError
from vfi.runtime.backends import FRAME_INPUTS, OUTPUT, TIME_INPUT

INPUTS = FRAME_INPUTS + (TIME_INPUT,)  # every input a model run by vfi parity can take


def require_polygraphy(option: str) -> None:
    """Refuse `option` in one line unless Polygraphy can be imported."""
    try:
        importlib.import_module("polygraphy.comparator")
    except ImportError as exc:
        raise ParityError(f"{option} reads and writes Polygraphy's formats, which need Polygraphy ({exc}): pip install polygraphy") from exc


def runner_name(runner: dict, role: str) -> str:
    """The name a runner's outputs have in a RunResults (what `polygraphy run` prints in its
    comparisons), from its report entry: distinct for the two roles even when the labels match."""
    return f"vfi {role}: {runner['label']} ({runner['backend']}, {runner['precision']})"


def save_inputs(path: Path, feeds: list[dict[str, np.ndarray]]) -> None:
    from polygraphy.json import to_json

    write_atomically(path, to_json(feeds) + "\n")


def save_outputs(path: Path, report: dict) -> None:
    """Both runners' outputs (report["_outputs"]) as a RunResults, reference first."""
    from polygraphy.comparator import RunResults

    results = RunResults()
    for role in ("reference", "candidate"):
        results.add([{OUTPUT: output} for output in report["_outputs"][role]], runner_name=runner_name(report[role], role))
    write_atomically(path, results.to_json() + "\n")


def load_inputs(path: Path) -> list[Pair]:
    """The pairs of a Polygraphy input-data file, named "iteration N" as Polygraphy counts them,
    without ground truth; t is None where a feed has none (run_parity checks that against the
    runners, which say whether they take t only once activated)."""
    from polygraphy.comparator import RunResults
    from polygraphy.json import from_json
    from polygraphy.logger import G_LOGGER

    try:
        text = path.read_text()
    except FileNotFoundError:
        raise ParityError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ParityError(f"{path}: cannot read it as JSON text ({exc})") from exc
    try:
        # Polygraphy logs its decoding errors before raising them; the raised message is enough.
        with G_LOGGER.verbosity(G_LOGGER.CRITICAL + 1):
            feeds = from_json(text)
    except json.JSONDecodeError as exc:
        raise ParityError(f"{path}: not valid JSON ({exc})") from None
    except Exception as exc:  # Polygraphy's decoders raise PolygraphyException, NumPy's ValueError, …
        raise ParityError(f"{path}: not Polygraphy input data: a value does not decode ({str(exc).strip()})") from exc
    if isinstance(feeds, RunResults):
        raise ParityError(f"{path}: holds runner outputs (a Polygraphy RunResults), not input data (a list of feed dicts)")
    if isinstance(feeds, dict):  # Polygraphy also reads a file holding one feed dict as one iteration
        feeds = [feeds]
    if not isinstance(feeds, list) or not feeds or not all(isinstance(feed, dict) for feed in feeds):
        raise ParityError(f"{path}: not Polygraphy input data (a non-empty JSON list of feed dicts, input name to array)")
    return [_pair(path, f"iteration {index}", feed) for index, feed in enumerate(feeds)]


def _pair(path: Path, name: str, feed: dict) -> Pair:
    unknown = [key for key in feed if key not in INPUTS]
    if unknown:
        raise ParityError(
            f"{path}: {name} names inputs the models do not take: {', '.join(unknown)} (vfi parity runs models taking "
            f"{FRAME_INPUTS[0]}, {FRAME_INPUTS[1]} and optionally {TIME_INPUT})"
        )
    for key, value in feed.items():
        if not isinstance(value, np.ndarray) or not np.issubdtype(value.dtype, np.floating):
            kind = f"a {value.dtype} array" if isinstance(value, np.ndarray) else f"of type {type(value).__name__}"
            raise ParityError(f"{path}: {name}: input {key} is {kind}, not a floating-point NumPy array")
    missing = [key for key in FRAME_INPUTS if key not in feed]
    if missing:
        raise ParityError(f"{path}: {name} lacks input {', '.join(missing)}")
    frame0, frame1 = (feed[key] for key in FRAME_INPUTS)
    if frame0.ndim != 4 or frame0.shape[:2] != (1, 3) or 0 in frame0.shape or frame1.shape != frame0.shape:
        raise ParityError(
            f"{path}: {name}: frames of shape {list(frame0.shape)} and {list(frame1.shape)}; expected one RGB pair of "
            "the same shape [1, 3, H, W]"
        )
    t = feed.get(TIME_INPUT)
    if t is not None and t.shape != (1,):
        raise ParityError(f"{path}: {name}: t of shape {list(t.shape)}; expected [1]")
    # Polygraphy, too, casts a loaded input to the model's type; vfi's runners take float32.
    return Pair(name, frame0.astype(np.float32), frame1.astype(np.float32), None, None if t is None else float(t[0]))
