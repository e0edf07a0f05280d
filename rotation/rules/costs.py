"""What a secret's versions cost, at Secret Manager's list price. Pure.

Secret Manager bills every version that is ENABLED or DISABLED, per location, by the month;
DESTROYED versions are free ("Secret Manager pricing", read 2026-12: "$0.06 per version per
location" for active secret versions; automatic replication counts as one location; the first 6
active versions of a billing account are free, which is not counted here, as it is shared by
every secret on the account). When Google changes the price, change PRICE_PER_VERSION_MONTH
here: nothing else holds it.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

PRICE_PER_VERSION_MONTH = Decimal("0.06")  # US dollars per active version per location
PRICE_SOURCE = "Secret Manager pricing page, read 2026-12"


@dataclass(frozen=True)
class Cost:
    """The versions billed each month, in how many locations, and what that costs."""

    billed_versions: int
    billed_locations: int

    @property
    def monthly_usd(self) -> Decimal:
        return PRICE_PER_VERSION_MONTH * self.billed_versions * self.billed_locations

    def to_json(self) -> dict[str, object]:
        return {
            "billed_versions": self.billed_versions,
            "billed_locations": self.billed_locations,
            "monthly_usd": f"{self.monthly_usd:.2f}",
        }
