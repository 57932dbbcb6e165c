"""Seeded, realistic app traffic as the Segment iOS and Android SDKs send it.

One call to :func:`generate_day` gives a day of tracking messages from the "Example Shop" app.
The device population is a world that holds across days: each day about a tenth of the active
devices install the app (``Application Installed``, then ``Application Opened``), the rest are
earlier installs that come back with a probability falling with the time since install, so
install cohorts retain realistically and a device keeps its ids from one day to the next.

Devices are real iPhones and Android phones (manufacturer, model, screen, OS version fitting
the model) in several markets (locale, time zone, carriers); sessions start on a diurnal
curve of the device's local time. A session is a walk over the app's screens (Home, Search,
Product, Cart, Checkout, Profile, Settings) with shop events on the way (``Products Searched``,
``Product Viewed``, ``Added to Cart``, ``Checkout Started``, ``Order Completed``) and ends with
``Application Backgrounded``; some users come back within 30 minutes (``Application Opened``
with ``from_background``, the same session) or later (a new one). Users who sign in get
``identify`` calls with traits, and their ``userId`` stays on the device's later messages.

Releases roll out in phases (1 % of devices on the release day, all of them on the seventh),
and devices install a version they are offered after their own delay (most overnight, some
weeks later, a few never), then send ``Application Updated`` with ``previous_version`` at
their next launch. Release 3.5.0 crashes often on Android (``Application Crashed``, usually
followed by a new cold ``Application Opened``). A few devices are often offline and send
their queue in batches hours or days later (``sentAt`` then, ``originalTimestamp`` when it
happened), and a few have skewed clocks, which ``sentAt`` and ``originalTimestamp`` share.

The messages come in the order the collector would receive them (by real send time). The
output depends only on ``(day, devices, seed)``: ids and choices come from seeded generators.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from itertools import accumulate
from typing import Any, Literal
from zoneinfo import ZoneInfo

from lakehouse_events.generation import iso_millis, public_ip, seeded_uuid, unit_hash, weighted_choice

Platform = Literal["ios", "android"]

APP_NAME = "Example Shop"
APP_NAMESPACE = "com.example.shop"
LIBRARIES: dict[Platform, dict[str, str]] = {
    "ios": {"name": "analytics-ios", "version": "4.1.8"},
    "android": {"name": "analytics-android", "version": "4.11.3"},
}
OS_NAMES: dict[Platform, str] = {"ios": "iOS", "android": "Android"}
PLATFORM_WEIGHTS: dict[Platform, float] = {"ios": 45, "android": 55}

#: Share of a day's active devices that install the app that day.
INSTALL_SHARE = 0.1
#: Devices installed longer ago than this many days no longer come back.
RETURN_HORIZON_DAYS = 120


@dataclass(frozen=True)
class Release:
    version: str
    released: date
    ios_build: str
    android_build: str

    def build(self, platform: Platform) -> str:
        return self.ios_build if platform == "ios" else self.android_build


#: (version, days before the newest release, iOS build, Android build).
RELEASE_PLAN = (
    ("3.2.1", 98, "812", "30201"),
    ("3.3.2", 55, "836", "30302"),
    ("3.4.0", 28, "851", "30400"),
    ("3.5.0", 0, "874", "30500"),
)
#: Without an explicit schedule, the newest release came out this many days before the
#: generated day: its rollout is complete and the slower devices are still updating.
DEFAULT_RELEASE_AGE_DAYS = 7


def release_schedule(newest: date) -> tuple[Release, ...]:
    """The releases, the last of them on ``newest``. Pass the same date when generating several
    days, so that they share one rollout."""
    return tuple(
        Release(version, newest - timedelta(days=before), ios, android)
        for version, before, ios, android in RELEASE_PLAN
    )


#: Phased release: the share of devices offered a new version on each day since its release.
ROLLOUT_PHASES = (0.01, 0.02, 0.05, 0.10, 0.20, 0.50, 1.0)

#: Chance that a session ends in a crash, per platform, and for the faulty (platform, version).
CRASH_RATES: dict[Platform, float] = {"ios": 0.005, "android": 0.008}
CRASH_SPIKES: dict[tuple[Platform, str], float] = {("android", "3.5.0"): 0.07}
CRASHES: dict[Platform, tuple[str, ...]] = {
    "ios": ("EXC_BAD_ACCESS (SIGSEGV)", "EXC_CRASH (SIGABRT)", "EXC_BREAKPOINT (SIGTRAP)"),
    "android": ("java.lang.NullPointerException", "java.lang.OutOfMemoryError"),
}
SPIKE_CRASH = "java.lang.IllegalStateException: Fragment ProductFragment not attached to a context."


@dataclass(frozen=True)
class Model:
    """A phone as the SDK reports it; screen in points (iOS) or pixels (Android)."""

    manufacturer: str
    model: str
    width: int
    height: int
    density: float
    first_os: int
    weight: int


IOS_MODELS = (
    Model("Apple", "iPhone16,2", 430, 932, 3.0, 17, 8),
    Model("Apple", "iPhone16,1", 393, 852, 3.0, 17, 9),
    Model("Apple", "iPhone15,4", 393, 852, 3.0, 17, 10),
    Model("Apple", "iPhone15,2", 393, 852, 3.0, 16, 9),
    Model("Apple", "iPhone14,7", 390, 844, 3.0, 16, 10),
    Model("Apple", "iPhone14,5", 390, 844, 3.0, 15, 12),
    Model("Apple", "iPhone14,6", 375, 667, 2.0, 15, 4),
    Model("Apple", "iPhone13,2", 390, 844, 3.0, 14, 9),
    Model("Apple", "iPhone12,1", 414, 896, 2.0, 13, 7),
)
ANDROID_MODELS = (
    Model("samsung", "SM-S921B", 1080, 2340, 3.0, 14, 8),
    Model("samsung", "SM-S911B", 1080, 2340, 3.0, 13, 9),
    Model("samsung", "SM-A546B", 1080, 2340, 2.625, 13, 11),
    Model("samsung", "SM-A135F", 1080, 2408, 2.625, 12, 8),
    Model("Google", "Pixel 8", 1080, 2400, 2.625, 14, 6),
    Model("Google", "Pixel 7a", 1080, 2400, 2.625, 13, 5),
    Model("Google", "Pixel 6", 1080, 2400, 2.625, 12, 4),
    Model("Xiaomi", "23021RAA2Y", 1080, 2400, 2.75, 13, 7),
    Model("Xiaomi", "2201117TG", 1080, 2400, 2.75, 11, 6),
    Model("OnePlus", "CPH2449", 1440, 3216, 3.5, 13, 3),
    Model("motorola", "moto g54 5G", 1080, 2400, 2.75, 13, 4),
)
MODELS: dict[Platform, tuple[Model, ...]] = {"ios": IOS_MODELS, "android": ANDROID_MODELS}
OS_VERSIONS: dict[Platform, dict[str, float]] = {
    "ios": {"17.4.1": 30, "17.4": 14, "17.3.1": 12, "17.2.1": 8, "16.7.7": 9, "16.6.1": 5, "15.8.2": 3},
    "android": {"14": 38, "13": 30, "12": 16, "11": 10},
}


@dataclass(frozen=True)
class Market:
    locale: str
    timezone: str
    carriers: tuple[str, ...]
    weight: int


MARKETS = (
    Market("en-US", "America/New_York", ("Verizon", "T-Mobile", "AT&T"), 16),
    Market("en-US", "America/Chicago", ("AT&T", "Verizon", "T-Mobile"), 7),
    Market("en-US", "America/Los_Angeles", ("T-Mobile", "Verizon", "AT&T"), 10),
    Market("en-GB", "Europe/London", ("EE", "Vodafone UK", "O2 - UK"), 12),
    Market("de-DE", "Europe/Berlin", ("Telekom.de", "Vodafone.de", "o2 - de"), 12),
    Market("fr-FR", "Europe/Paris", ("Orange F", "SFR", "Bouygues Telecom"), 9),
    Market("es-ES", "Europe/Madrid", ("Movistar", "Orange", "Vodafone ES"), 6),
    Market("pt-BR", "America/Sao_Paulo", ("VIVO", "Claro BR", "TIM"), 8),
    Market("ja-JP", "Asia/Tokyo", ("NTT DOCOMO", "SoftBank", "au"), 7),
    Market("en-AU", "Australia/Sydney", ("Telstra", "Optus", "Vodafone AU"), 5),
)

#: Relative session starts per local hour: a commute bump, lunch, and an evening peak.
LOCAL_HOUR_WEIGHTS = (
    3, 2, 1, 1, 1, 2, 5, 9, 11, 10, 9, 10, 13, 12, 10, 10, 11, 12, 14, 16, 18, 17, 12, 6,
)  # fmt: skip

#: Where users go from each screen; ``None`` leaves the app.
TRANSITIONS: dict[str, dict[str | None, float]] = {
    "Home": {"Search": 30, "Product": 32, "Cart": 6, "Profile": 9, "Settings": 4, None: 19},
    "Search": {"Product": 55, "Search": 10, "Home": 12, None: 23},
    "Product": {"Cart": 22, "Product": 14, "Search": 14, "Home": 16, None: 34},
    "Cart": {"Checkout": 45, "Product": 12, "Home": 15, None: 28},
    "Checkout": {"Home": 35, None: 65},
    "Profile": {"Settings": 25, "Home": 40, None: 35},
    "Settings": {"Profile": 20, "Home": 35, None: 45},
}
EMPTY_CART_TRANSITIONS: dict[str | None, float] = {"Home": 40, "Product": 30, None: 30}
MAX_SCREENS_PER_VISIT = 40

#: (product_id, name, category, price in EUR).
CATALOG = (
    ("sku-2001", "Trail Runner 2", "shoes", 129.0),
    ("sku-2002", "City Sneaker", "shoes", 89.0),
    ("sku-2003", "Merino Tee", "apparel", 45.0),
    ("sku-2004", "Rain Shell", "apparel", 159.0),
    ("sku-2005", "Running Socks 3-pack", "accessories", 19.5),
    ("sku-2006", "Hydration Vest", "accessories", 74.0),
    ("sku-2007", "Thermal Tights", "apparel", 59.0),
)
SEARCHES = {"running shoes": "shoes", "sneakers": "shoes", "jacket": "apparel", "socks": "accessories"}
FIRST_NAMES = ("mia", "noah", "lena", "omar", "sofia", "lucas", "yuki", "ana", "tom", "ella")
LAST_NAMES = ("schmidt", "dubois", "costa", "sato", "brown", "lopez", "novak", "berg")


@dataclass(frozen=True)
class Device:
    """One installation of the app: its ids and hardware hold for as long as it is installed."""

    key: str
    installed: date
    platform: Platform
    anonymous_id: str
    device_id: str
    advertising_id: str | None
    model: Model
    os_version: str
    market: Market
    carrier: str
    home_ip: str
    clock_skew: timedelta
    often_offline: bool
    account_id: str | None
    email: str
    first_name: str
    last_name: str
    sign_in_after_days: int


def _sdk_uuid(rng: random.Random, platform: Platform) -> str:
    """``NSUUID`` (iOS) writes upper case, ``java.util.UUID`` (Android) lower case."""
    drawn = seeded_uuid(rng)
    return drawn.upper() if platform == "ios" else drawn


def _os_version(rng: random.Random, platform: Platform, model: Model) -> str:
    fitting = {v: w for v, w in OS_VERSIONS[platform].items() if int(v.split(".")[0]) >= model.first_os}
    return weighted_choice(rng, fitting)


def make_device(seed: int, key: str, installed: date) -> Device:
    """The device behind ``key``; the same seed and key always give the same device."""
    rng = random.Random(f"mobile-device:{seed}:{key}")
    platform = weighted_choice(rng, PLATFORM_WEIGHTS)
    models = MODELS[platform]
    model = rng.choices(models, weights=[m.weight for m in models])[0]
    market = rng.choices(MARKETS, weights=[m.weight for m in MARKETS])[0]
    ad_tracking = rng.random() < (0.25 if platform == "ios" else 0.88)
    skewed = rng.random() < 0.03
    skew = timedelta(seconds=rng.choice((-1, 1)) * rng.uniform(20, 4 * 3600)) if skewed else timedelta(0)
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    registered = rng.random() < 0.45
    return Device(
        key=key,
        installed=installed,
        platform=platform,
        anonymous_id=_sdk_uuid(rng, platform),
        device_id=_sdk_uuid(rng, platform) if platform == "ios" else f"{rng.getrandbits(64):016x}",
        advertising_id=_sdk_uuid(rng, platform) if ad_tracking else None,
        model=model,
        os_version=_os_version(rng, platform, model),
        market=market,
        carrier=rng.choice(market.carriers),
        home_ip=public_ip(rng),
        clock_skew=skew,
        often_offline=rng.random() < 0.07,
        account_id=f"usr_{rng.getrandbits(48):012x}" if registered else None,
        email=f"{first}.{last}{rng.randint(1, 999)}@example.com",
        first_name=first.title(),
        last_name=last.title(),
        sign_in_after_days=rng.choice((0, 0, 0, 1, 2, 3, 7, 14)),
    )


@dataclass(frozen=True)
class Population:
    """Who is active on which day and which app version they run, without replaying history.

    Every fact is a pure function of the seed, the device key and the day (through
    :func:`unit_hash`), so any day can be generated alone and still agree with the others.
    """

    seed: int
    installs_per_day: int
    return_scale: float
    releases: tuple[Release, ...]

    @classmethod
    def sized(cls, devices: int, seed: int, *, releases: tuple[Release, ...]) -> Population:
        """Installs and return rates that give about ``devices`` active devices a day."""
        installs = max(1, round(devices * INSTALL_SHARE))
        curve = sum(1 / math.sqrt(age) for age in range(1, RETURN_HORIZON_DAYS + 1))
        return cls(seed, installs, max(devices - installs, 0) / (installs * curve), releases)

    def installed_on(self, day: date) -> list[str]:
        return [f"{day.isoformat()}:{n}" for n in range(self.installs_per_day)]

    def is_active(self, key: str, installed: date, day: date) -> bool:
        age = (day - installed).days
        if age <= 0 or age > RETURN_HORIZON_DAYS:
            return age == 0
        engagement = 0.25 + 1.5 * unit_hash(self.seed, key, "engagement")
        return unit_hash(self.seed, key, day.isoformat()) < self.return_scale * engagement / math.sqrt(age)

    def active_devices(self, day: date) -> list[tuple[str, date]]:
        """The day's new installs, then the returning devices, as ``(key, install date)``."""
        active = [(key, day) for key in self.installed_on(day)]
        for age in range(1, RETURN_HORIZON_DAYS + 1):
            installed = day - timedelta(days=age)
            active.extend(
                (key, installed)
                for key in self.installed_on(installed)
                if self.is_active(key, installed, day)
            )
        return active

    def previous_active_day(self, key: str, installed: date, day: date) -> date | None:
        moment = day - timedelta(days=1)
        while moment >= installed:
            if self.is_active(key, installed, moment):
                return moment
            moment -= timedelta(days=1)
        return None

    def offered(self, key: str, release: Release) -> date:
        """When the store offers ``release`` to the device: its slot in the phased rollout."""
        slot = unit_hash(self.seed, key, "rollout", release.version)
        phase = next(day for day, share in enumerate(ROLLOUT_PHASES) if slot < share)
        return release.released + timedelta(days=phase)

    def update_lag(self, key: str) -> int | None:
        """Days between an offer and the update: most update overnight, ``None`` never does."""
        draw = unit_hash(self.seed, key, "update-lag")
        if draw < 0.08:
            return None
        if draw < 0.6:
            return 0
        return 1 + int((draw - 0.6) / 0.4 * 21)

    def version_on(self, key: str, installed: date, day: date) -> Release:
        """The version the device runs on ``day``: the one installed, or a later one it updated to."""
        offered = [self.offered(key, release) for release in self.releases]
        current = 0
        for index, offer in enumerate(offered):
            if offer <= installed:
                current = index
        lag = self.update_lag(key)
        if lag is not None:
            for index in range(current + 1, len(self.releases)):
                if offered[index] + timedelta(days=lag) <= day:
                    current = index
        return self.releases[current]


