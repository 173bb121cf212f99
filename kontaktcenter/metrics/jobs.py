"""The metrics part's scheduled jobs (imported by the scheduler's discovery)."""

from ..scheduling.jobs import register_job
from .export_jobs import prune_exports_job
from .rollups import rollup_job

register_job("metrics.rollup", rollup_job, trigger="cron", hour=2, minute=30)
register_job("metrics.prune_exports", prune_exports_job, trigger="cron", hour=3, minute=40)
