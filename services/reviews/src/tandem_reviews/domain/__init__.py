"""The review domain. No infrastructure here."""

from tandem_reviews.domain.errors import *  # noqa: F403
from tandem_reviews.domain.register import ReviewRegister
from tandem_reviews.domain.review import STEPS, Review
from tandem_reviews.domain.values import *  # noqa: F403