@dataclass
class DeviceDay:
    """Writes one device's messages for a day, as its SDK queues and flushes them.

    ``now`` is the real (UTC) time; messages carry the device's clock (``now + clock_skew``).
    The SDK flushes its queue at 20 messages, 30 seconds after the oldest queued one, and when
    the app goes to the background; a session without a connection sends everything in one
    batch at ``hold_until``.
    """

    rng: random.Random
    device: Device
    release: Release
    user_id: str | None
    sign_in_due: bool
    now: datetime
    sent: list[tuple[datetime, datetime, dict[str, Any]]] = field(default_factory=list)
    queue: list[tuple[datetime, dict[str, Any]]] = field(default_factory=list)
    hold_until: datetime | None = None
    wifi: bool = True
    ip: str = ""
    screen: str = "Home"
    cart: list[dict[str, Any]] = field(default_factory=list)
    results: tuple[tuple[str, str, str, float], ...] = CATALOG

    def wait(self, low: float, high: float) -> None:
        self.now += timedelta(seconds=self.rng.uniform(low, high))

    def _context(self) -> dict[str, Any]:
        device, platform = self.device, self.device.platform
        hardware: dict[str, Any] = {
            "id": device.device_id,
            "manufacturer": device.model.manufacturer,
            "model": device.model.model,
            "type": platform,
            "adTrackingEnabled": device.advertising_id is not None,
        }
        if device.advertising_id is not None:
            hardware["advertisingId"] = device.advertising_id
        return {
            "app": {
                "name": APP_NAME,
                "version": self.release.version,
                "build": self.release.build(platform),
                "namespace": APP_NAMESPACE,
            },
            "device": hardware,
            "os": {"name": OS_NAMES[platform], "version": device.os_version},
            "network": {"wifi": self.wifi, "cellular": not self.wifi, "carrier": device.carrier},
            "screen": {
                "width": device.model.width,
                "height": device.model.height,
                "density": device.model.density,
            },
            "locale": device.market.locale,
            "timezone": device.market.timezone,
            "library": dict(LIBRARIES[platform]),
            "ip": self.ip,
        }

    def _emit(self, kind: str, body: dict[str, Any]) -> None:
        self.wait(0.01, 0.4)
        if self.queue and self.now - self.queue[0][0] >= timedelta(seconds=30):
            self.flush(self.queue[0][0] + timedelta(seconds=30))
        device_time = iso_millis(self.now + self.device.clock_skew)
        message: dict[str, Any] = {
            "type": kind,
            "messageId": _sdk_uuid(self.rng, self.device.platform),
            "anonymousId": self.device.anonymous_id,
        }
        if self.user_id is not None:
            message["userId"] = self.user_id
        message |= {"timestamp": device_time, "originalTimestamp": device_time, "sentAt": device_time}
        message |= body
        message["context"] = self._context()
        self.queue.append((self.now, message))
        if len(self.queue) >= 20:
            self.flush(self.now)

    def flush(self, at: datetime) -> None:
        """Send the queue as one batch: every message in it gets the batch's ``sentAt``."""
        if not self.queue:
            return
        if self.hold_until is not None and at < self.hold_until:
            moment = self.hold_until
        else:
            moment = at + timedelta(seconds=self.rng.uniform(0.05, 1.5))
        sent_at = iso_millis(moment + self.device.clock_skew)
        for happened, message in self.queue:
            message["sentAt"] = sent_at
            self.sent.append((moment, happened, message))
        self.queue.clear()

    def track(self, event: str, properties: dict[str, Any]) -> None:
        self._emit("track", {"event": event, "properties": properties})

    def show(self, screen: str, properties: dict[str, Any] | None = None) -> None:
        self.screen = screen
        self._emit("screen", {"name": screen, "properties": properties or {}})

    def identify(self) -> None:
        device = self.device
        self.user_id = device.account_id
        traits = {
            "email": device.email,
            "firstName": device.first_name,
            "lastName": device.last_name,
            "name": f"{device.first_name} {device.last_name}",
        }
        self._emit("identify", {"traits": traits})

    def _version_properties(self) -> dict[str, Any]:
        return {"version": self.release.version, "build": self.release.build(self.device.platform)}

    def launch(self, *, cold: bool, install: bool = False, updated_from: Release | None = None) -> None:
        if install:
            self.track("Application Installed", self._version_properties())
        if updated_from is not None:
            previous = {
                "previous_version": updated_from.version,
                "previous_build": updated_from.build(self.device.platform),
            }
            self.track("Application Updated", previous | self._version_properties())
        self.track("Application Opened", {"from_background": not cold} | self._version_properties())

    def crash(self) -> None:
        platform = self.device.platform
        spiking = (platform, self.release.version) in CRASH_SPIKES
        exception = SPIKE_CRASH if spiking and self.rng.random() < 0.8 else self.rng.choice(CRASHES[platform])
        self.track(
            "Application Crashed",
            {"exception": exception, "screen": self.screen} | self._version_properties(),
        )

    def background(self) -> None:
        self.track("Application Backgrounded", {})
        self.flush(self.now)

    def start_session(self) -> None:
        """A new period of use: the device's network of the moment, maybe without a connection."""
        self.wifi = self.rng.random() < 0.62
        self.ip = self.device.home_ip if self.wifi else public_ip(self.rng, ipv6_share=0.3)
        self.hold_until = None
        if self.device.often_offline and self.rng.random() < 0.5:
            hours = self.rng.uniform(1.2, 30) if self.rng.random() < 0.75 else self.rng.uniform(24, 72)
            self.hold_until = self.now + timedelta(hours=hours)


