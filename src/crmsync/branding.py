"""What users read names the configured app (``settings.app_name``), never the product.

Provider texts (connect steps, advice, setup messages) are written once for every
installation and say "crmsync"; ``branded`` puts the app's name in their place where a user
reads them. Code, logs for operators and the CLI keep the product's name.
"""

from __future__ import annotations

import re

_PRODUCT = re.compile(r"(?<![\w./@-])crmsync(?![\w./@-])")


def branded(text: str, app_name: str) -> str:
    """``"crmsync cannot sync"`` → ``"Acme cannot sync"`` (names in URLs, ids and emails stay)."""
    return _PRODUCT.sub(app_name, text)
