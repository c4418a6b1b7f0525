"""Per-feature additions to the shared registry tests, so each feature keeps its specs in its own file.

Every module here may define any of:
- ``FORM_SPECS: dict[str, FormSpec]`` — bad-input specs of its form routes (tests/core/forms_spec.py);
- ``URL_PARAMS: dict[str, Callable[[Jurisdiction], object]]`` — how to fill a URL parameter with a real object
  inside the requesting user's jurisdiction (tests/core/test_route_registry.py);
- ``SCREENS: list[Screen]`` — pages the browser test opens at both widths (tests/browser/test_pages.py).
Not test modules: nothing here is collected by pytest.
"""

from __future__ import annotations

import importlib
import pkgutil


def collect(attr: str) -> list:
    found = []
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{__name__}.{info.name}")
        if hasattr(module, attr):
            found.append(getattr(module, attr))
    return found