def _product_properties(product: tuple[str, str, str, float]) -> dict[str, Any]:
    product_id, name, category, price = product
    return {
        "product_id": product_id,
        "sku": product_id.upper(),
        "name": name,
        "category": category,
        "price": price,
        "currency": "EUR",
    }


def _sign_in(day: DeviceDay) -> None:
    day.show("Profile")
    day.wait(15, 60)
    day.identify()
    day.track("Signed In", {"method": day.rng.choice(("email", "apple", "google"))})
    day.sign_in_due = False


def _enter(day: DeviceDay, screen: str) -> None:
    """Move to ``screen`` with the shop events that go with it."""
    rng, coming_from = day.rng, day.screen
    day.wait(3, 75)
    if screen == "Search":
        day.show("Search")
        query = rng.choice(list(SEARCHES))
        day.results = tuple(p for p in CATALOG if p[2] == SEARCHES[query])
        day.wait(2, 15)
        day.track("Products Searched", {"query": query})
    elif screen == "Product":
        product = rng.choice(day.results if coming_from == "Search" else CATALOG)
        day.show("Product", {"product_id": product[0]})
        day.track("Product Viewed", _product_properties(product))
        day.results = (product,)
    elif screen == "Cart" and coming_from == "Product":
        item = _product_properties(day.results[0]) | {"quantity": rng.choices((1, 2), weights=(85, 15))[0]}
        day.track("Added to Cart", item)
        day.cart.append(item)
        day.show("Cart")
    elif screen == "Checkout":
        _check_out(day)
    else:
        day.show(screen)


