"""The clouds the integration brings in: one module each, and their registry.

Adding a cloud: its client package in `api/`, a provider module here, its
translations, and one line below.
"""

from typing import Final

from . import inexogy, ready
from .base import Provider

PROVIDERS: Final[dict[str, Provider]] = {
    inexogy.ID: inexogy,
    ready.ID: ready,
}
