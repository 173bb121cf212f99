"""The administrators' rules page: the rules in force, their version and the last refusal."""

from __future__ import annotations

from flask import Blueprint, render_template

from ..auth.decorators import roles_required
from ..database import db
from .service import last_refusal, rules_state

bp = Blueprint("routing", __name__)

# Coordinators propose routing changes, so they read the rules too.
RULES_ROLES = ("admin", "coordinator")


@bp.get("/admin/rules")
@roles_required(*RULES_ROLES)
def rules():
    state = rules_state()
    # Checking here too means an invalid change shows up even before the next contact.
    ruleset = state.get(db.session)
    refusal = last_refusal(db.session)
    db.session.commit()
    return render_template(
        "routing/rules.html",
        ruleset=ruleset,
        state=state,
        refusal=refusal,
        refusal_pending=refusal is not None and refusal.version == state.refused_version,
    )
