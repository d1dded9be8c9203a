"""The sandbox's own state next to moto's: delivery, faults, meter, events, regions, SSO."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from .delivery import DeliveryEngine
from .events import EventStore
from .faults import FaultTable
from .metering import RequestMeter
from .regions import RegionTable
from .sso import SsoPortal


@dataclass
class Emulation:
    """Everything the middleware adds to moto, shared by request threads and control calls."""

    delivery: DeliveryEngine
    faults: FaultTable = field(default_factory=FaultTable)
    meter: RequestMeter = field(default_factory=RequestMeter)
    events: EventStore = field(default_factory=EventStore)
    regions: RegionTable = field(default_factory=RegionTable)
    sso: SsoPortal = field(default_factory=SsoPortal)
    started_at: float = field(default_factory=time.time)
    #: Seconds the estate's clock runs ahead of the machine's. STS and SSO session
    #: expirations follow it, so a test can let an hour pass without waiting for it.
    clock_offset: float = 0.0
    #: Seconds a kept-alive connection may wait for its next request before the server
    #: closes it (and ends its thread); applies to connections opened after a change.
    idle_timeout: float = 30.0

    @classmethod
    def create(cls, delivery_interval: float, lookup_events_rps: float | None = 2.0) -> Emulation:
        return cls(
            delivery=DeliveryEngine(delivery_interval),
            events=EventStore(lookup_rps=lookup_events_rps),
        )
