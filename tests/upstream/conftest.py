"""Every test of this folder compares a model with the official code (`upstream_helpers`)."""

import pytest


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/upstream/" in str(item.fspath).replace("\\", "/"):
            item.add_marker(pytest.mark.upstream)
