"""The sandbox's own state next to moto's: delivery, faults, meter, events, regions."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from .delivery import DeliveryEngine
from .events import EventStore
from .faults import FaultTable
from .metering import RequestMeter
from .regions import RegionTable


@dataclass
class Emulation:
    """Everything the middleware adds to moto, shared by request threads and control calls."""

    delivery: DeliveryEngine
    faults: FaultTable = field(default_factory=FaultTable)
    meter: RequestMeter = field(default_factory=RequestMeter)
    events: EventStore = field(default_factory=EventStore)
    regions: RegionTable = field(default_factory=RegionTable)
    started_at: float = field(default_factory=time.time)

    @classmethod
    def create(cls, delivery_interval: float, lookup_events_rps: float | None = 2.0) -> Emulation:
        return cls(
            delivery=DeliveryEngine(delivery_interval),
            events=EventStore(lookup_rps=lookup_events_rps),
        )