def _check_out(day: DeviceDay) -> None:
    rng = day.rng
    day.show("Checkout")
    value = round(sum(item["price"] * item["quantity"] for item in day.cart), 2)
    products = [dict(item) for item in day.cart]
    day.track("Checkout Started", {"value": value, "currency": "EUR", "products": products})
    if rng.random() < 0.68:
        day.wait(20, 150)
        order = {"order_id": f"ord_{rng.getrandbits(40):010x}", "total": value, "revenue": value}
        day.track("Order Completed", order | {"currency": "EUR", "products": products})
        day.cart.clear()


def _cumulative(weights: dict[str | None, float]) -> tuple[list[str | None], list[float]]:
    return list(weights), list(accumulate(weights.values()))


_ROUTES = {screen: _cumulative(weights) for screen, weights in TRANSITIONS.items()}
_EMPTY_CART_ROUTES = _cumulative(EMPTY_CART_TRANSITIONS)


def _next_screen(day: DeviceDay) -> str | None:
    screens, cumulative = _ROUTES[day.screen] if day.screen != "Cart" or day.cart else _EMPTY_CART_ROUTES
    return day.rng.choices(screens, cum_weights=cumulative)[0]


def _visit(day: DeviceDay, *, crash_at: int | None, resume: bool) -> bool:
    """Walk the screens until the user leaves; ``True`` when the app crashed on the way."""
    if not resume:
        day.show("Home")
    if day.sign_in_due:
        _sign_in(day)
    for step in range(1, MAX_SCREENS_PER_VISIT + 1):
        if step == crash_at:
            day.crash()
            return True
        screen = _next_screen(day)
        if screen is None:
            break
        _enter(day, screen)
    if crash_at is not None:
        day.crash()
        return True
    return False


