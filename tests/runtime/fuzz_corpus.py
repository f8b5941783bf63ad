"""A seeded corpus of hostile inputs for `vfi interpolate`, generated at run time (no media are
committed): damaged video files, odd formats and sizes, bad y4m headers, image bombs, bad
checkpoints, ONNX files and engine sidecars, and bad option values.

Each case writes its files into a folder and returns the `vfi interpolate` arguments; `names` is
what the error line must mention (the file or the option at fault) when the run is refused.
"""

from __future__ import annotations

import io
import json
import pickle
import struct
import tempfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass, replace
from fractions import Fraction
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from clips import write_clip

SEED = 20261206
FRAMES = 6
WIDTH, HEIGHT = 32, 24
TOY = ("--model", "toy_blend", "--backend", "torch")  # no export, no cache: the time goes to the pipeline
OUT = "out/out.mp4"  # relative to the case folder; out/ is checked for leftovers

BAD_INPUT, LOST, OK = 2, 1, 0
ANY_VIDEO_OUTCOME = frozenset({OK, LOST, BAD_INPUT})


@dataclass(frozen=True)
class Case:
    id: str
    build: Callable[[Path], list[str]]  # writes the inputs into the folder; the CLI arguments
    outcomes: frozenset = frozenset({BAD_INPUT})
    names: str = ""  # the error line contains this (a file name, an option)
    frames: int | None = None  # damaged copies of a FRAMES-frame video: exit 0 only when all were decoded
    stdin: bool = False  # the input file goes to stdin and the input argument is "-"
    family: str = ""  # the generator's, for the totals


def _frames(rng: np.random.Generator, count: int = FRAMES, width: int = WIDTH, height: int = HEIGHT) -> list[np.ndarray]:
    """A moving gradient with noise: frames that differ, so encoders spend bits on every one."""
    x = np.linspace(0, 255, width)[None, :, None]
    return [
        np.clip(x + 8 * i + rng.normal(0, 12, (height, width, 3)), 0, 255).astype(np.uint8) for i in range(count)
    ]


def y4m_bytes(frames: list[np.ndarray], header: str | None = None, colour: str = "C444") -> bytes:
    """A 4:4:4 y4m stream of RGB frames (the planes as Y, Cb, Cr, near enough for a corpus)."""
    height, width = frames[0].shape[:2]
    header = header if header is not None else f"YUV4MPEG2 W{width} H{height} F25:1 Ip A1:1 {colour}"
    body = b"".join(b"FRAME\n" + np.ascontiguousarray(f.transpose(2, 0, 1)).tobytes() for f in frames)
    return header.encode() + b"\n" + body


def _valid_videos() -> dict[str, Callable[[Path], Path]]:
    def mp4(folder: Path) -> Path:
        return write_clip(folder / "base.mp4", _frames(np.random.default_rng(1)), codec="libx264")

    def mp4_faststart(folder: Path) -> Path:
        return write_clip(folder / "base.mp4", _frames(np.random.default_rng(2)), codec="libx264",
                          container_options={"movflags": "faststart"})

    def mkv(folder: Path) -> Path:
        return write_clip(folder / "base.mkv", _frames(np.random.default_rng(3)), codec="ffv1")

    def y4m(folder: Path) -> Path:
        path = folder / "base.y4m"
        path.write_bytes(y4m_bytes(_frames(np.random.default_rng(4))))
        return path

    return {"mp4": mp4, "mp4-faststart": mp4_faststart, "mkv": mkv, "y4m": y4m}


_BASES: dict[str, bytes] = {}


def _base(kind: str, make: Callable[[Path], Path]) -> bytes:
    """The valid file of `kind`, made once per process (it is the same every time: seeded)."""
    if kind not in _BASES:
        with tempfile.TemporaryDirectory() as folder:
            _BASES[kind] = make(Path(folder)).read_bytes()
    return _BASES[kind]


def _damaged(kind: str, make: Callable[[Path], Path], damage: Callable[[bytes], bytes], suffix: str) -> Callable:
    def build(folder: Path) -> list[str]:
        target = folder / f"damaged{suffix}"
        target.write_bytes(damage(_base(kind, make)))
        return [str(target), str(folder / OUT), *TOY, "--json"]

    return build


def _bit_flip(position: float, bit: int) -> Callable[[bytes], bytes]:
    def damage(data: bytes) -> bytes:
        data = bytearray(data)
        data[int(position * (len(data) - 1))] ^= 1 << bit
        return bytes(data)

    return damage


