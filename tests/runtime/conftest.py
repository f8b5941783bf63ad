from __future__ import annotations

import pytest

import toy_models


@pytest.fixture
def toy_registered(monkeypatch):
    """The toy models, registered for one test (modules opt in with `pytestmark`)."""
    from vfi.models import MODELS

    for card in toy_models.CARDS:
        monkeypatch.setitem(MODELS, card.name, card)
