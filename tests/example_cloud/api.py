"""The example cloud's client: one electricity meter, counting 1 kWh an hour."""

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from custom_components.smart_meter_cloud.api.errors import (
    AuthError,
    SmartMeterCloudError,
)
from custom_components.smart_meter_cloud.api.models import (
    Medium,
    Meter,
    Quantity,
    Reading,
)

METER = Meter(
    id="meter-1",
    medium=Medium.ELECTRICITY,
    manufacturer="Example",
    model=None,
    serial="EX0001",
    active=True,
)
TOKEN = "let-me-in"
START = datetime(2026, 1, 1, tzinfo=UTC)


def total_at(moment: datetime) -> float:
    """The meter's total: 1 kWh for every hour since the start of 2026."""
    return (moment - START) / timedelta(hours=1)


class ExampleClient:
    """Answers from memory, as a cloud would."""

    def __init__(self, token: str) -> None:
        """Take the account's token."""
        self.token = token
        self.now = datetime.now(UTC)

    def _check(self) -> None:
        if self.token != TOKEN:
            raise AuthError("wrong token")

    async def meters(self) -> list[Meter]:
        """The account's one meter."""
        self._check()
        return [METER]

    async def latest_readings(
        self, meters: Sequence[Meter]
    ) -> dict[str, Reading | SmartMeterCloudError]:
        """The total now."""
        self._check()
        now = datetime.now(UTC)
        return {
            meter.id: Reading(now, {Quantity.ENERGY_IMPORT: total_at(now)})
            for meter in meters
        }

    async def history(
        self, meter: Meter, start: datetime, end: datetime
    ) -> list[Reading]:
        """The total at each whole hour from start to end."""
        self._check()
        hour = start.replace(minute=0, second=0, microsecond=0)
        readings = []
        while hour <= end:
            readings.append(Reading(hour, {Quantity.ENERGY_IMPORT: total_at(hour)}))
            hour += timedelta(hours=1)
        return readings
