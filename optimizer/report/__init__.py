"""report.html for an output folder of solve or sweep: headline numbers, margin and GMV by
program, prices against their caps, exclusions by reason, sweep curves with break-even points.
One self-contained file that opens without a network."""

from optimizer.report.collect import aggregate
from optimizer.report.render import REPORT, render_html, write_report

__all__ = ["REPORT", "aggregate", "render_html", "write_report"]