def _overwrite(position: float, seed: int) -> Callable[[bytes], bytes]:
    def damage(data: bytes) -> bytes:
        data = bytearray(data)
        start = int(position * (len(data) - 1))
        junk = np.random.default_rng(seed).integers(0, 256, 16, np.uint8).tobytes()
        data[start : start + 16] = junk[: len(data) - start]
        return bytes(data)

    return damage


def _truncate(fraction: float) -> Callable[[bytes], bytes]:
    return lambda data: data[: int(fraction * len(data))]


def damaged_video_cases(rng: np.random.Generator, per_kind: int = 24) -> list[Case]:
    cases = []
    suffixes = {"mp4": ".mp4", "mp4-faststart": ".mp4", "mkv": ".mkv", "y4m": ".y4m"}
    for kind, make in _valid_videos().items():
        suffix = suffixes[kind]
        for i, position in enumerate(rng.random(per_kind)):
            cases.append(Case(f"{kind}-flip-{i}", _damaged(kind, make, _bit_flip(position, int(rng.integers(8))), suffix),
                              ANY_VIDEO_OUTCOME, "damaged", frames=FRAMES))
        for i, position in enumerate(rng.random(per_kind)):
            cases.append(Case(f"{kind}-overwrite-{i}", _damaged(kind, make, _overwrite(position, int(rng.integers(1 << 30))), suffix),
                              ANY_VIDEO_OUTCOME, "damaged", frames=FRAMES))
        for i, fraction in enumerate(np.sort(rng.random(per_kind))):
            cases.append(Case(f"{kind}-truncate-{i}", _damaged(kind, make, _truncate(float(fraction)), suffix),
                              ANY_VIDEO_OUTCOME, "damaged", frames=FRAMES))
    return cases


def junk_file_cases(rng: np.random.Generator) -> list[Case]:
    cases = []
    for suffix in (".mp4", ".mkv", ".mov", ".avi", ".webm", ".y4m", ".ts", ".png", ".jpg"):
        for i, size in enumerate((0, 1, 100, 5000, 100_000)):
            data = rng.integers(0, 256, size, np.uint8).tobytes()

            def build(folder: Path, data=data, suffix=suffix) -> list[str]:
                (folder / f"junk{suffix}").write_bytes(data)
                return [str(folder / f"junk{suffix}"), str(folder / OUT), *TOY]

            cases.append(Case(f"junk{suffix}-{size}", build, names="junk"))
            if suffix in (".png", ".jpg"):  # and as one of an image pair
                def build_pair(folder: Path, data=data, suffix=suffix) -> list[str]:
                    (folder / f"junk{suffix}").write_bytes(data)
                    Image.fromarray(_frames(np.random.default_rng(0), 1)[0]).save(folder / "good.png")
                    return [str(folder / "good.png"), str(folder / f"junk{suffix}"), "-o", str(folder / "out/mid.png"),
                            *TOY]

                cases.append(Case(f"pair-junk{suffix}-{size}-{i}", build_pair, names="junk"))
    return cases


def _clip_case(name: str, outcomes, names: str = "", **clip) -> Case:
    count = clip.pop("count", FRAMES)
    width, height = clip.pop("size", (WIDTH, HEIGHT))
    suffix = clip.pop("suffix", ".mkv")
    extra = clip.pop("extra", ())
    deep = clip.pop("deep", False)

    def build(folder: Path) -> list[str]:
        frames = _frames(np.random.default_rng(5), count, width, height)
        if deep:
            frames = [f.astype(np.uint16) * 257 for f in frames]
        write_clip(folder / f"{name}{suffix}", frames, **clip)
        return [str(folder / f"{name}{suffix}"), str(folder / OUT), *TOY, "--json", *extra]

    return Case(name, build, frozenset(outcomes), names or name)


def _timed_clip(name: str, ticks: list[int | None]) -> Callable[[Path], list[str]]:
    """FFV1 in Matroska with these presentation times (in 1/25 s; None: no timestamp). Muxers
    refuse times that do not increase, so the packets carry increasing decoding times and the
    given presentation times, as a stream with reordered frames would."""
    import av

    def build(folder: Path) -> list[str]:
        path = folder / f"{name}.mkv"
        with av.open(str(path), "w") as out:
            stream = out.add_stream("ffv1", rate=25)
            stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
            stream.time_base = Fraction(1, 25)
            packets = []
            for i, pixels in enumerate(_frames(np.random.default_rng(7))):
                frame = av.VideoFrame.from_ndarray(pixels, format="rgb24").reformat(format="yuv420p")
                frame.pts = i
                packets += stream.encode(frame)
            packets += stream.encode(None)
            for i, (packet, tick) in enumerate(zip(packets, ticks)):
                packet.dts = i - FRAMES
                packet.pts = tick
                out.mux(packet)
        return [str(path), str(folder / OUT), *TOY, "--json"]

    return build


