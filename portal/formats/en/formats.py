"""English: the classic portal's US order, month/day/year with a 12-hour clock."""

from __future__ import annotations

DATE_FORMAT = "N j, Y"
SHORT_DATE_FORMAT = "n/j/Y"
TIME_FORMAT = "g:i:s A"
# With seconds: job start and end times; without: ranges and schedules.
SHORT_DATETIME_FORMAT = "n/j/Y g:i:s A"
DATETIME_FORMAT = "n/j/Y g:i A"
YEAR_MONTH_FORMAT = "F Y"
