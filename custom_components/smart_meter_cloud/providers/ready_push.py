"""READY's pushes: webhooks, the subscription's lifecycle and its repairs."""

import asyncio
from collections.abc import Callable, Collection, Coroutine
import contextlib
import json
import logging
from typing import Any, Final

from aiohttp import web
from homeassistant.components import webhook
from homeassistant.config_entries import ConfigEntry
from homeassistant.const import CONF_API_KEY, EVENT_CORE_CONFIG_UPDATE
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.event import async_call_later
from homeassistant.helpers.network import NoURLAvailableError
from homeassistant.helpers.storage import Store
from homeassistant.util import dt as dt_util
from homeassistant.util.json import json_loads
from yarl import URL

from ..api.errors import InvalidResponseError, SmartMeterCloudError
from ..api.ready import (
    ACTIVE,
    SIGNATURE_HEADER,
    AlarmsPush,
    DataPush,
    ReadingsPush,
    ReadyClient,
    Verification,
    parse_data_push,
    parse_status_push,
    signature_valid,
    verification_hash,
)
from ..const import DOMAIN
from ..coordinator import SmartMeterCoordinator
from ..ids import issue_id, store_key

_LOGGER = logging.getLogger(__name__)

# 10,000 readings are about 4 MB; anything far beyond is not READY.
MAX_BODY: Final = 16 * 1024 * 1024
# Delivery ids remembered, across restarts, to apply a redelivery only once:
# this many, each for this long.
REMEMBERED_DELIVERIES: Final = 10_000
REMEMBER_FOR: Final = 7 * 24 * 3600.0
# Pushes taken while the entry is still setting up, applied once it is.
QUEUED_PUSHES: Final = 1_000
# How long a verification that arrives before READY answered our subscribe
# request waits for that answer, to know the subscription is ours.
CREATE_WAIT: Final = 10.0
# How long READY may take to verify a new subscription before we look.
VERIFY_TIMEOUT: Final = 60.0
RETRY_FIRST: Final = 60.0
RETRY_MAX: Final = 3600.0

ISSUE_NO_URL: Final = "no_external_url"
ISSUE_SUBSCRIPTION: Final = "subscription_failed"


