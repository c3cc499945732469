"""The check-in domain: check-ins and each goal's check-in schedule. No infrastructure here."""

from tandem_checkins.domain.checkin import CheckIn, Entry
from tandem_checkins.domain.errors import *  # noqa: F403
from tandem_checkins.domain.schedule import CheckInSchedule, period_of, period_start
from tandem_checkins.domain.values import *  # noqa: F403