def _session_chain(
    day: DeviceDay, start: datetime, *, install: bool, updated_from: Release | None, greet: bool
) -> datetime:
    """A cold launch and what follows: crashes and relaunches, returns from the background.

    Returns when the app was last left; the next cold launch of the day comes after that.
    """
    rng, platform = day.rng, day.device.platform
    day.now = start
    day.start_session()
    rate = CRASH_SPIKES.get((platform, day.release.version), CRASH_RATES[platform])
    crash_at = rng.randint(1, 6) if rng.random() < rate else None
    day.launch(cold=True, install=install, updated_from=updated_from)
    if greet and day.user_id is not None:
        day.identify()
    crashed = _visit(day, crash_at=crash_at, resume=False)
    while True:
        if crashed:
            if rng.random() < 0.75:
                day.wait(4, 90)
                day.launch(cold=True)
                crashed = _visit(day, crash_at=None, resume=False)
                continue
            day.hold_until = max(day.hold_until or day.now, day.now + timedelta(hours=rng.uniform(1, 12)))
            day.flush(day.now)
            return day.now
        day.background()
        back = rng.random()
        if back < 0.22:
            day.wait(15, 25 * 60)
        elif back < 0.30:
            day.wait(31 * 60, 3 * 3600)
            day.start_session()
        else:
            return day.now
        day.launch(cold=False)
        crashed = _visit(day, crash_at=None, resume=True)