def format_cases() -> list[Case]:
    """Valid but unusual videos: they are interpolated (exit 0) or refused with a reason (exit 2)."""
    cases = [
        _clip_case("one-frame-mkv", {OK, BAD_INPUT}, count=1, codec="ffv1"),
        _clip_case("one-frame-mp4", {OK, BAD_INPUT}, count=1, codec="libx264", suffix=".mp4"),
        _clip_case("two-frames-mkv", {OK}, count=2, codec="ffv1"),
        _clip_case("two-frames-mp4", {OK}, count=2, codec="libx264", suffix=".mp4"),
        _clip_case("gray", {OK}, codec="ffv1", pix_fmt="gray"),
        _clip_case("gray10", {OK}, codec="ffv1", pix_fmt="gray10le", deep=True),
        _clip_case("yuv420p10", {OK}, codec="ffv1", pix_fmt="yuv420p10le", deep=True),
        _clip_case("yuv444p", {OK}, codec="ffv1", pix_fmt="yuv444p"),
        _clip_case("yuv444p-x264", {OK}, codec="libx264", pix_fmt="yuv444p", suffix=".mp4"),
        _clip_case("yuv422p10-x264", {OK}, codec="libx264", pix_fmt="yuv422p10le", suffix=".mp4", deep=True),
        _clip_case("rgb-ffv1", {OK}, codec="ffv1", pix_fmt="bgr0"),
        _clip_case("yuva420p", {BAD_INPUT}, codec="ffv1", pix_fmt="yuva420p"),
        _clip_case("rgba", {BAD_INPUT}, codec="ffv1", pix_fmt="bgra"),
        _clip_case("yuva444p10", {BAD_INPUT}, codec="ffv1", pix_fmt="yuva444p10le", deep=True),
    ]
    for width, height in ((1, 1), (2, 2), (3, 3), (5, 7), (17, 9), (33, 31), (2, 64), (64, 2)):
        for codec, pix_fmt in (("ffv1", "yuv444p"), ("ffv1", "yuv420p")):
            name = f"{width}x{height}-{pix_fmt}"
            odd = width % 2 or height % 2
            if pix_fmt == "yuv420p" and (odd or (width, height) == (2, 64)):
                continue  # FFV1 cannot write it (odd 4:2:0; 2×64 4:2:0 fails to open the encoder)
            # odd sizes into the default libx264 yuv420p output: refused with a hint, or ffv1
            cases.append(_clip_case(name, {OK, BAD_INPUT} if odd else {OK}, "--pix-fmt", size=(width, height),
                                    codec=codec, pix_fmt=pix_fmt))
            cases.append(_clip_case(f"{name}-to-ffv1", {OK}, size=(width, height), codec=codec, pix_fmt=pix_fmt,
                                    extra=("--codec", "ffv1")))
    for rotation in (90, 180, -90, 45):
        cases.append(_clip_case(f"rotation{rotation}", {OK}, codec="libx264", suffix=".mp4", rotation=rotation))
    for name, ticks in (
        ("duplicate-times", [0, 1, 2, 2, 4, 5]),
        ("backwards-times", [0, 1, 2, 1, 4, 5]),
        ("all-same-time", [0] * FRAMES),
        ("vfr-times", [0, 3, 4, 10, 11, 30]),
        ("no-times", [None] * FRAMES),
    ):
        outcomes = {OK} if name in ("vfr-times", "no-times") else {LOST}
        cases.append(Case(name, _timed_clip(name, ticks), frozenset(outcomes), name))
    cases.append(_clip_case("with-audio", {OK}, codec="libx264", suffix=".mp4", audio_seconds=0.3))
    return cases


