"""``mobile-user-analytics``: collector, ingest, api, pipeline, generate, reconcile and demo commands."""

from lakehouse_core.process_exit import command_line
from lakehouse_events.product import product_cli
from mobile_user_analytics.pipeline import MOBILE

app = product_cli(MOBILE)
main = command_line(app)
