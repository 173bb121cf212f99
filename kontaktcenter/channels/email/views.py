"""The SendGrid Inbound Parse webhook /email/inbound: an e-mail becomes a ticket or joins one."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request

from ...auth.decorators import public
from ...database import db
from ...errors_http import answer_under
from ...extensions import csrf
from .inbound import credentials_ok, parse_inbound, receive_email

bp = Blueprint("email", __name__)
# A post that is not an e-mail we can take (errors_http calls it): SendGrid logs the reason.
answer_under("/email/", lambda error: (jsonify(error=str(error)), 400))
# SendGrid posts without our session or CSRF token; the shared secret protects the endpoint.
csrf.exempt(bp)


@bp.post("/email/inbound")
@bp.post("/email/inbound/<secret>")
@public
def inbound(secret: str | None = None):
    auth = request.authorization
    if not credentials_ok(current_app.config["INBOUND_EMAIL_SECRET"], secret, auth.password if auth else None):
        response = jsonify(error="forbidden: give the inbound e-mail secret in the URL or as the basic-auth password")
        response.status_code = 403
        response.headers["WWW-Authenticate"] = 'Basic realm="inbound-email"'
        return response
    received = receive_email(db.session, parse_inbound(request.form))
    db.session.commit()
    return jsonify(reference=received.ticket.reference, created=received.created), 200