def _utc_hour_weights(timezone: str, day: date) -> list[int]:
    offset = datetime.combine(day, time(12), tzinfo=ZoneInfo(timezone)).utcoffset() or timedelta(0)
    shift = round(offset.total_seconds() / 3600)
    return [LOCAL_HOUR_WEIGHTS[(hour + shift) % 24] for hour in range(24)]


def _launch_times(rng: random.Random, day: date, weights: list[int]) -> list[datetime]:
    count = rng.choices((1, 2, 3, 4, 5), weights=(55, 25, 11, 6, 3))[0]
    midnight = datetime.combine(day, time(0), tzinfo=UTC)
    hours = rng.choices(range(24), weights=weights, k=count)
    return sorted(midnight + timedelta(hours=hour, seconds=rng.uniform(0, 3600)) for hour in hours)


def _device_day(
    rng: random.Random, population: Population, device: Device, day: date, weights: list[int]
) -> list[tuple[datetime, datetime, dict[str, Any]]]:
    key, installed = device.key, device.installed
    previous = None if installed == day else population.previous_active_day(key, installed, day)
    release = population.version_on(key, installed, day)
    before = population.version_on(key, installed, previous) if previous is not None else None
    sign_in_day = installed + timedelta(days=device.sign_in_after_days)
    signed_in = device.account_id is not None and previous is not None and previous >= sign_in_day
    writer = DeviceDay(
        rng,
        device,
        release,
        user_id=device.account_id if signed_in else None,
        sign_in_due=device.account_id is not None and not signed_in and day >= sign_in_day,
        now=datetime.combine(day, time(0), tzinfo=UTC),
    )
    left: datetime | None = None
    midnight = writer.now + timedelta(days=1)
    for index, start in enumerate(_launch_times(rng, day, weights)):
        begin = start if left is None else max(start, left + timedelta(minutes=rng.uniform(31, 90)))
        if begin >= midnight:
            break
        left = _session_chain(
            writer,
            begin,
            install=index == 0 and installed == day,
            updated_from=before if index == 0 and before != release else None,
            greet=index == 0,
        )
    writer.flush(writer.now)
    return writer.sent