class ReadyPushes:
    """Receives READY's pushes for one config entry and keeps it subscribed."""

    def __init__(
        self,
        hass: HomeAssistant,
        entry: ConfigEntry,
        coordinator: SmartMeterCoordinator,
        client: ReadyClient,
        webhook_ids: tuple[str, str],
        remember_cloudhooks: Callable[[tuple[str, str]], None],
    ) -> None:
        """Prepare; nothing is registered before `async_start`."""
        self.hass = hass
        self.entry = entry
        self.coordinator = coordinator
        self.client = client
        self.data_id, self.status_id = webhook_ids
        self.subscription_id: str | None = None
        self.status: str | None = None
        self._subscribing = False
        # Set once READY answered the subscribe request in flight.
        self._created = asyncio.Event()
        # Delivery id -> when it came (epoch seconds), oldest first.
        self._delivered: dict[str, float] = {}
        self._store: Store[dict[str, float]] = Store(
            hass, 1, _deliveries_key(entry), private=True
        )
        # A cloudhook's address does not name its webhook, and the entry may
        # be removed when Home Assistant Cloud cannot be asked: the entry
        # keeps the cloudhooks READY is given, to find the subscription.
        self._remember_cloudhooks = remember_cloudhooks
        self._queued: list[ReadingsPush | AlarmsPush] | None = []
        self._retry_delay = RETRY_FIRST
        self._cancel: Callable[[], None] | None = None
        self._unlisten: list[Callable[[], None]] = []
        self.last_payloads: dict[str, Any] = {}

    def diagnostics(self) -> dict[str, Any]:
        """Whether READY pushes to us, and what its last pushes looked like."""
        return {
            "subscribed": self.subscription_id is not None,
            "status": self.status,
            "last_payloads": self.last_payloads,
        }

    @property
    def _api_key(self) -> str:
        return str(self.entry.data[CONF_API_KEY])

    async def async_register(self) -> None:
        """Receive pushes from the start of setup; queue them until it is done.

        Home Assistant answers 200 to a webhook nobody registered, so a push
        arriving while the entry sets up would otherwise be lost.
        """
        now = dt_util.utcnow().timestamp()
        stored = await self._store.async_load() or {}
        self._delivered = {
            delivery_id: at
            for delivery_id, at in stored.items()
            if now - at < REMEMBER_FOR
        }
        for webhook_id, name, handler in (
            (self.data_id, "READY data", self._handle_data),
            (self.status_id, "READY status", self._handle_status),
        ):
            webhook.async_register(
                self.hass, DOMAIN, name, webhook_id, handler, allowed_methods=["POST"]
            )

    @callback
    def async_unregister(self) -> None:
        """Stop receiving: setup failed, or the entry unloads."""
        webhook.async_unregister(self.hass, self.data_id)
        webhook.async_unregister(self.hass, self.status_id)

    async def async_start(self) -> None:
        """Apply what came during setup, then subscribe."""
        queued, self._queued = self._queued or [], None
        for push in queued:
            self._apply(push)
        # An external URL set, or Home Assistant Cloud connected, later on.
        self._unlisten.append(
            self.hass.bus.async_listen(EVENT_CORE_CONFIG_UPDATE, self._on_reachable)
        )
        if "cloud" in self.hass.config.components:
            from homeassistant.components import cloud

            self._unlisten.append(
                cloud.async_listen_connection_change(self.hass, self._on_reachable)
            )
        await self._async_subscribe()

    async def async_stop(self) -> None:
        """Unsubscribe and unregister; READY then stops pushing to us."""
        self._cancel_timer()
        while self._unlisten:
            self._unlisten.pop()()
        if self.subscription_id is not None:
            try:
                await self.client.delete_subscription(self.subscription_id)
            except SmartMeterCloudError as err:
                _LOGGER.warning("Could not delete the READY subscription: %s", err)
            self.subscription_id = None
        self.async_unregister()
        await self._store.async_save(self._delivered)

    async def _async_urls(self) -> tuple[str, str] | None:
        """Public URLs of both webhooks: a cloudhook if we can, else external."""
        if "cloud" in self.hass.config.components:
            # Imported only when loaded: it pulls in half of Home Assistant.
            from homeassistant.components import cloud

            if cloud.async_active_subscription(self.hass):
                urls = (
                    await cloud.async_get_or_create_cloudhook(self.hass, self.data_id),
                    await cloud.async_get_or_create_cloudhook(
                        self.hass, self.status_id
                    ),
                )
                self._remember_cloudhooks(urls)
                return urls
        try:
            return tuple(  # type: ignore[return-value]
                webhook.async_generate_url(
                    self.hass, webhook_id, allow_internal=False, allow_ip=True
                )
                for webhook_id in (self.data_id, self.status_id)
            )
        except NoURLAvailableError:
            return None

    async def _async_subscribe(self) -> None:
        """Subscribe, replacing any subscription of ours READY still has."""
        self._cancel_timer()
        urls = await self._async_urls()
        if urls is None:
            _LOGGER.warning(
                "No external URL: READY cannot push, polling keeps meters current"
            )
            self._issue(ISSUE_NO_URL)
            return
        ir.async_delete_issue(self.hass, DOMAIN, issue_id(ISSUE_NO_URL, self.entry))
        self._subscribing = True
        self._created.clear()
        try:
            for old in await self.client.subscriptions():
                if old.webhook_uri in urls or old.id == self.subscription_id:
                    await self.client.delete_subscription(old.id)
            self.subscription_id = self.status = None
            self.subscription_id = await self.client.create_subscription(*urls)
        except SmartMeterCloudError as err:
            _LOGGER.warning("Could not subscribe to READY pushes: %s", err)
            self._schedule_retry()
        else:
            self._schedule(VERIFY_TIMEOUT, self._async_check)
        finally:
            self._subscribing = False
            self._created.set()

    async def _async_check(self) -> None:
        """Ask READY itself how our subscription is.

        A status post signed with a key we do not know never convinces us, so
        a failed handshake shows up here rather than there.
        """
        try:
            listed = await self.client.subscriptions()
        except SmartMeterCloudError as err:
            _LOGGER.debug("Cannot check the READY subscription: %s", err)
            self._schedule(VERIFY_TIMEOUT, self._async_check)
            return
        status = next((s.status for s in listed if s.id == self.subscription_id), None)
        self._set_status(status or "Deleted", "")

    def _set_status(self, status: str, reason: str) -> None:
        """Clear the repair when active; otherwise raise it and subscribe again."""
        if status == self.status == ACTIVE:
            return
        self.status = status
        if status == ACTIVE:
            _LOGGER.info("READY pushes are active")
            self._cancel_timer()
            self._retry_delay = RETRY_FIRST
            ir.async_delete_issue(
                self.hass, DOMAIN, issue_id(ISSUE_SUBSCRIPTION, self.entry)
            )
            return
        _LOGGER.warning("READY subscription is %s %s", status, reason)
        self._issue(ISSUE_SUBSCRIPTION, status=status)
        self._schedule_retry()

    def _schedule_retry(self) -> None:
        delay = self._retry_delay
        self._retry_delay = min(self._retry_delay * 2, RETRY_MAX)
        self._schedule(delay, self._async_subscribe)

    def _schedule(
        self, delay: float, job: Callable[[], Coroutine[Any, Any, None]]
    ) -> None:
        """Run one subscription job later; a newer one replaces it."""
        self._cancel_timer()

        @callback
        def run(_: Any) -> None:
            self._cancel = None
            self.entry.async_create_background_task(
                self.hass, job(), "smart_meter_cloud subscription"
            )

        self._cancel = async_call_later(self.hass, delay, run)

    def _cancel_timer(self) -> None:
        if self._cancel is not None:
            self._cancel()
            self._cancel = None

    @callback
    def _on_reachable(self, _: Any) -> None:
        """Pushes may have become possible: try again if we had no URL."""
        if self.subscription_id is None and not self._subscribing:
            self.entry.async_create_background_task(
                self.hass, self._async_subscribe(), "smart_meter_cloud subscribe"
            )

    async def _handle_data(
        self, hass: HomeAssistant, webhook_id: str, request: web.Request
    ) -> web.Response:
        checked = await self._checked(
            request, self._parse_data, signature_required=False
        )
        if isinstance(checked, web.Response):
            return checked
        push, data, signed = checked
        if isinstance(push, Verification):
            return await self._answer_verification(push)
        # Data must be signed; only the challenge may come without.
        if not signed:
            return _refuse(401, "unsigned")
        self.last_payloads[type(push).__name__] = _shape(data)
        if not push.delivery_id:
            return _refuse(400, "no delivery id")
        if push.delivery_id in self._delivered:
            return web.json_response({"status": "duplicate"})
        self._remember(push.delivery_id)
        if self._queued is not None:
            if len(self._queued) >= QUEUED_PUSHES:
                return _refuse(503, "still setting up")  # READY delivers again
            self._queued.append(push)
            return web.json_response({"status": "queued"})
        self._apply(push)
        return web.json_response({"status": "ok"})

    def _parse_data(self, data: dict[str, Any]) -> DataPush:
        """Read readings and alarms by their meter's kind.

        That of every meter listed, and of those kept while missing from the
        list.
        """
        known = self.coordinator.available_meters | self.coordinator.meters
        return parse_data_push(data, {i: m.medium for i, m in known.items()})

    def _apply(self, push: ReadingsPush | AlarmsPush) -> None:
        if isinstance(push, ReadingsPush):
            self.coordinator.async_push_readings(push.readings)
        else:
            self.coordinator.async_push_alarms(push.alarms)

    async def _answer_verification(self, push: Verification) -> web.Response:
        """Prove we hold the API key, for our own pending subscription only.

        Hashing whatever token arrives would let anyone have us sign a forged
        push, so answer only for the subscription READY's answer to our
        subscribe request named, while it awaits verification, and never for
        a token that looks like a JSON body. A challenge that comes before
        that answer waits for it.
        """
        if self._subscribing:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(CREATE_WAIT):
                    await self._created.wait()
        pending = push.subscription_id == self.subscription_id and (
            self.status != ACTIVE
        )
        if not pending or push.token.lstrip().startswith(("{", "[")):
            return _refuse(403, "no verification expected")
        return web.json_response(
            {"verificationHash": verification_hash(self._api_key, push.token)}
        )

    async def _handle_status(
        self, hass: HomeAssistant, webhook_id: str, request: web.Request
    ) -> web.Response:
        checked = await self._checked(
            request, parse_status_push, signature_required=True
        )
        if isinstance(checked, web.Response):
            return checked
        status, data, _ = checked
        self.last_payloads["StatusPush"] = _shape(data)
        if self.subscription_id not in (None, status.subscription_id):
            return web.json_response({"status": "not ours"})
        self._set_status(status.status, status.reason)
        return web.json_response({"status": "ok"})

    async def _checked[T](
        self,
        request: web.Request,
        parse: Callable[[dict[str, Any]], T],
        *,
        signature_required: bool,
    ) -> tuple[T, dict[str, Any], bool] | web.Response:
        """Read, check the signature of and parse a body; or say why not.

        Returns what `parse` made of it, the JSON object and whether it was
        signed.
        """
        body = await _read(request)
        if isinstance(body, web.Response):
            return body
        signatures = request.headers.getall(SIGNATURE_HEADER, [])
        if len(signatures) > 1:
            return _refuse(400, "more than one signature")
        signature = signatures[0] if signatures else None
        if (signature is not None or signature_required) and not signature_valid(
            self._api_key, body, signature
        ):
            return _refuse(401, "signature mismatch")
        data = _json(body)
        if isinstance(data, web.Response):
            return data
        try:
            parsed = parse(data)
        except InvalidResponseError as err:
            return _refuse(400, str(err))
        return parsed, data, signature is not None

    def _remember(self, delivery_id: str) -> None:
        """Remember a delivery, saved soon: a restart must not apply it again."""
        now = dt_util.utcnow().timestamp()
        delivered = self._delivered
        delivered[delivery_id] = now
        # Oldest first: drop from the front only what is too many or too old,
        # without walking all 10,000 on every push.
        while delivered:
            oldest, at = next(iter(delivered.items()))
            if len(delivered) <= REMEMBERED_DELIVERIES and now - at < REMEMBER_FOR:
                break
            del delivered[oldest]
        self._store.async_delay_save(lambda: delivered, 10)

    def _issue(self, key: str, **placeholders: str) -> None:
        ir.async_create_issue(
            self.hass,
            DOMAIN,
            issue_id(key, self.entry),
            is_fixable=False,
            severity=ir.IssueSeverity.WARNING,
            translation_key=key,
            translation_placeholders={"title": self.entry.title, **placeholders},
        )


