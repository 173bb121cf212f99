"""The codes the parts of the system share: channels, needs, languages, roles, statuses and outcomes.

Each closed list is defined here once; the models build their CHECK constraints from
these tuples (the migrations spell out the values they had), and every form, rule and
report checks against them. Labels for people are not here: they are translated where
they are shown. A list that one part alone uses stays beside its table.
"""

# How a citizen reaches the city; written contacts are answered within a working day
# (METRICS.md), live ones by someone there at the time.
CHANNELS = ("phone", "sms", "web", "email", "walk_in", "open311")
WRITTEN_CHANNELS = ("web", "email", "sms", "open311")
LIVE_CHANNELS = ("phone", "walk_in")
# How the citizen wants the answer.
REPLY_CHANNELS = ("email", "sms", "phone", "none")

# Accessibility needs (tolk: interpreter).
NEEDS = ("interpreter", "hearing", "vision", "easy_read")

# Languages Malmö's interpreter service is asked for most, plus the UI languages (ISO 639-1).
INTERPRETER_LANGUAGES = (
    "ar",
    "so",
    "ti",
    "fa",
    "ku",
    "bs",
    "pl",
    "uk",
    "ru",
    "tr",
    "sq",
    "am",
    "fi",
    "es",
    "fr",
    "de",
    "en",
)
# The languages a contact may be held in: a visit's, a skill of staff, a report's filter.
LANGUAGES = ("sv", "en", *[code for code in INTERPRETER_LANGUAGES if code != "en"])

# How a contact ended. A call that reached the queue ends in one of QUEUE_OUTCOMES (only
# those are counted as queued, METRICS.md); ivr_dropped: hung up in the IVR before that;
# switchboard: connected by name dialling straight to the person asked for, never queued
# (counted by the switchboard figures, not as a drop).
QUEUE_OUTCOMES = ("answered", "abandoned", "callback_requested")
WALK_IN_OUTCOMES = ("served", "left")
OUTCOMES = (*QUEUE_OUTCOMES, "ivr_dropped", "switchboard", *WALK_IN_OUTCOMES)

# Staff roles. dataskydd: the data-protection officer and registrator (access log,
# registerutdrag, rättelse, radering, begränsning); no casework.
ROLES = ("agent", "caseworker", "coordinator", "manager", "admin", "location_staff", "dataskydd")

# A ticket's status; every status but resolved is open.
STATUSES = ("new", "open", "waiting_citizen", "escalated", "resolved")
OPEN_STATUSES = ("new", "open", "waiting_citizen", "escalated")
# How a ticket was resolved; the first two mean at the kontaktcenter, never escalated.
KONTAKTCENTER_RESOLUTIONS = ("first_contact", "kontaktcenter")
RESOLUTIONS = (*KONTAKTCENTER_RESOLUTIONS, "department", "unresolved")

LOCATION_KINDS = ("contact_center", "branch", "library", "service_point")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

# What gallring does to a ticket when its service's retention period has passed.
RETENTION_ACTIONS = ("anonymise", "delete")
# The identifiers a citizen is found by (searches, registerutdrag), masked in every log.
IDENTIFIER_KINDS = ("personnummer", "phone", "email")