def generate_day(
    day: date, *, devices: int = 1500, seed: int = 7, newest_release: date | None = None
) -> list[dict[str, Any]]:
    """A day of Segment messages from about ``devices`` active app installs, in arrival order.

    Messages are those of sessions started on ``day`` (UTC); delayed batches carry a
    ``sentAt`` hours or days later, and messages are ordered by that real send time.
    """
    if devices < 0:
        raise ValueError(f"devices must be >= 0, got {devices}")
    if devices == 0:
        return []
    newest = newest_release or day - timedelta(days=DEFAULT_RELEASE_AGE_DAYS)
    population = Population.sized(devices, seed, releases=release_schedule(newest))
    rng = random.Random(f"mobile-day:{seed}:{day.isoformat()}")
    weights: dict[str, list[int]] = {}
    sent: list[tuple[datetime, datetime, dict[str, Any]]] = []
    for key, installed in population.active_devices(day):
        device = make_device(seed, key, installed)
        timezone = device.market.timezone
        if timezone not in weights:
            weights[timezone] = _utc_hour_weights(timezone, day)
        sent.extend(_device_day(rng, population, device, day, weights[timezone]))
    sent.sort(key=lambda item: (item[0], item[1], item[2]["messageId"]))
    return [message for _, _, message in sent]
