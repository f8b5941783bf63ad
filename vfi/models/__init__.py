"""The interpolation models. MODELS maps each name to its card; every model takes RGB frames in
[0, 1] of any size (>= its card's min_size) and returns RGB, doing upstream's preprocessing
(channel order, normalisation, padding, cropping back) inside the graph."""

from __future__ import annotations

from pathlib import Path

import torch

from vfi.errors import VfiError
from vfi.models import adacof_net
from vfi.models import cdfi_net
from vfi.models import classic_net
from vfi.models import dsfn_net
from vfi.models import sepconv_net
from vfi.models import softsplat_net
from vfi.models.card import ModelCard
from vfi.models.weights import CheckpointError, load_weights

_CARDS: tuple[ModelCard, ...] = (
    *adacof_net.CARDS,
    *cdfi_net.CARDS,
    *classic_net.CARDS,
    *dsfn_net.CARDS,
    *sepconv_net.CARDS,
    *softsplat_net.CARDS,
)

MODELS: dict[str, ModelCard] = {card.name: card for card in _CARDS}


class UnknownModelError(VfiError, KeyError):
    def __str__(self) -> str:
        return self.args[0]


def get_card(name: str) -> ModelCard:
    try:
        return MODELS[name]
    except KeyError:
        raise UnknownModelError(f"unknown model {name!r}; known: {', '.join(MODELS)}") from None


def build(card: ModelCard, seed: int = 0) -> torch.nn.Module:
    """The architecture with weights initialised from `seed`, leaving the global RNG untouched."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return card.build().eval()


def load(name: str, weights: str | Path | None = None, seed: int = 0) -> torch.nn.Module:
    """The model `name` in eval mode: with the official checkpoint or safetensors file `weights`
    (strict key and shape matching), or with seeded random weights when `weights` is None."""
    card = get_card(name)
    model = build(card, seed)
    if weights is not None:
        load_weights(model, card, weights)
    return model


__all__ = ["MODELS", "CheckpointError", "ModelCard", "UnknownModelError", "build", "get_card", "load"]
