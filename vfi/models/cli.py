"""`vfi models`: the registered models and their cards."""

from __future__ import annotations

import dataclasses
import json


def add_arguments(parser) -> None:
    parser.add_argument("--json", action="store_true", help="print the cards as JSON")


def run(args) -> int:
    from vfi.models import MODELS

    if args.json:
        cards = [{k: v for k, v in dataclasses.asdict(card).items() if k != "build"} for card in MODELS.values()]
        print(json.dumps(cards, indent=2))
        return 0
    print(f"{'model':<28} {'any t':<6} {'pad':>4} {'min':>4}  {'ops':<22} {'checkpoint':<26} {'Middlebury':>10}")
    for card in MODELS.values():
        psnr = f"{card.published_middlebury_psnr:.2f} dB" if card.published_middlebury_psnr else "—"
        print(
            f"{card.name:<28} {'yes' if card.arbitrary_t else 'no':<6} {card.pad_multiple:>4} {card.min_size:>4}  "
            f"{', '.join(card.ops):<22} {card.checkpoint_manifest or '—':<26} {psnr:>10}"
        )
        print(f"    {card.summary}")
    return 0
