"""The metrics part's scheduled jobs (imported by the scheduler's discovery)."""

from ..scheduling.jobs import register_job
from .rollups import rollup_job

register_job("metrics.rollup", rollup_job, trigger="cron", hour=2, minute=30)
