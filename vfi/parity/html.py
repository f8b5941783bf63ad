"""The self-contained HTML page of a `vfi parity` report: summary, per-pair rows, and per pair the
reference, the candidate, an error heat map and the ground truth, as inline base64 PNGs."""

from __future__ import annotations

import base64
import html
import io
import math

import numpy as np

from vfi.parity.metrics import to_8bit
from vfi.parity.report import describe_thresholds, format_number

DISPLAY_WIDTH = 320  # pixels per image on the page
# Anchors of the heat map's colour scale (black → purple → red → orange → pale yellow, as "inferno").
_HEAT_ANCHORS = np.array([[0, 0, 4], [87, 16, 110], [188, 55, 84], [249, 142, 9], [252, 255, 164]], np.float64)


def pair_images(reference: np.ndarray, candidate: np.ndarray, truth: np.ndarray | None) -> dict:
    """What the page shows of one pair: downscaled 8-bit images as PNG and the downscaled error
    map |candidate - reference| (largest over channels, block maximum), coloured when the page is
    rendered so every pair shares one scale."""
    reference, candidate = (np.nan_to_num(x, nan=0.0, posinf=0.0, neginf=0.0) for x in (reference, candidate))
    error = np.abs(candidate[0].astype(np.float64) - reference[0]).max(axis=0)
    return {
        "reference": _png(_downscale(to_8bit(reference))),
        "candidate": _png(_downscale(to_8bit(candidate))),
        "truth": _png(_downscale(to_8bit(truth))) if truth is not None else None,
        "error": _block_max(error),
    }


def _downscale(image: np.ndarray) -> np.ndarray:
    """[3,H,W] uint8 to HWC uint8 at most DISPLAY_WIDTH wide (area average)."""
    from PIL import Image

    picture = Image.fromarray(image.transpose(1, 2, 0))
    if picture.width > DISPLAY_WIDTH:
        picture = picture.resize((DISPLAY_WIDTH, round(picture.height * DISPLAY_WIDTH / picture.width)), Image.BOX)
    return np.asarray(picture)


