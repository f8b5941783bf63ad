"""`vfi parity`: two runners on the same real frame pairs, compared pair by pair.

Runners are the runtime's backends: a registered model name runs in PyTorch (fp32, the
reference), an `.onnx` file in ONNX Runtime (fp32, fp16 or INT8 variant), an `.engine` file in
TensorRT. Data (`--data`) is a folder of triplets as `vfi eval` finds them (vfi.frames.triplets:
Middlebury's `frame10.png`, `frame11.png`, ground truth `frame10i11.png`, and two other layouts;
the folder itself or folders at any depth; the ground truth may be missing), or a video or
image-sequence folder, from which `--max-pairs` consecutive pairs spread over its length are
taken. Models that take t are run at t = 0.5. Instead of `--data`, `--load-inputs` reads the
feeds of a Polygraphy input-data file (t from the file); `--save-inputs` and `--save-outputs`
write the feeds and both runners' outputs in Polygraphy's formats (vfi.parity.polygraphy_files).

Against the reference, on the float outputs as returned: PSNR and SSIM (vfi.parity.metrics),
the largest absolute error, and the largest difference in 8-bit levels (LSB) after both outputs
are clamped and rounded as the runtime writes frames; non-finite values of the candidate are
counted (and set to 0 for the other metrics). Against ground truth, where the data has it: PSNR
and SSIM of each runner's 8-bit output, and how much the candidate loses.

Thresholds: no output may hold NaN or Inf. When the reference is fp32 (PyTorch or an fp32 file)
and the candidate's model has a card, every pair must reach the candidate precision's PSNR
(vfi.parity.runners.PSNR_THRESHOLDS_DB; INT8 from the card's `int8_psnr_threshold_db`, or
`int8_modelopt_psnr_threshold_db` for a file of `--quantizer modelopt`, each measured with seeded
random weights and so applying to them alone), and an INT8 candidate may lose at most
vfi.parity.compare.INT8_TRUTH_DROP_DB of mean PSNR against ground truth where the data has it.
Any failure is printed and the command exits 1.
"""

from __future__ import annotations

from pathlib import Path

from vfi.fileio import write_atomically
from vfi.parity.compare import run_parity
from vfi.parity.pairs import feed, load_pairs
from vfi.parity.report import format_report, report_json
from vfi.parity.runners import open_runner


def add_arguments(parser) -> None:
    from vfi.calib.cli import positive_int

    parser.add_argument("reference", help="registered model name (PyTorch), .onnx file (ONNX Runtime) or .engine file (TensorRT)")
    parser.add_argument("candidate", help="the runner compared with the reference, in the same forms")
    data = parser.add_mutually_exclusive_group(required=True)
    data.add_argument("--data", type=Path, help="folder of triplets (the layouts `vfi eval` reads; ground truth optional), or a video or image-sequence folder")
    data.add_argument("--load-inputs", type=Path, metavar="FILE",
                      help="run on the feeds of a Polygraphy input-data JSON (polygraphy run --save-inputs, or vfi parity's), without ground truth")
    parser.add_argument("--max-pairs", type=positive_int, default=8, help="pairs taken from a video or image sequence (default 8)")
    parser.add_argument("--weights", type=Path, help="checkpoint for a PyTorch runner (default: seeded random weights)")
    parser.add_argument("--seed", type=int, default=0, help="seed of a PyTorch runner's random weights (default 0, as `vfi export`)")
    parser.add_argument("--plugins", type=Path, help="TensorRT plugin library for the engines built with one (engines built without are run without it)")
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu", help="device of PyTorch and ONNX Runtime runners")
    parser.add_argument("--provider", choices=["cpu", "cuda", "tensorrt"], help="ONNX Runtime execution provider")
    parser.add_argument("--threads", type=int, help="CPU threads of PyTorch and ONNX Runtime runners")
    parser.add_argument("--json", type=Path, help="write the report as JSON to this file")
    parser.add_argument("--html", type=Path, help="write the report as a self-contained HTML page to this file")
    parser.add_argument("--save-inputs", type=Path, metavar="FILE",
                        help="write the feeds given to the runners as Polygraphy input data (polygraphy run --load-inputs FILE)")
    parser.add_argument("--save-outputs", type=Path, metavar="FILE",
                        help="write both runners' outputs as Polygraphy RunResults (polygraphy run --load-outputs FILE)")


def run(args) -> int:
    from vfi.parity import polygraphy_files as parity_polygraphy
    from vfi.parity.html import render_html

    # Without Polygraphy its options are refused before the runners run, not after.
    for option, path in (("--load-inputs", args.load_inputs), ("--save-inputs", args.save_inputs), ("--save-outputs", args.save_outputs)):
        if path is not None:
            parity_polygraphy.require_polygraphy(option)
    options = dict(weights=args.weights, seed=args.seed, plugins=args.plugins, device=args.device, provider=args.provider, threads=args.threads)
    reference, candidate = open_runner(args.reference, **options), open_runner(args.candidate, **options)
    pairs = parity_polygraphy.load_inputs(args.load_inputs) if args.load_inputs else load_pairs(args.data, args.max_pairs)
    report = run_parity(reference, candidate, pairs, keep_images=args.html is not None, keep_outputs=args.save_outputs is not None,
                        inputs_file=args.load_inputs)
    print(format_report(report))
    writers = (
        (args.json, lambda path: write_atomically(path, report_json(report))),
        (args.html, lambda path: write_atomically(path, render_html(report))),
        (args.save_inputs, lambda path: parity_polygraphy.save_inputs(path, [feed(pair, report["inputs"]) for pair in pairs])),
        (args.save_outputs, lambda path: parity_polygraphy.save_outputs(path, report)),
    )
    for path, write in writers:
        if path is not None:
            write(path)
            print(f"wrote {path}")
    for problem in report["failures"]:
        print(f"vfi parity: FAIL: {problem}")
    return 1 if report["failures"] else 0


