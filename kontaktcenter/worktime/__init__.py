"""Working time in Sweden: working days, eves, opening hours, SLA clocks (Europe/Stockholm)."""

from .calendar import WorkCalendar, calendar_from_config, current_calendar, department_of

__all__ = ["WorkCalendar", "calendar_from_config", "current_calendar", "department_of"]