def _block_max(error: np.ndarray) -> np.ndarray:
    """The error map at most DISPLAY_WIDTH wide, each display pixel the largest error it covers,
    so that a single wrong pixel stays visible."""
    step = max(1, math.ceil(error.shape[1] / DISPLAY_WIDTH))
    height, width = -(-error.shape[0] // step) * step, -(-error.shape[1] // step) * step
    padded = np.zeros((height, width))
    padded[: error.shape[0], : error.shape[1]] = error
    return padded.reshape(height // step, step, width // step, step).max(axis=(1, 3))


def heat_colours(values: np.ndarray) -> np.ndarray:
    """Values in [0, 1] to HWC uint8 colours."""
    position = np.clip(values, 0, 1) * (len(_HEAT_ANCHORS) - 1)
    low = np.minimum(position.astype(int), len(_HEAT_ANCHORS) - 2)
    fraction = (position - low)[..., None]
    return np.round(_HEAT_ANCHORS[low] * (1 - fraction) + _HEAT_ANCHORS[low + 1] * fraction).astype(np.uint8)


def _png(image: np.ndarray) -> str:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG", optimize=True)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _img(data: str, alt: str) -> str:
    return f'<img src="data:image/png;base64,{data}" alt="{html.escape(alt)}">'


# Every image is shown DISPLAY_WIDTH wide: the error map of a frame whose width is not a multiple
# of its block is a few pixels narrower than the downscaled frames.
_STYLE = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 24px; color: #222; }
table { border-collapse: collapse; margin: 8px 0 20px; }
th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: right; }
th { background: #f0f0f0; } td.name, th.name { text-align: left; }
tr.fail td { background: #fde2e2; }
.verdict { display: inline-block; padding: 4px 12px; border-radius: 4px; font-weight: bold; color: white; }
.pass { background: #2e7d32; } .fail { background: #c62828; }
figure { display: inline-block; margin: 0 8px 8px 0; vertical-align: top; }
figure img { display: block; width: %dpx; height: auto; image-rendering: pixelated; }
figcaption { font-size: 12px; color: #555; }
.pair { margin-bottom: 16px; }
""" % DISPLAY_WIDTH


def render_html(report: dict) -> str:
    ref, cand, summary, threshold = report["reference"], report["candidate"], report["summary"], report["threshold"]
    scale = max((float(images["error"].max()) for images in report["_images"]), default=0.0) or 1.0
    out = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>vfi parity: {html.escape(cand['label'])} vs {html.escape(ref['label'])}</title>",
        f"<style>{_STYLE}</style></head><body>",
        f"<h1>Parity: {html.escape(cand['label'])} vs {html.escape(ref['label'])}</h1>",
        f"<p><span class='verdict {'fail' if report['failures'] else 'pass'}'>{'FAIL' if report['failures'] else 'PASS'}</span> ",
        html.escape(f"thresholds: {describe_thresholds(threshold)}"),
        "</p>",
    ]
    if report["failures"]:
        out.append("<ul>" + "".join(f"<li>{html.escape(p)}</li>" for p in report["failures"]) + "</ul>")
    out.append("<h2>Runners</h2><table><tr><th class='name'>role</th><th class='name'>runner</th><th>backend</th><th>precision</th>"
               "<th class='name'>model</th><th class='name'>weights</th></tr>")
    for role, runner in (("reference", ref), ("candidate", cand)):
        out.append(
            f"<tr><td class='name'>{role}</td><td class='name'>{html.escape(runner['label'])}</td><td>{runner['backend']}</td>"
            f"<td>{runner['precision']}</td><td class='name'>{html.escape(str(runner['model']))}</td>"
            f"<td class='name'>{html.escape(str(runner['weights']))}</td></tr>"
        )
    out.append("</table><h2>Summary</h2><table><tr><th>pairs</th><th>PSNR min dB</th><th>PSNR mean dB</th><th>SSIM min</th>"
               "<th>SSIM mean</th><th>max abs error</th><th>max error (8-bit LSB)</th><th>NaN/Inf</th>")
    truth = summary.get("truth")
    if truth:
        out.append("<th>GT PSNR ref dB</th><th>GT PSNR cand dB</th><th>GT drop dB</th>")
    out.append(
        f"</tr><tr><td>{summary['pairs']}</td><td>{format_number(summary['psnr_db_min'])}</td><td>{format_number(summary['psnr_db_mean'])}</td>"
        f"<td>{format_number(summary['ssim_min'], 5)}</td><td>{format_number(summary['ssim_mean'], 5)}</td>"
        f"<td>{summary['max_abs_error']:.3e}</td><td>{summary['max_error_lsb']}</td><td>{summary['nonfinite']}</td>"
    )
    if truth:
        out.append(f"<td>{format_number(truth['reference_psnr_db'])}</td><td>{format_number(truth['candidate_psnr_db'])}</td>"
                   f"<td>{format_number(truth['psnr_drop_db'], 3)}</td>")
    out.append("</tr></table><h2>Pairs</h2><table><tr><th class='name'>pair</th><th>size</th><th>PSNR dB</th><th>SSIM</th>"
               "<th>max abs error</th><th>max LSB</th><th>NaN/Inf</th><th>GT PSNR ref dB</th><th>GT PSNR cand dB</th></tr>")
    for row in report["pairs"]:
        gt = row.get("truth") or {}
        css = "" if row["pass"] else " class='fail'"
        out.append(
            f"<tr{css}><td class='name'>{html.escape(row['pair'])}</td><td>{row['width']}×{row['height']}</td>"
            f"<td>{format_number(row['psnr_db'])}</td><td>{format_number(row['ssim'], 5)}</td><td>{row['max_abs_error']:.3e}</td>"
            f"<td>{row['max_error_lsb']}</td><td>{row['nonfinite']}</td>"
            f"<td>{format_number(gt.get('reference_psnr_db'))}</td><td>{format_number(gt.get('candidate_psnr_db'))}</td></tr>"
        )
    out.append("</table>")
    if report["_images"]:
        bar = _png(heat_colours(np.tile(np.linspace(0, 1, 256), (12, 1))))
        out.append(
            "<h2>Images</h2><p>Error heat map: |candidate − reference|, the largest over the colour channels and over the "
            f"pixels each displayed pixel covers; colour scale shared by all pairs: {_img(bar, 'colour scale')} "
            f"0 to {scale:.3e} ({scale * 255:.2f} 8-bit levels).</p>"
        )
        for row, images in zip(report["pairs"], report["_images"]):
            heat = _png(heat_colours(images["error"] / scale))
            figures = [("reference", images["reference"]), ("candidate", images["candidate"]), ("|candidate − reference|", heat)]
            if images["truth"]:
                figures.append(("ground truth", images["truth"]))
            out.append(f"<div class='pair'><h3>{html.escape(row['pair'])}</h3>")
            out += [f"<figure>{_img(data, caption)}<figcaption>{html.escape(caption)}</figcaption></figure>" for caption, data in figures]
            out.append("</div>")
    out.append("</body></html>\n")
    return "".join(out)