def audio_only_cases() -> list[Case]:
    import av

    cases = []
    for suffix, codec in ((".m4a", "aac"), (".mp4", "aac"), (".mkv", "flac"), (".wav", "pcm_s16le"), (".ogg", "libopus")):
        def build(folder: Path, suffix=suffix, codec=codec) -> list[str]:
            path = folder / f"sound{suffix}"
            with av.open(str(path), "w") as out:
                stream = out.add_stream(codec, rate=48000)
                samples = np.zeros((1, 960), np.float32 if codec in ("aac", "libopus") else np.int16)
                fmt = "fltp" if codec == "aac" else ("flt" if codec == "libopus" else "s16")
                frame = av.AudioFrame.from_ndarray(samples, format=fmt, layout="mono")
                frame.sample_rate, frame.pts = 48000, 0
                for packet in [*stream.encode(frame), *stream.encode(None)]:
                    out.mux(packet)
            return [str(path), str(folder / OUT), *TOY]

        cases.append(Case(f"audio-only{suffix}", build, names="sound"))
    return cases


def y4m_header_cases(rng: np.random.Generator) -> list[Case]:
    frames = _frames(rng, 3)
    good = f"YUV4MPEG2 W{WIDTH} H{HEIGHT} F25:1 Ip A1:1 C444"
    headers = {
        "no-width": "YUV4MPEG2 H24 F25:1 C444",
        "no-height": "YUV4MPEG2 W32 F25:1 C444",
        "no-rate": "YUV4MPEG2 W32 H24 C444",
        "negative-width": "YUV4MPEG2 W-32 H24 F25:1 C444",
        "negative-height": "YUV4MPEG2 W32 H-24 F25:1 C444",
        "zero-width": "YUV4MPEG2 W0 H24 F25:1 C444",
        "text-width": "YUV4MPEG2 Wabc H24 F25:1 C444",
        "text-rate": "YUV4MPEG2 W32 H24 Fx:y C444",
        "zero-rate": "YUV4MPEG2 W32 H24 F0:1 C444",
        "zero-rate-denominator": "YUV4MPEG2 W32 H24 F25:0 C444",
        "negative-rate": "YUV4MPEG2 W32 H24 F-25:1 C444",
        "huge-rate": "YUV4MPEG2 W32 H24 F2147483647:1 C444",
        "huge-width": "YUV4MPEG2 W2147483647 H24 F25:1 C444",
        "huge-both": "YUV4MPEG2 W100000 H100000 F25:1 C444",
        "over-max-pixels": "YUV4MPEG2 W16000 H16000 F25:1 C444",
        "unknown-colour": "YUV4MPEG2 W32 H24 F25:1 Cfoo",
        "interlaced-top": "YUV4MPEG2 W32 H24 F25:1 It C444",
        "interlaced-bottom": "YUV4MPEG2 W32 H24 F25:1 Ib C444",
        "interlaced-mixed": "YUV4MPEG2 W32 H24 F25:1 Im C444",
        "bad-magic": "YUV4MPEG3 W32 H24 F25:1 C444",
        "no-newline-garbage": good + " X" + "y" * 5000,
        "empty-header": "",
    }
    cases = []
    for name, header in headers.items():
        data = y4m_bytes(frames, header)
        outcomes = {OK, BAD_INPUT} if name.startswith("interlaced") or name == "huge-rate" else {BAD_INPUT}
        cases.append(_y4m_case(f"y4m-{name}", data, outcomes))
    whole = y4m_bytes(frames, good)
    frame_bytes = 6 + WIDTH * HEIGHT * 3
    for i, cut in enumerate((len(good) + 1, len(good) + 4, len(good) + 1 + frame_bytes // 2,
                             len(good) + 1 + frame_bytes + 3, len(whole) - 1)):
        cases.append(_y4m_case(f"y4m-truncated-{i}", whole[:cut], ANY_VIDEO_OUTCOME))
    cases.append(_y4m_case("y4m-bad-frame-marker", whole.replace(b"FRAME\n", b"FRAMX\n", 2), ANY_VIDEO_OUTCOME))
    return cases


def _y4m_case(name: str, data: bytes, outcomes) -> Case:
    def build(folder: Path) -> list[str]:
        (folder / f"{name}.y4m").write_bytes(data)
        return [str(folder / f"{name}.y4m"), str(folder / OUT), *TOY, "--json"]

    return Case(name, build, frozenset(outcomes), name)


