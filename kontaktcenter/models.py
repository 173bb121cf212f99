"""Imports every table so Alembic and create_all see the whole schema."""

from .accounts.models import PasswordLink, UserChange  # noqa: F401
from .auth.models import AuthEvent, RecoveryCode, TwoFactor, UserSession  # noqa: F401
from .casework.models import Escalation, KnowledgeArticle  # noqa: F401
from .channels.open311.models import Open311Details  # noqa: F401
from .channels.tokens.models import ApiToken  # noqa: F401
from .contacts.calls import AgentLeg, CallOffer, CallRequirement, CallTransfer  # noqa: F401
from .contacts.models import Contact  # noqa: F401
from .database import Base  # noqa: F401
from .directory.models import ContactReason, Department, Location, Queue, Service, User, UserLanguage  # noqa: F401
from .metrics.models import MetricRollup, MetricRollupDay  # noqa: F401
from .privacy.models import GallringRecord  # noqa: F401
from .routing.models import RoutingDecision, RuleSetRefusal  # noqa: F401
from .scheduling.models import JobRun  # noqa: F401
from .switchboard.models import StaffMember, SwitchboardRequest  # noqa: F401
from .tickets.models import AccessLog, Message, ReferenceCounter, Ticket, TicketEvent  # noqa: F401
