"""Columns derived from what the browser sent: user agent, page URL, referrer, campaign.

All native Spark expressions (regular expressions and ``try_parse_url``), no Python UDFs, so
enrichment runs at JVM speed. Rules are checked in order; the first that matches wins.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyspark.sql import Column

BOT_PATTERN = (
    r"(?i)bot|crawl|spider|slurp|headless|curl|wget|python-requests|python-urllib|aiohttp|httpx|"
    r"go-http-client|java/|okhttp|apache-httpclient|libwww|scrapy|phantomjs|lighthouse|"
    r"facebookexternalhit|embedly|preview"
)

_BROWSERS = (
    ("Edge", r"Edg(e|A|iOS)?/"),
    ("Opera", r"OPR/|Opera|OPiOS/"),
    ("Samsung Internet", r"SamsungBrowser/"),
    ("Firefox", r"Firefox/|FxiOS/"),
    ("Chrome", r"Chrome/|CriOS/|Chromium/"),
    ("Safari", r"Safari/"),
)
_OPERATING_SYSTEMS = (
    ("Windows", r"Windows"),
    ("iOS", r"iPhone|iPad|iPod"),
    ("macOS", r"Macintosh|Mac OS X"),
    ("Android", r"Android"),
    ("ChromeOS", r"CrOS"),
    ("Linux", r"Linux|X11"),
)
_TABLET = r"(?i)iPad|Tablet|Kindle|Silk/|PlayBook|Android(?!.*Mobile)"
_MOBILE = r"(?i)Mobi|iPhone|iPod|Android|Windows Phone|BlackBerry|Opera Mini"
_DESKTOP = r"Windows NT|Macintosh|X11|Linux|CrOS"

SEARCH_ENGINES = ("google", "bing", "duckduckgo", "yahoo", "baidu", "yandex", "ecosia")
SOCIAL_NETWORKS = (
    "facebook.com",
    "fb.com",
    "t.co",
    "twitter.com",
    "x.com",
    "linkedin.com",
    "lnkd.in",
    "instagram.com",
    "reddit.com",
    "youtube.com",
    "youtu.be",
    "tiktok.com",
    "pinterest.com",
)
_SEARCH_HOST = r"(^|\.)(" + "|".join(SEARCH_ENGINES) + r")\.[a-z.]+$"
_SOCIAL_HOST = r"(^|\.)(" + "|".join(h.replace(".", r"\.") for h in SOCIAL_NETWORKS) + r")$"
_EMAIL_HOST = r"^(web)?mail\."


def _first_match(text: Column, rules: tuple[tuple[str, str], ...]) -> Column:
    """The label of the first rule whose pattern matches; 'other' if none; NULL text → NULL."""
    from pyspark.sql import functions as F

    labelled = F.when(text.isNull(), F.lit(None).cast("string"))
    for label, pattern in rules:
        labelled = labelled.when(text.rlike(pattern), F.lit(label))
    return labelled.otherwise(F.lit("other"))


def browser(user_agent: Column) -> Column:
    return _first_match(user_agent, _BROWSERS)


def operating_system(user_agent: Column) -> Column:
    return _first_match(user_agent, _OPERATING_SYSTEMS)


def is_bot(user_agent: Column) -> Column:
    """True for crawlers, monitors and scripted clients; a missing user agent is not a bot."""
    from pyspark.sql import functions as F

    return F.coalesce(user_agent.rlike(BOT_PATTERN), F.lit(False))


def device_type(user_agent: Column) -> Column:
    """bot, tablet, mobile, desktop, or other (also for a missing user agent)."""
    from pyspark.sql import functions as F

    return (
        F.when(is_bot(user_agent), F.lit("bot"))
        .when(user_agent.rlike(_TABLET), F.lit("tablet"))
        .when(user_agent.rlike(_MOBILE), F.lit("mobile"))
        .when(user_agent.rlike(_DESKTOP), F.lit("desktop"))
        .otherwise(F.lit("other"))
    )


def url_part(url: Column, part: str) -> Column:
    """``HOST``, ``PATH`` or ``QUERY`` of a URL; NULL when absent, empty or unparseable."""
    from pyspark.sql import functions as F

    return F.nullif(F.try_parse_url(url, F.lit(part)), F.lit(""))


def host(url: Column) -> Column:
    """The URL's host, lowercase, without a leading ``www.``."""
    from pyspark.sql import functions as F

    return F.regexp_replace(F.lower(url_part(url, "HOST")), r"^www\.", "")


def page_path(url: Column, fallback_path: Column) -> Column:
    from pyspark.sql import functions as F

    return F.coalesce(url_part(url, "PATH"), F.nullif(F.trim(fallback_path), F.lit("")))


def query_parameter(url: Column, name: str) -> Column:
    """The URL-decoded value of a query parameter of ``url``; NULL when absent or empty."""
    from pyspark.sql import functions as F

    raw = F.try_parse_url(url, F.lit("QUERY"), F.lit(name))
    return F.nullif(F.coalesce(F.try_url_decode(raw), raw), F.lit(""))


def utm(campaign_value: Column, url: Column, name: str) -> Column:
    """A campaign field: the SDK's ``context.campaign`` value, else ``utm_<name>`` in the URL."""
    from pyspark.sql import functions as F

    return F.coalesce(F.nullif(F.trim(campaign_value), F.lit("")), query_parameter(url, f"utm_{name}"))


def referrer_class(referrer: Column, referrer_host: Column, page_host: Column, utm_medium: Column) -> Column:
    """email, direct, internal, search, social or other; both hosts as :func:`host` gives them.

    ``utm_medium = email`` wins over everything, because mail clients usually send no referrer
    and the visit would otherwise look direct. Webmail hosts (``mail.*``) are checked before
    search engines, so ``mail.google.com`` is email, not search.
    """
    from pyspark.sql import functions as F

    return (
        F.when(F.lower(F.trim(utm_medium)) == "email", F.lit("email"))
        .when(F.coalesce(F.trim(referrer), F.lit("")) == "", F.lit("direct"))
        .when(referrer_host.isNull(), F.lit("other"))
        .when(referrer_host == page_host, F.lit("internal"))
        .when(referrer_host.rlike(_EMAIL_HOST), F.lit("email"))
        .when(referrer_host.rlike(_SEARCH_HOST), F.lit("search"))
        .when(referrer_host.rlike(_SOCIAL_HOST), F.lit("social"))
        .otherwise(F.lit("other"))
    )
