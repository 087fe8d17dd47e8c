"""What every cloud supplies to the integration, and what its forms share.

Each cloud is one module in this package that satisfies `Provider` (a module
can: its constants and functions are the members), registered in
`providers/__init__.py`. The flow, setup, unload, system health and
diagnostics loop over the registry and name no cloud. A module here stays
light: the first form imports it, so its client (and oauthlib) is imported
only inside the functions that need it.
"""

from collections.abc import Mapping
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Protocol

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import section
from homeassistant.helpers.importlib import async_import_module
from homeassistant.helpers.selector import (
    TextSelector,
    TextSelectorConfig,
    TextSelectorType,
)
import probatio as vol

if TYPE_CHECKING:
    from ..api.models import MeterClient
    from ..coordinator import SmartMeterCoordinator

SECTION_ADVANCED = "advanced"

EMAIL = TextSelector(
    TextSelectorConfig(type=TextSelectorType.EMAIL, autocomplete="username")
)
PASSWORD = TextSelector(
    TextSelectorConfig(type=TextSelectorType.PASSWORD, autocomplete="current-password")
)
URL = TextSelector(TextSelectorConfig(type=TextSelectorType.URL))
TEXT = TextSelector()


def advanced(*fields: str) -> section:
    """Addresses for testing and the simulators, folded away."""
    return section(
        vol.Schema({vol.Optional(field): URL for field in fields}),
        {"collapsed": True},
    )


async def async_import_client(hass: HomeAssistant, name: str) -> None:
    """Import a cloud's client package in `api/`, and oauthlib with it, off the loop.

    Only once a form is submitted: the first form, shown right after Home
    Assistant starts, needs neither.
    """
    await async_import_module(hass, f"{__name__.rsplit('.', 2)[0]}.api.{name}")


class FormError(Exception):
    """What the user typed cannot work: show `key` at `field` of the form."""

    def __init__(self, field: str, key: str) -> None:
        """Name the form field and the translated error."""
        super().__init__(key)
        self.field = field
        self.key = key


class NoMetersError(Exception):
    """The account has no meter we could show."""


class PushReceiver(Protocol):
    """Takes a cloud's pushes for one entry, from setup to unload."""

    async def async_register(self) -> None:
        """Receive from the start of setup; hold what comes until started."""

    def async_unregister(self) -> None:
        """Stop receiving: setup failed."""

    async def async_start(self) -> None:
        """Apply what came during setup; ask the cloud to push."""

    async def async_stop(self) -> None:
        """Ask the cloud to stop pushing, and stop receiving."""

    def diagnostics(self) -> dict[str, Any]:
        """What the receiver knows, for diagnostics (redacted there)."""


class Provider(Protocol):
    """A cloud: its forms, its client, its account's identity and its checks."""

    @property
    def ID(self) -> str:
        """Stored in the entry; names its steps, devices, entities, statistics."""

    @property
    def DEFAULT_INTERVAL(self) -> timedelta:
        """How often its meters are polled unless the options say otherwise."""

    @property
    def SCHEMA(self) -> vol.Schema:
        """The sign-in form, for adding and for reconfiguring an account."""

    @property
    def REAUTH_SCHEMA(self) -> vol.Schema:
        """What a re-authentication asks for again."""

    @property
    def INVALID_AUTH(self) -> str:
        """The form error when the cloud refuses the credentials."""

    @property
    def SECRETS(self) -> frozenset[str]:
        """Form fields never shown again from the stored entry."""

    @property
    def ADVANCED_FIELDS(self) -> tuple[str, ...]:
        """Stored flat, shown folded in the form's advanced section."""

    @property
    def KEPT(self) -> tuple[str, ...]:
        """Entry data the integration keeps for itself across new sign-ins."""

    @property
    def REDACT(self) -> frozenset[str]:
        """Keys of its entry data and records that diagnostics never show."""

    @property
    def HEALTH_KEY(self) -> str:
        """System health's translation key for whether its API answers."""

    async def async_validate(
        self, hass: HomeAssistant, user_input: Mapping[str, Any]
    ) -> dict[str, Any]:
        """Sign in with a form's input; return the entry data to store.

        Raises FormError, NoMetersError, or the clients' errors.
        """

    def unique_id(self, data: Mapping[str, Any]) -> str:
        """One entry per account."""

    def title(self, data: Mapping[str, Any]) -> str:
        """Tell accounts apart without personal data: Home Assistant logs it."""

    def api_url(self, data: Mapping[str, Any]) -> str:
        """Where its API answers, for system health."""

    def create_client(
        self, hass: HomeAssistant, data: Mapping[str, Any]
    ) -> MeterClient:
        """Build its client from an entry's stored data."""

    def push_receiver(
        self,
        hass: HomeAssistant,
        entry: ConfigEntry,
        coordinator: SmartMeterCoordinator,
        client: MeterClient,
    ) -> PushReceiver | None:
        """The receiver of its pushes; None for a cloud that only is polled."""

    async def async_remove_entry(self, hass: HomeAssistant, entry: ConfigEntry) -> None:
        """Delete what a removed entry leaves at the cloud; never raises."""


def no_push_receiver(
    hass: HomeAssistant,
    entry: ConfigEntry,
    coordinator: SmartMeterCoordinator,
    client: MeterClient,
) -> PushReceiver | None:
    """The `push_receiver` of a cloud that is only polled."""
    return None


async def async_nothing_to_remove(hass: HomeAssistant, entry: ConfigEntry) -> None:
    """The `async_remove_entry` of a cloud that keeps nothing of a removed entry."""
