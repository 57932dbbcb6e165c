"""``web-user-analytics``: collector, ingest, api, pipeline, generate, reconcile and demo commands."""

from lakehouse_core.process_exit import command_line
from lakehouse_events.product import product_cli
from web_user_analytics.pipeline import WEB

app = product_cli(WEB)
main = command_line(app)
