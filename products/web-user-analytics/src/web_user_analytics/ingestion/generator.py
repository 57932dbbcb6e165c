"""Seeded, realistic web traffic as a Segment analytics.js SDK would send it.

One call to :func:`generate_day` gives a day of tracking messages for a small SaaS-and-shop
site: visits follow a diurnal curve, arrive from search, social, newsletters, other sites or
directly (some with UTM campaigns), on desktop, mobile and tablet browsers, plus a few crawlers.
Visitors walk a signup funnel (``/`` → ``/pricing`` → ``/signup`` → ``Signed Up``) or a checkout
funnel (``Product Viewed`` → ``Product Added`` → ``Checkout Started`` → ``Order Completed``),
dropping off at each step. Some visitors come back several times a day (after gaps longer
than a session timeout), a loyal pool returns day after day with the same ``anonymousId``, and
the latest visits of the day run past midnight. A few devices have skewed clocks, which
``sentAt`` reveals as a real SDK's would.

The output depends only on ``(day, visitors, seed)``: message ids and all choices come from
seeded generators, so the same arguments give identical messages.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode

from lakehouse_events.generation import iso_millis, public_ip, seeded_uuid, weighted_choice

SITE = "https://www.example-shop.com"
LIBRARY = {"name": "analytics.js", "version": "npm:next-1.70.0"}

#: Relative visit starts per UTC hour: quiet nights, a morning rise, an evening peak.
HOURLY_WEIGHTS = (
    2, 1, 1, 1, 1, 2, 4, 7, 10, 12, 13, 13, 12, 12, 13, 13, 12, 11, 12, 14, 15, 13, 9, 5,
)  # fmt: skip

PAGE_TITLES = {
    "/": "Example Shop — tools for makers",
    "/pricing": "Pricing — Example Shop",
    "/signup": "Create your account — Example Shop",
    "/cart": "Your cart — Example Shop",
    "/checkout": "Checkout — Example Shop",
    "/about": "About us — Example Shop",
}
DOCS = ("getting-started", "installation", "api/authentication", "api/orders", "faq", "changelog")
BLOG = ("spring-collection", "how-we-ship", "maker-stories-anna", "ten-tips-for-woodwork", "release-2-0")


@dataclass(frozen=True)
class Product:
    product_id: str
    name: str
    category: str
    price: float


PRODUCTS = (
    Product("p-1001", "Oak Workbench", "furniture", 349.0),
    Product("p-1002", "Chisel Set", "tools", 59.9),
    Product("p-1003", "Block Plane", "tools", 89.0),
    Product("p-1004", "Maker Apron", "apparel", 34.5),
    Product("p-1005", "Dovetail Saw", "tools", 74.0),
    Product("p-1006", "Linseed Oil 1l", "finishes", 18.9),
    Product("p-1007", "Marking Gauge", "tools", 27.0),
    Product("p-1008", "Shop Stool", "furniture", 129.0),
)

USER_AGENTS = {
    "desktop": (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/124.0.0.0 Safari/537.36",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/17.4.1 Safari/605.1.15",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/124.0.0.0 Safari/537.36 Edg/124.0.2478.67",
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/123.0.0.0 Safari/537.36",
    ),
    "mobile": (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4_1 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Version/17.4.1 Mobile/15E148 Safari/604.1",
        "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/124.0.6367.82 Mobile Safari/537.36",
        "Mozilla/5.0 (Linux; Android 13; SM-S911B) AppleWebKit/537.36 (KHTML, like Gecko) "
        "SamsungBrowser/24.0 Chrome/117.0.0.0 Mobile Safari/537.36",
    ),
    "tablet": (
        "Mozilla/5.0 (iPad; CPU OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/17.4 Mobile/15E148 Safari/604.1",
        "Mozilla/5.0 (Linux; Android 13; SM-X710) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/124.0.6367.82 Safari/537.36",
    ),
    "bot": (
        "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
        "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)",
    ),
}
DEVICE_WEIGHTS = {"desktop": 52, "mobile": 38, "tablet": 7, "bot": 3}
LOCALES = ("en-US", "en-GB", "de-DE", "fr-FR", "es-ES", "nl-NL", "pt-BR", "ja-JP")
FIRST_NAMES = ("anna", "ben", "chloe", "david", "emma", "felix", "grace", "hugo", "ines", "jonas")
LAST_NAMES = ("smith", "mueller", "martin", "garcia", "rossi", "jansen", "silva", "tanaka")


@dataclass(frozen=True)
class Arrival:
    """How a session starts: the external referrer and the UTM parameters of the landing URL."""

    referrer: str
    campaign: dict[str, str] = field(default_factory=dict)


#: (weight, referrer, utm_source, utm_medium, utm_campaign); empty strings mean absent.
ARRIVALS = (
    (30, "", "", "", ""),
    (22, "https://www.google.com/", "", "", ""),
    (6, "https://www.google.com/", "google", "cpc", "spring_sale"),
    (5, "https://www.bing.com/", "", "", ""),
    (6, "https://www.facebook.com/", "", "", ""),
    (3, "https://www.facebook.com/", "facebook", "paid_social", "spring_sale"),
    (5, "https://t.co/", "", "", ""),
    (6, "", "newsletter", "email", "weekly_digest"),
    (3, "https://mail.google.com/", "newsletter", "email", "product_launch"),
    (5, "https://news.ycombinator.com/", "", "", ""),
    (4, "https://www.reddit.com/r/woodworking/", "", "", ""),
    (3, "https://blog.partner-makers.org/best-tools", "partner", "referral", "affiliate_q2"),
    (2, "https://duckduckgo.com/", "", "", ""),
)


@dataclass(frozen=True)
class Visitor:
    """A browser: stable across days for the loyal pool, so returning visitors keep their ids."""

    anonymous_id: str
    device: str
    user_agent: str
    ip: str
    locale: str
    clock_skew: timedelta
    account_id: str
    registered: bool
    email: str
    name: str

    @property
    def is_bot(self) -> bool:
        return self.device == "bot"


def make_visitor(seed: int, key: str, *, registered_share: float) -> Visitor:
    """The visitor behind ``key``; the same seed and key always give the same visitor."""
    rng = random.Random(f"web-visitor:{seed}:{key}")
    device = weighted_choice(rng, DEVICE_WEIGHTS)
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    skewed = device != "bot" and rng.random() < 0.03
    skew = timedelta(seconds=rng.choice((-1, 1)) * rng.randint(5, 900)) if skewed else timedelta(0)
    return Visitor(
        anonymous_id=seeded_uuid(rng),
        device=device,
        user_agent=rng.choice(USER_AGENTS[device]),
        ip=public_ip(rng),
        locale=rng.choice(LOCALES),
        clock_skew=skew,
        account_id=f"usr_{rng.getrandbits(48):012x}",
        registered=device != "bot" and rng.random() < registered_share,
        email=f"{first}.{last}{rng.randint(1, 999)}@example.com",
        name=f"{first.title()} {last.title()}",
    )


def _page_title(path: str) -> str:
    if path in PAGE_TITLES:
        return PAGE_TITLES[path]
    section, _, slug = path.strip("/").partition("/")
    if section == "products":
        product = next(p for p in PRODUCTS if p.product_id == slug)
        return f"{product.name} — Example Shop"
    return f"{slug.replace('-', ' ').replace('/', ' — ').title()} — Example Shop {section.title()}"


@dataclass
class SessionWriter:
    """Writes one visit's messages, advancing the visit's clock between calls."""

    rng: random.Random
    visitor: Visitor
    now: datetime
    arrival: Arrival
    user_id: str | None = None
    messages: list[tuple[datetime, dict[str, Any]]] = field(default_factory=list)
    current_url: str | None = None
    current_path: str = "/"
    current_search: str = ""

    def wait(self, low: float, high: float) -> None:
        self.now += timedelta(seconds=self.rng.uniform(low, high))

    def _envelope(self, kind: str) -> dict[str, Any]:
        device_time = self.now + self.visitor.clock_skew
        sent_at = device_time + timedelta(milliseconds=self.rng.randint(40, 2500))
        message: dict[str, Any] = {
            "type": kind,
            "messageId": seeded_uuid(self.rng),
            "anonymousId": self.visitor.anonymous_id,
        }
        if self.user_id is not None:
            message["userId"] = self.user_id
        message |= {
            "timestamp": iso_millis(device_time),
            "originalTimestamp": iso_millis(device_time),
            "sentAt": iso_millis(sent_at),
        }
        return message

    def _context(self) -> dict[str, Any]:
        page = {
            "path": self.current_path,
            "referrer": self._referrer(),
            "search": self.current_search,
            "title": _page_title(self.current_path),
            "url": f"{SITE}{self.current_path}{self.current_search}",
        }
        context: dict[str, Any] = {
            "ip": self.visitor.ip,
            "library": dict(LIBRARY),
            "locale": self.visitor.locale,
            "page": page,
            "userAgent": self.visitor.user_agent,
        }
        if self.current_search and self.arrival.campaign:
            context["campaign"] = dict(self.arrival.campaign)
        return context

    def _landing_search(self) -> str:
        return f"?{urlencode(self._utm())}" if self.arrival.campaign else ""

    def _utm(self) -> dict[str, str]:
        names = {"source": "utm_source", "medium": "utm_medium", "name": "utm_campaign"}
        return {names[key]: value for key, value in self.arrival.campaign.items()}

    def _referrer(self) -> str:
        return self.arrival.referrer if self.current_url is None else self.current_url

    def _emit(self, message: dict[str, Any]) -> None:
        self.messages.append((self.now, message))

    def page(self, path: str) -> None:
        if self.messages:
            self.wait(4, 150)
            self.current_url = f"{SITE}{self.current_path}{self.current_search}"
            self.current_search = ""
        else:
            self.current_search = self._landing_search()
        self.current_path = path
        context = self._context()
        message = self._envelope("page")
        message |= {"name": context["page"]["title"], "properties": dict(context["page"]), "context": context}
        self._emit(message)

    def track(self, event: str, properties: dict[str, Any]) -> None:
        self.wait(1, 25)
        message = self._envelope("track")
        message |= {"event": event, "properties": properties, "context": self._context()}
        self._emit(message)

    def identify(self, user_id: str, traits: dict[str, Any]) -> None:
        self.wait(0.2, 2)
        self.user_id = user_id
        message = self._envelope("identify")
        message |= {"traits": traits, "context": self._context()}
        self._emit(message)


def _product_properties(product: Product, quantity: int | None = None) -> dict[str, Any]:
    properties: dict[str, Any] = {
        "product_id": product.product_id,
        "sku": f"SKU-{product.product_id[2:]}",
        "name": product.name,
        "category": product.category,
        "price": product.price,
        "currency": "USD",
    }
    if quantity is not None:
        properties["quantity"] = quantity
    return properties


def _browse(writer: SessionWriter, pages: int) -> None:
    rng = writer.rng
    for _ in range(pages):
        section = rng.choices(("docs", "blog", "product", "about"), weights=(4, 4, 3, 1))[0]
        if section == "docs":
            writer.page(f"/docs/{rng.choice(DOCS)}")
        elif section == "blog":
            writer.page(f"/blog/{rng.choice(BLOG)}")
        elif section == "product":
            writer.page(f"/products/{rng.choice(PRODUCTS).product_id}")
        else:
            writer.page("/about")


def _signup_funnel(writer: SessionWriter, *, day: date) -> None:
    """``/`` → ``/pricing`` → ``/signup`` → ``Signed Up`` + identify, dropping off at each step."""
    rng, visitor = writer.rng, writer.visitor
    writer.page("/")
    if rng.random() < 0.3:
        _browse(writer, rng.randint(1, 2))
    if rng.random() > 0.55:
        return
    writer.page("/pricing")
    if rng.random() > 0.45:
        return
    plan = rng.choice(("starter", "pro", "team"))
    writer.page("/signup")
    if rng.random() > 0.55:
        return
    writer.wait(20, 120)
    writer.track("Signed Up", {"plan": plan, "method": rng.choice(("email", "google", "github"))})
    writer.identify(
        visitor.account_id,
        {
            "email": visitor.email,
            "name": visitor.name,
            "plan": plan,
            "createdAt": iso_millis(writer.now),
            "signupDate": day.isoformat(),
        },
    )


def _checkout_funnel(writer: SessionWriter) -> None:
    """Product Viewed → Product Added → Checkout Started → Order Completed, with drop-off."""
    rng = writer.rng
    product = rng.choice(PRODUCTS)
    writer.page(f"/products/{product.product_id}")
    writer.track("Product Viewed", _product_properties(product))
    if rng.random() > 0.4:
        _browse(writer, rng.randint(0, 2))
        return
    quantity = rng.choices((1, 2, 3), weights=(80, 15, 5))[0]
    writer.track("Product Added", _product_properties(product, quantity))
    writer.page("/cart")
    if rng.random() > 0.6:
        return
    writer.page("/checkout")
    revenue = round(product.price * quantity, 2)
    cart = [_product_properties(product, quantity)]
    writer.track("Checkout Started", {"value": revenue, "currency": "USD", "products": cart})
    if rng.random() > 0.65:
        return
    writer.wait(30, 240)
    writer.track(
        "Order Completed",
        {
            "order_id": f"ord_{rng.getrandbits(40):010x}",
            "total": revenue,
            "revenue": revenue,
            "shipping": 0.0 if revenue >= 100 else 6.9,
            "currency": "USD",
            "products": cart,
        },
    )


def _log_in(writer: SessionWriter) -> None:
    visitor = writer.visitor
    if not visitor.registered:
        return
    writer.identify(visitor.account_id, {"email": visitor.email, "name": visitor.name})


def _landing_path(rng: random.Random, arrival: Arrival) -> str:
    if arrival.campaign.get("medium") in ("cpc", "paid_social"):
        return f"/products/{rng.choice(PRODUCTS).product_id}"
    return rng.choices(("/", "/blog", "/docs", "/pricing"), weights=(6, 3, 2, 1))[0]


def _visit(writer: SessionWriter, *, day: date) -> None:
    rng, visitor = writer.rng, writer.visitor
    if visitor.is_bot:
        _browse(writer, rng.randint(1, 8))
        return
    intent = rng.choices(("signup", "checkout", "browse"), weights=(3, 3, 4))[0]
    if visitor.registered and intent == "signup":
        intent = "browse"
    landing = _landing_path(rng, writer.arrival)
    if intent == "signup" and landing == "/":
        _signup_funnel(writer, day=day)
        return
    if landing == "/blog":
        writer.page(f"/blog/{rng.choice(BLOG)}")
    elif landing == "/docs":
        writer.page(f"/docs/{rng.choice(DOCS)}")
    else:
        writer.page(landing)
    if rng.random() < 0.35:
        return
    if rng.random() < 0.5:
        _log_in(writer)
    if intent == "checkout":
        _checkout_funnel(writer)
    elif intent == "signup":
        _signup_funnel(writer, day=day)
    else:
        _browse(writer, rng.randint(1, 5))


def _arrival(rng: random.Random, visitor: Visitor) -> Arrival:
    if visitor.is_bot:
        return Arrival("")
    _, referrer, source, medium, name = rng.choices(ARRIVALS, weights=[a[0] for a in ARRIVALS])[0]
    campaign = {"source": source, "medium": medium, "name": name} if source else {}
    return Arrival(referrer, campaign)


def _session_starts(rng: random.Random, day: date, count: int) -> list[datetime]:
    """The first at a diurnal hour, later ones after gaps longer than a session timeout;
    a visit that would start after midnight does not happen."""
    midnight = datetime.combine(day, time(0), tzinfo=UTC)
    hour = rng.choices(range(24), weights=HOURLY_WEIGHTS)[0]
    starts = [midnight + timedelta(hours=hour, seconds=rng.uniform(0, 3600))]
    for _ in range(count - 1):
        nxt = starts[-1] + timedelta(minutes=rng.uniform(45, 360))
        if nxt.date() != day:
            break
        starts.append(nxt)
    return starts


def _visitor_keys(rng: random.Random, day: date, visitors: int) -> list[str]:
    """About a third of the day's visitors come from a loyal pool shared by every day."""
    returning = rng.sample(range(visitors), k=visitors // 3)
    fresh = [f"{day.isoformat()}:{n}" for n in range(visitors - len(returning))]
    return [f"loyal:{n}" for n in returning] + fresh


def generate_day(day: date, *, visitors: int = 2000, seed: int = 7) -> list[dict[str, Any]]:
    """A day of Segment messages from ``visitors`` browsers, ordered by when they happened."""
    if visitors < 0:
        raise ValueError(f"visitors must be >= 0, got {visitors}")
    rng = random.Random(f"web-day:{seed}:{day.isoformat()}")
    timed: list[tuple[datetime, dict[str, Any]]] = []
    for key in _visitor_keys(rng, day, visitors):
        visitor = make_visitor(seed, key, registered_share=0.35 if key.startswith("loyal") else 0.05)
        sessions = rng.choices((1, 2, 3, 4), weights=(70, 18, 8, 4))[0]
        for start in _session_starts(rng, day, sessions):
            writer = SessionWriter(rng, visitor, start, _arrival(rng, visitor))
            _visit(writer, day=day)
            timed.extend(writer.messages)
    timed.sort(key=lambda item: (item[0], item[1]["messageId"]))
    return [message for _, message in timed]
