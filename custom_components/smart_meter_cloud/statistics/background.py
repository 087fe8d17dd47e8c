"""An entry's job that runs in the background, never twice at once.

Asked again while it runs, it runs once more when done: what came in the
meantime is not left waiting for the next update.
"""

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant, callback


class BackgroundJob:
    """Runs `job(first)` in the entry's background; `first` on its first run."""

    def __init__(
        self,
        hass: HomeAssistant,
        entry: ConfigEntry,
        name: str,
        job: Callable[[bool], Coroutine[Any, Any, None]],
    ) -> None:
        """Nothing runs before `async_schedule`."""
        self.hass = hass
        self.entry = entry
        self.name = name
        self.job = job
        self.task: asyncio.Task[None] | None = None
        self._again = False

    @callback
    def async_schedule(self) -> None:
        """Run now, or once more after the run under way."""
        if self.task is not None and not self.task.done():
            self._again = True
            return
        first = self.task is None
        self.task = self.entry.async_create_background_task(
            self.hass, self._async_run(first), self.name
        )

    async def _async_run(self, first: bool) -> None:
        self._again = False
        await self.job(first)
        while self._again:
            self._again = False
            await self.job(False)
