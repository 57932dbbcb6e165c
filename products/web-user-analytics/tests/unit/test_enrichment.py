import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from web_user_analytics.processing import enrichment

pytestmark = pytest.mark.unit

CHROME_WINDOWS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36"
)
EDGE_WINDOWS = CHROME_WINDOWS + " Edg/124.0.2478.51"
SAFARI_IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1"
)
SAFARI_IPAD = (
    "Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/16.6 Mobile/15E148 Safari/604.1"
)
FIREFOX_MAC = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14.4; rv:125.0) Gecko/20100101 Firefox/125.0"
SAMSUNG_ANDROID = (
    "Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) "
    "SamsungBrowser/24.0 Chrome/117.0.0.0 Mobile Safari/537.36"
)
CHROME_ANDROID_TABLET = (
    "Mozilla/5.0 (Linux; Android 13; SM-X710) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36"
)
OPERA_LINUX = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/123.0.0.0 Safari/537.36 OPR/109.0.0.0"
)
CHROME_OS = (
    "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36"
)
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
HEADLESS = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 HeadlessChrome/124.0.0.0 Safari/537.36"

USER_AGENTS = [
    (CHROME_WINDOWS, "Chrome", "Windows", "desktop", False),
    (EDGE_WINDOWS, "Edge", "Windows", "desktop", False),
    (SAFARI_IPHONE, "Safari", "iOS", "mobile", False),
    (SAFARI_IPAD, "Safari", "iOS", "tablet", False),
    (FIREFOX_MAC, "Firefox", "macOS", "desktop", False),
    (SAMSUNG_ANDROID, "Samsung Internet", "Android", "mobile", False),
    (CHROME_ANDROID_TABLET, "Chrome", "Android", "tablet", False),
    (OPERA_LINUX, "Opera", "Linux", "desktop", False),
    (CHROME_OS, "Chrome", "ChromeOS", "desktop", False),
    (GOOGLEBOT, "other", "other", "bot", True),
    (HEADLESS, "Chrome", "Linux", "bot", True),
    ("curl/8.5.0", "other", "other", "bot", True),
    ("python-requests/2.31.0", "other", "other", "bot", True),
    ("SomethingElse/1.0", "other", "other", "other", False),
    (None, None, None, "other", False),
]


def test_user_agent_classification(spark: SparkSession) -> None:
    frame = spark.createDataFrame([(i, ua) for i, (ua, *_) in enumerate(USER_AGENTS)], "i int, ua string")
    ua = F.col("ua")

    rows = frame.select(
        "i",
        enrichment.browser(ua).alias("browser"),
        enrichment.operating_system(ua).alias("os"),
        enrichment.device_type(ua).alias("device"),
        enrichment.is_bot(ua).alias("bot"),
    ).orderBy("i")

    assert [(r.browser, r.os, r.device, r.bot) for r in rows.collect()] == [tuple(x[1:]) for x in USER_AGENTS]


def test_url_parts_fall_back_to_the_context_path(spark: SparkSession) -> None:
    rows = spark.createDataFrame(
        [
            ("https://WWW.Shop.example/pricing/plans?a=1&utm_source=news%20letter", "/ignored"),
            ("https://shop.example", "/from-context"),
            ("not a url", "/ctx"),
            (None, "/only-path"),
            (None, " "),
        ],
        "url string, path string",
    ).select(
        enrichment.host(F.col("url")).alias("host"),
        enrichment.page_path(F.col("url"), F.col("path")).alias("path"),
        enrichment.url_part(F.col("url"), "QUERY").alias("query"),
        enrichment.query_parameter(F.col("url"), "utm_source").alias("utm_source"),
    )

    assert [tuple(r) for r in rows.collect()] == [
        ("shop.example", "/pricing/plans", "a=1&utm_source=news%20letter", "news letter"),
        ("shop.example", "/from-context", None, None),
        (None, "/ctx", None, None),
        (None, "/only-path", None, None),
        (None, None, None, None),
    ]


def test_utm_prefers_the_sdk_campaign_over_the_url(spark: SparkSession) -> None:
    url = "https://shop.example/?utm_source=url-src&utm_medium=cpc"
    rows = spark.createDataFrame(
        [("sdk-src", url), (None, url), ("", url), (None, "https://shop.example/")],
        "campaign string, url string",
    ).select(
        enrichment.utm(F.col("campaign"), F.col("url"), "source").alias("source"),
        enrichment.utm(F.lit(None).cast("string"), F.col("url"), "medium").alias("medium"),
    )

    assert [tuple(r) for r in rows.collect()] == [
        ("sdk-src", "cpc"),
        ("url-src", "cpc"),
        ("url-src", "cpc"),
        (None, None),
    ]


REFERRERS = [
    (None, None, "direct"),
    ("", None, "direct"),
    ("https://shop.example/cart", None, "internal"),
    ("https://www.shop.example/cart", None, "internal"),
    ("https://www.google.com/search?q=x", None, "search"),
    ("https://www.bing.com/", None, "search"),
    ("https://duckduckgo.com/", None, "search"),
    ("https://uk.search.yahoo.com/", None, "search"),
    ("https://t.co/abc", None, "social"),
    ("https://m.facebook.com/", None, "social"),
    ("https://www.linkedin.com/feed", None, "social"),
    ("https://out.reddit.com/x", None, "social"),
    ("https://mail.google.com/mail/u/0", None, "email"),
    (None, "Email", "email"),
    ("https://blog.example.org/post", "email", "email"),
    ("https://blog.example.org/post", "cpc", "other"),
    ("https://notgoogle.example/", None, "other"),
    ("android-app://com.slack", None, "other"),
]


def test_referrer_class(spark: SparkSession) -> None:
    frame = spark.createDataFrame(
        [(i, ref, medium) for i, (ref, medium, _) in enumerate(REFERRERS)], "i int, ref string, medium string"
    )

    rows = frame.select(
        "i",
        enrichment.host(F.col("ref")).alias("ref_host"),
        enrichment.referrer_class(
            F.col("ref"), enrichment.host(F.col("ref")), F.lit("shop.example"), F.col("medium")
        ).alias("class"),
    ).orderBy("i")

    assert [r["class"] for r in rows.collect()] == [c for *_, c in REFERRERS]