async def async_remove_pushes(
    hass: HomeAssistant,
    entry: ConfigEntry,
    client: ReadyClient,
    webhook_ids: Collection[str],
    cloudhooks: Collection[str],
) -> None:
    """Delete what a removed entry leaves: its READY subscription and cloudhooks.

    Also for an entry that is not loaded (disabled, or its setup failed), whose
    subscription an unload could not delete. Never raises: the entry goes
    anyway, and what cannot be deleted is logged.
    """
    await Store[dict[str, float]](hass, 1, _deliveries_key(entry)).async_remove()
    if not webhook_ids:
        return  # set up never far enough to subscribe
    paths = {f"/api/webhook/{webhook_id}" for webhook_id in webhook_ids}

    def ours(url: str) -> bool:
        # By path: the external URL may have changed since.
        return url in cloudhooks or _path(url) in paths

    try:
        for subscription in await client.subscriptions():
            if ours(subscription.webhook_uri) or ours(subscription.status_uri):
                await client.delete_subscription(subscription.id)
                _LOGGER.debug("Deleted the READY subscription of a removed entry")
    except SmartMeterCloudError as err:
        _LOGGER.warning(
            "Could not delete the READY subscription; delete it in READY "
            "Manager if READY keeps pushing: %s",
            err,
        )
    except Exception:  # the entry goes anyway
        _LOGGER.warning("Could not delete the READY subscription", exc_info=True)
    if "cloud" not in hass.config.components:
        return
    from homeassistant.components import cloud

    for webhook_id in webhook_ids:
        try:
            await cloud.async_delete_cloudhook(hass, webhook_id)
        except ValueError:
            pass  # never had one
        except cloud.CloudNotAvailable:
            _LOGGER.debug("Home Assistant Cloud is gone: no cloudhook to delete")
            return
        except Exception:  # the entry goes anyway
            _LOGGER.warning("Could not delete a cloudhook", exc_info=True)
        else:
            _LOGGER.debug("Deleted the cloudhook of a removed entry's webhook")