def y4m_pipe_cases() -> list[Case]:
    """The same streams on stdin (vfi interpolate - OUT), and a valid one. A pipe has no size, so
    a stream cut at a frame boundary is a shorter stream: no frame accounting to check."""
    valid = _y4m_case("y4m-valid", y4m_bytes(_frames(np.random.default_rng(SEED + 2), 3)), {OK})
    cases = []
    for case in [valid, *y4m_header_cases(np.random.default_rng(SEED + 1))]:
        cases.append(Case(f"stdin-{case.id}", case.build, case.outcomes, "stdin", stdin=True))
    return cases


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def png_header_only(width: int, height: int) -> bytes:
    """A PNG declaring `width`×`height` RGB with almost no pixel data."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    data = zlib.compress(b"\x00" * 64)
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + _png_chunk(b"IDAT", data) + _png_chunk(b"IEND", b"")


def png_bomb(width: int, height: int) -> bytes:
    """A valid PNG of `width`×`height` black RGB pixels: a few kB that decompress to 3·W·H bytes."""
    row = b"\x00" + b"\x00" * (3 * width)
    compressor = zlib.compressobj(9)
    data = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + _png_chunk(b"IDAT", data) + _png_chunk(b"IEND", b"")


def image_cases(rng: np.random.Generator) -> list[Case]:
    good = io.BytesIO()
    Image.fromarray(_frames(rng, 1)[0]).save(good, format="PNG")
    good = good.getvalue()
    images = {
        "header-100000x100000.png": (png_header_only(100_000, 100_000), {BAD_INPUT}),
        "header-20000x20000.png": (png_header_only(20_000, 20_000), {BAD_INPUT}),
        "bomb-8000x8000.png": (png_bomb(8000, 8000), {BAD_INPUT}),
        "header-0x10.png": (png_header_only(0, 10), {BAD_INPUT}),
        "one-pixel.png": (_png_of(np.zeros((1, 1, 3), np.uint8)), {OK}),
        "odd-7x5.png": (_png_of(rng.integers(0, 256, (5, 7, 3), np.uint8)), {OK}),
        "gray.png": (_png_of(rng.integers(0, 256, (HEIGHT, WIDTH), np.uint8)), {OK}),
        "rgba.png": (_png_of(rng.integers(0, 256, (HEIGHT, WIDTH, 4), np.uint8)), {OK}),
        "gray16.png": (_png_of(rng.integers(0, 65536, (HEIGHT, WIDTH), np.uint16)), {OK, BAD_INPUT}),
    }
    for i, fraction in enumerate((0.1, 0.3, 0.5, 0.7, 0.9, 0.95)):  # all cut the pixel data
        images[f"truncated-{i}.png"] = (good[: int(fraction * len(good))], {BAD_INPUT})
    for i, position in enumerate(rng.random(10)):
        images[f"flipped-{i}.png"] = (_bit_flip(float(position), int(rng.integers(8)))(good), {OK, BAD_INPUT})
    cases = []
    for name, (data, outcomes) in images.items():
        def build(folder: Path, name=name, data=data) -> list[str]:
            (folder / name).write_bytes(data)
            other = folder / "partner.png"
            with Image.open(io.BytesIO(good)) as partner:
                size = _declared_size(data) or partner.size
                partner.resize(size if size[0] * size[1] <= 4096 else partner.size).save(other)
            return [str(other), str(folder / name), "-o", str(folder / "out/mid.png"), *TOY]

        cases.append(Case(f"image-{name}", build, frozenset(outcomes), name.removesuffix(".png")))

    def mismatched(folder: Path) -> list[str]:
        Image.new("RGB", (32, 24)).save(folder / "a.png")
        Image.new("RGB", (24, 32)).save(folder / "b.png")
        return [str(folder / "a.png"), str(folder / "b.png"), "-o", str(folder / "out/mid.png"), *TOY]

    cases.append(Case("image-mismatched-sizes", mismatched, names="b.png"))
    return cases


def _png_of(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def _declared_size(data: bytes) -> tuple[int, int] | None:
    if data[:8] != b"\x89PNG\r\n\x1a\n" or len(data) < 24:
        return None
    width, height = struct.unpack(">II", data[16:24])
    return (width, height) if 0 < width * height else None


CHECKPOINT_MODEL = "compressed_adacof_net"  # the smallest registered model with a state_dict


class _CreatesAFile:
    """A pickle whose reduce payload would create a file when unpickled without weights_only."""

    def __init__(self, target: Path):
        self.target = target

    def __reduce__(self):
        return (open, (str(self.target), "w"))


def checkpoint_cases(rng: np.random.Generator) -> list[Case]:
    from vfi.models import MODELS
    from vfi.models import build as build_model

    def state() -> dict:
        return build_model(MODELS[CHECKPOINT_MODEL], 0).state_dict()

    def saved(content) -> bytes:
        buffer = io.BytesIO()
        torch.save(content, buffer)
        return buffer.getvalue()

    def wrong_shape() -> bytes:
        content = state()
        key = next(iter(content))
        content[key] = torch.zeros(3, 3)
        return saved(content)

    def with_nan() -> bytes:
        content = state()
        key = next(k for k, v in content.items() if v.is_floating_point())
        content[key] = content[key] * float("nan")
        return saved(content)

    from safetensors.torch import save as save_safetensors

    good_safetensors = None

    def safetensors_damaged(edit) -> Callable[[], bytes]:
        def make() -> bytes:
            nonlocal good_safetensors
            if good_safetensors is None:
                good_safetensors = save_safetensors({k: v.contiguous() for k, v in state().items()})
            return edit(good_safetensors)

        return make

    payloads: dict[str, tuple[Callable[[], bytes], str]] = {
        "random.pth": (lambda: rng.integers(0, 256, 10_000, np.uint8).tobytes(), "random"),
        "empty-dict.pth": (lambda: saved({}), "empty-dict"),
        "a-list.pth": (lambda: saved([1, 2, 3]), "a-list"),
        "wrong-keys.pth": (lambda: saved({"conv.weight": torch.zeros(1)}), "wrong-keys"),
        "wrong-shape.pth": (wrong_shape, "wrong-shape"),
        "nan.pth": (with_nan, "nan"),
        "truncated.pth": (lambda: saved(state())[:5000], "truncated"),
        "safetensors-bad-header.safetensors": (lambda: struct.pack("<Q", 40) + b"{not json" + b"\x00" * 64, "safetensors-bad-header"),
        "safetensors-huge-header.safetensors": (lambda: struct.pack("<Q", 1 << 60) + b"{}", "safetensors-huge-header"),
        "safetensors-truncated.safetensors": (safetensors_damaged(lambda d: d[: len(d) // 2]), "safetensors-truncated"),
        "safetensors-header-lies.safetensors": (
            safetensors_damaged(lambda d: d[:8] + d[8:].replace(b'"F32"', b'"F64"', 1)), "safetensors-header-lies"),
    }
    cases = []
    for name, (make, names) in payloads.items():
        def build(folder: Path, name=name, make=make) -> list[str]:
            (folder / name).write_bytes(make())
            Image.new("RGB", (32, 32)).save(folder / "a.png")
            return [str(folder / "a.png"), str(folder / "a.png"), "-o", str(folder / "out/mid.png"),
                    "--model", CHECKPOINT_MODEL, "--backend", "torch", "--weights", str(folder / name)]

        cases.append(Case(f"checkpoint-{name}", build, names=names))

    def malicious(folder: Path) -> list[str]:
        (folder / "evil.pth").write_bytes(pickle.dumps(_CreatesAFile(folder / "pwned")))
        Image.new("RGB", (32, 32)).save(folder / "a.png")
        return [str(folder / "a.png"), str(folder / "a.png"), "-o", str(folder / "out/mid.png"),
                "--model", CHECKPOINT_MODEL, "--backend", "torch", "--weights", str(folder / "evil.pth")]

    cases.append(Case("checkpoint-pickle-creates-a-file", malicious, names="evil.pth"))
    return cases


ONE = struct.pack("<f", 1.0)  # the external data of blend_onnx


def blend_onnx(external: str | None = None) -> bytes:
    """A frame0/frame1/t → output blend in ONNX; with `external`, a factor of 1 in it is stored as
    external data (the 4 bytes ONE) at that location."""
    from onnx import TensorProto, helper

    shape = helper.make_tensor("shape", TensorProto.INT64, [4], [-1, 1, 1, 1])
    one = helper.make_tensor("one", TensorProto.FLOAT, [1], [1.0])
    if external is not None:
        one.ClearField("float_data")
        one.data_location = TensorProto.EXTERNAL
        for key, value in (("location", external), ("offset", "0"), ("length", "4")):
            entry = one.external_data.add()
            entry.key, entry.value = key, value
    frame = lambda name: helper.make_tensor_value_info(name, TensorProto.FLOAT, ["N", 3, "H", "W"])  # noqa: E731
    graph = helper.make_graph(
        [helper.make_node("Reshape", ["t", "shape"], ["t4"]), helper.make_node("Sub", ["frame1", "frame0"], ["d"]),
         helper.make_node("Mul", ["d", "t4"], ["dt"]), helper.make_node("Mul", ["dt", "one"], ["dt1"]),
         helper.make_node("Add", ["frame0", "dt1"], ["output"])],
        "blend", [frame("frame0"), frame("frame1"), helper.make_tensor_value_info("t", TensorProto.FLOAT, ["N"])],
        [frame("output")], [shape, one],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model.SerializeToString()


def onnx_cases(rng: np.random.Generator) -> list[Case]:
    valid = blend_onnx()

    def case(name: str, make: Callable[[Path], None], outcomes=frozenset({BAD_INPUT}), outside: bool = False) -> Case:
        def build(folder: Path) -> list[str]:
            (folder / "models").mkdir()
            make(folder)
            Image.new("RGB", (8, 8)).save(folder / "a.png")
            return [str(folder / "a.png"), str(folder / "a.png"), "-o", str(folder / "out/mid.png"),
                    "--onnx", str(folder / "models" / f"{name}.onnx")]

        return Case(f"onnx-{name}", build, frozenset(outcomes), "outside the model's folder; refused" if outside else name)

    def write(name: str, data: bytes) -> Callable[[Path], None]:
        return lambda folder: (folder / "models" / f"{name}.onnx").write_bytes(data)

    cases = [case("random", write("random", rng.integers(0, 256, 3000, np.uint8).tobytes())),
             case("empty-graph", write("empty-graph", b"")),
             case("valid", write("valid", valid), {OK})]
    for i, position in enumerate(rng.random(30)):
        name = f"flipped-{i}"
        cases.append(case(name, write(name, _bit_flip(float(position), int(rng.integers(8)))(valid)), {OK, BAD_INPUT}))
    for i, fraction in enumerate((0.1, 0.5, 0.9)):
        name = f"truncated-{i}"
        cases.append(case(name, write(name, valid[: int(fraction * len(valid))])))

    def outside(location: Callable[[Path], str], name: str) -> Callable[[Path], None]:
        def make(folder: Path) -> None:
            secret = folder / "secret.bin"
            secret.write_bytes(ONE)
            (folder / "models" / f"{name}.onnx").write_bytes(blend_onnx(location(folder)))

        return make

    def linked_out(folder: Path) -> None:
        (folder / "secret.bin").write_bytes(ONE)
        (folder / "models" / "weights.bin").symlink_to(folder / "secret.bin")
        (folder / "models" / "external-link-out.onnx").write_bytes(blend_onnx("weights.bin"))

    cases += [
        case("external-absolute", outside(lambda folder: str(folder / "secret.bin"), "external-absolute"), outside=True),
        case("external-dotdot", outside(lambda folder: "../secret.bin", "external-dotdot"), outside=True),
        case("external-dotdot-deep", outside(lambda folder: "sub/../../secret.bin", "external-dotdot-deep"), outside=True),
        case("external-link-out", linked_out, outside=True),
        case("external-missing", lambda folder: (folder / "models" / "external-missing.onnx").write_bytes(blend_onnx("gone.bin"))),
    ]

    def inside(folder: Path) -> None:
        (folder / "models" / "weights.bin").write_bytes(ONE)
        (folder / "models" / "external-inside.onnx").write_bytes(blend_onnx("weights.bin"))

    cases.append(case("external-inside", inside, {OK}))
    return cases


SIDECAR = {
    "onnx_sha256": "ab" * 32, "onnx_path": "model.onnx", "precision": "fp16",
    "profile": {"min": [64, 64], "opt": [360, 640], "max": [1080, 1920]}, "tensorrt_version": "10.13.0",
    "gpu_name": "NVIDIA H200", "compute_capability": "9.0", "plugin_sha256": None, "vfi_version": "0.1.0",
}


def engine_cases() -> list[Case]:
    import hashlib

    engine_bytes = b"serialized engine bytes"
    digest = hashlib.sha256(engine_bytes).hexdigest()
    complete = {**SIDECAR, "engine_sha256": digest}
    sidecars: dict[str, str | None] = {
        "no-sidecar": None,
        "empty-sidecar": "",
        "not-json": "{profile: nope",
        "json-list": "[1, 2]",
        "json-null": "null",
        "missing-keys": json.dumps({"engine_sha256": digest}),
        "wrong-sha": json.dumps({**complete, "engine_sha256": "00" * 32}),
        "profile-not-a-dict": json.dumps({**complete, "profile": "360x640"}),
        "profile-missing-max": json.dumps({**complete, "profile": {"min": [64, 64]}}),
        "profile-bad-numbers": json.dumps({**complete, "profile": {"min": ["a", None], "max": [1, 2]}}),
        "sha-not-a-string": json.dumps({**complete, "engine_sha256": 12}),
        "binary-sidecar": "\udcff\udcfe",
        "other-machine": json.dumps({**complete, "gpu_name": "a GPU from elsewhere", "tensorrt_version": "1.0"}),
    }
    cases = []
    for name, sidecar in sidecars.items():
        def build(folder: Path, name=name, sidecar=sidecar) -> list[str]:
            engine = folder / f"{name}.engine"
            engine.write_bytes(engine_bytes)
            if sidecar is not None:
                (folder / f"{name}.engine.json").write_bytes(sidecar.encode("utf-8", "surrogateescape"))
            Image.new("RGB", (64, 64)).save(folder / "a.png")
            return [str(folder / "a.png"), str(folder / "a.png"), "-o", str(folder / "out/mid.png"), "--engine", str(engine)]

        cases.append(Case(f"engine-{name}", build, names=name))
    return cases


def option_cases() -> list[Case]:
    def with_clip(*extra: str, output: str | None = None):
        def build(folder: Path) -> list[str]:
            clip = folder / "in.mkv"
            write_clip(clip, _frames(np.random.default_rng(6), 3), codec="ffv1")
            target = str(folder / (output if output is not None else OUT))
            return [str(clip), target, *TOY, "--json", *extra]

        return build

    cases = []
    for value in ("0", "-1", "1", "1.5", "abc", "1000000"):
        cases.append(Case(f"factor-{value}", with_clip("--factor", value), names="factor"))
    for value in ("0", "-30", "abc", "1/0", "0/1", "nan", "inf", "1e400", "30/-1"):
        cases.append(Case(f"fps-{value}", with_clip("--fps", value), names="fps"))
    for value in ("0", "-1", "abc"):
        cases.append(Case(f"batch-size-{value}", with_clip("--batch-size", value), names="batch"))
        cases.append(Case(f"threads-{value}", with_clip("--threads", value), names="threads"))
        cases.append(Case(f"max-pixels-{value}", with_clip("--max-pixels", value), names="max-pixels"))
    for value in ("-1", "100", "abc"):
        cases.append(Case(f"crf-{value}", with_clip("--crf", value), names="crf"))
    for value in ("0", "-5M", "lots"):
        cases.append(Case(f"bitrate-{value}", with_clip("--bitrate", value), names="bitrate"))
    cases += [
        Case("fps-below-input", with_clip("--fps", "1/1000"), frozenset({OK, BAD_INPUT}), "fps"),
        Case("factor-1000", with_clip("--factor", "1000", "--codec", "ffv1"), frozenset({OK, BAD_INPUT}), "factor"),
        Case("scene-threshold-nan", with_clip("--scene-threshold", "nan"), names="scene-threshold"),
        Case("scene-threshold-negative", with_clip("--scene-threshold", "-1"), names="scene-threshold"),
        Case("pix-fmt-unknown", with_clip("--pix-fmt", "nope"), names="nope"),
        Case("pix-fmt-alpha", with_clip("--pix-fmt", "yuva420p"), names="yuva420p"),
        Case("preset-unknown", with_clip("--preset", "warp9"), names="warp9"),
        Case("output-is-input", with_clip(output="in.mkv"), names="in.mkv"),
        Case("output-folder-missing", with_clip(output="nowhere/out.mp4"), names="nowhere"),
        Case("output-is-a-folder", with_clip(output="out"), names="out"),
        Case("output-unknown-extension", with_clip(output="out/out.xyz"), names="out.xyz"),
        Case("output-no-extension", with_clip(output="out/out"), names="out"),
        Case("output-png-for-video", with_clip(output="out/out.png"), frozenset({OK, BAD_INPUT}), "out.png"),
    ]
    return cases


def corpus() -> list[Case]:
    rng = np.random.default_rng(SEED)
    families = (
        ("damaged video", lambda: damaged_video_cases(rng)),
        ("junk files", lambda: junk_file_cases(rng)),
        ("formats, sizes, timestamps", format_cases),
        ("audio only", audio_only_cases),
        ("y4m headers", lambda: y4m_header_cases(rng)),
        ("y4m on stdin", y4m_pipe_cases),
        ("images", lambda: image_cases(rng)),
        ("checkpoints", lambda: checkpoint_cases(rng)),
        ("ONNX files", lambda: onnx_cases(rng)),
        ("engine sidecars", engine_cases),
        ("options and paths", option_cases),
    )
    return [replace(case, family=family) for family, generate in families for case in generate()]
