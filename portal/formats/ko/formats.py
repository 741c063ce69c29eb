"""Korean: year. month. day. with 오전/오후 before the time, as Korean Windows writes dates."""

from __future__ import annotations

DATE_FORMAT = "Y년 n월 j일"
SHORT_DATE_FORMAT = "Y. n. j."
TIME_FORMAT = "A g:i:s"
SHORT_DATETIME_FORMAT = "Y. n. j. A g:i:s"
DATETIME_FORMAT = "Y. n. j. A g:i"
YEAR_MONTH_FORMAT = "Y년 n월"