def _deliveries_key(entry: ConfigEntry) -> str:
    return store_key(entry, "deliveries")


def _path(url: str) -> str:
    try:
        return URL(url).path.rstrip("/")
    except ValueError:
        return ""


async def _read(request: web.Request) -> bytes | web.Response:
    """Read the body, refusing what is too large before reading it all."""
    if (request.content_length or 0) > MAX_BODY:
        return _refuse(413, "too large")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.content.iter_chunked(1 << 16):
        size += len(chunk)
        if size > MAX_BODY:
            return _refuse(413, "too large")
        chunks.append(chunk)
    return b"".join(chunks)


def _refuse(status: int, reason: str) -> web.Response:
    _LOGGER.debug("Refused a READY push (%s): %s", status, reason)
    return web.json_response({"error": reason}, status=status)


# Values worth seeing to fix a contract assumption; nothing personal.
_SHOWN_VALUES: Final = frozenset({"type", "register", "unit", "status"})
# READY's payloads nest four levels (push, readings, registers); deeper is shown
# as such, and a body nested thousands of levels deep cannot exhaust the stack.
_SHAPE_DEPTH: Final = 8


def _shape(value: Any, key: str = "", depth: int = 0) -> Any:
    """What a payload looked like, without its values, for diagnostics."""
    if depth > _SHAPE_DEPTH and isinstance(value, dict | list):
        return f"nested deeper than {_SHAPE_DEPTH}"
    if isinstance(value, dict):
        return {k: _shape(item, k, depth + 1) for k, item in value.items()}
    if isinstance(value, list):
        # Every distinct shape once (the registers of each kind of meter),
        # from a sample: a push may hold 10,000 readings.
        sample = value[:: max(1, len(value) // 50)]
        shapes = {
            json.dumps(_shape(item, "", depth + 1), sort_keys=True) for item in sample
        }
        return [json.loads(item) for item in sorted(shapes)] + [f"{len(value)} items"]
    if key in _SHOWN_VALUES and isinstance(value, str):
        return value
    return type(value).__name__


def _json(body: bytes) -> dict[str, Any] | web.Response:
    try:
        data = json_loads(body)
    except ValueError, RecursionError:  # nested deeper than the parser goes
        return _refuse(400, "not JSON")
    return data if isinstance(data, dict) else _refuse(400, "not an object")
