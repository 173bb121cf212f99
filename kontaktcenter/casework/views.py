"""The agent console, the ticket page, escalations, the knowledge base, search."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import format_decimal
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from wtforms.fields.choices import SelectChoice

from ..auth.decorators import roles_required
from ..contacts.citizen import mask_personnummer
from ..database import db, utcnow
from ..directory.models import PRESENCE, Queue, Service
from ..errors_http import back_on_error
from ..routing.service import latest_decision
from ..tickets.access import (
    CASE_ROLES,
    REASON_ROLES,
    can_read,
    can_write,
    citizen_identity,
    log_read,
    may_see,
)
from ..tickets.models import Ticket
from ..tickets.service import TicketError
from ..tickets.sla import next_due
from ..vocabulary import CHANNELS, LANGUAGES, OPEN_STATUSES
from . import escalation as escalations
from . import knowledge, reasons, service, workspace
from . import search as ticket_search
from .forms import URGENCY_CHOICES, ArticleForm, EscalationForm, ReasonForm, ReturnForm
from .gate import NeedsReason, grant, ticket_for
from .messaging import change_reply_address, post_message
from .models import Escalation, KnowledgeArticle

bp = Blueprint("casework", __name__)

PRESENCE_LABELS = {
    "available": _l("Tillgänglig"),
    "busy": _l("Upptagen"),
    "away": _l("Borta"),
    "offline": _l("Utloggad från köer"),
    "missed": _l("Missade samtal"),
}
CLOCK_LABELS = {"first_response": _l("första svar"), "accept": _l("accepteras"), "resolve": _l("löst")}
REPLY_LABELS = {"email": _l("e-post"), "sms": _l("SMS"), "phone": _l("telefon"), "none": _l("inget svar önskas")}


@bp.context_processor
def _labels() -> dict:
    return {
        "presence_labels": PRESENCE_LABELS,
        "reply_labels": REPLY_LABELS,
        "urgency_labels": {c.value: c.label for c in URGENCY_CHOICES},
        "mask_personnummer": mask_personnummer,
        "next_due": next_due,
        "clock_labels": CLOCK_LABELS,
    }


@bp.app_context_processor
def _workspace_words() -> dict:
    # Every staff page (the walk-in desk, the phone page) says codes in words the same way.
    return {
        "opener": workspace.opener,
        "needs_in_words": lambda contact: workspace.needs_in_words(contact, _locale()),
        "language_name": lambda code: workspace.language_name(code, _locale()),
        "event_label": workspace.event_label,
        "format_number": format_decimal,
    }


INBOX_ROLES = ("caseworker", "coordinator", "admin")
KNOWLEDGE_EDITORS = ("coordinator", "admin")


def _writable(reference: str) -> Ticket:
    """The ticket the current user acts on (gate.py: 404, 403, logged)."""
    return ticket_for(reference, write=True)


def _act(action: Callable[[], object], done_message: str, target: str):
    """Run one domain action, commit, flash the outcome, go to `target` (a refusal goes there too)."""
    back_on_error(target)
    action()
    db.session.commit()
    flash(done_message, "success")
    return redirect(target)


def _submit(
    form, action: Callable[[], object], error_field, done_message: Callable[[], str], target: Callable[[], str]
):
    """A form's one domain action: a redirect once it is done, else the status to show the form again with.

    A refused action puts its message on `error_field` and changes nothing.
    """
    if not form.validate_on_submit():
        return 400 if form.is_submitted() else 200
    try:
        action()
    except TicketError as exc:
        # Caught here, not by the page handler: the form is shown again with what was typed in it.
        db.session.rollback()
        # A refusal about one field of the form (e.g. the contact reason) is shown at that field.
        field = form._fields.get(exc.field) if exc.field else None
        (field or error_field).errors.append(str(exc))
        return 400
    db.session.commit()
    flash(done_message(), "success")
    return redirect(target())


# -- console ------------------------------------------------------------------


@bp.get("/console")
@roles_required(*CASE_ROLES)
def console():
    settings = current_app.config["workspace"]
    queues = service.console_queues(db.session, current_user)
    services = workspace.filter_services(db.session)
    error, status = None, 200
    try:
        flt = workspace.parse_filter(request.args, queues, services)
    except workspace.FilterError as exc:
        # Shown above the list, which is then unfiltered: a bad link still leads somewhere.
        error, status, flt = str(exc), 400, workspace.ConsoleFilter()
    page = workspace.console_page(
        db.session,
        current_user,
        flt,
        page_size=settings["page_size"],
        at_risk=timedelta(hours=settings["at_risk_hours"]),
    )
    mine = service.my_tickets(db.session, current_user)
    return render_template(
        "casework/console.html",
        summaries=service.queue_summaries(db.session, current_user),
        mine=mine,
        returned=workspace.returned_escalations(db.session, mine + page.tickets, _locale()),
        returned_to_me=workspace.returned_to_me(db.session, current_user, _locale()),
        # A confidential ticket the user may not read is not even listed (its existence is confidential).
        tickets=[t for t in page.tickets if may_see(current_user, t)],
        page=page,
        filter_error=error,
        queues=queues,
        services=services,
        channels=CHANNELS,
        languages=LANGUAGES,
        statuses=OPEN_STATUSES,
        presences=PRESENCE,
        can_read=can_read,
    ), status


@bp.post("/console/presence")
@roles_required(*CASE_ROLES)
def presence():
    back_on_error(url_for(".console"))
    service.change_presence(db.session, current_user, request.form.get("presence", ""), utcnow())
    flash(_("Din status är ändrad."), "success")
    return redirect(url_for(".console"))


@bp.post("/console/next")
@roles_required(*CASE_ROLES)
def take_next():
    ticket = service.take_next(db.session, current_user)
    if ticket is None:
        db.session.rollback()
        flash(_("Det finns inga ärenden att ta i dina köer."), "info")
        return redirect(url_for(".console"))
    db.session.commit()
    flash(_("Du har tagit ärendet."), "success")
    return redirect(url_for(".ticket", reference=ticket.reference))


# -- the ticket ----------------------------------------------------------------


@bp.get("/tickets/<reference>")
@roles_required(*CASE_ROLES, "manager")  # managers read their department's tickets (drill-down), never write
def ticket(reference: str):
    try:
        ticket = ticket_for(reference)
    except NeedsReason as needs:
        return redirect(url_for(".reason", reference=needs.ticket.reference))
    kb_query = request.args.get("kb", "").strip()[:200]
    answer = db.session.get(KnowledgeArticle, request.args.get("answer", type=int) or 0)
    quick_answers = knowledge.search(db.session, kb_query, service_id=None if kb_query else ticket.service_id, limit=10)
    return render_template(
        "casework/ticket.html",
        ticket=ticket,
        decision=latest_decision(db.session, ticket),
        related=service.citizen_contacts(db.session, current_user, ticket),
        can_write=can_write(current_user, ticket),
        escalations=escalations.escalations_of(db.session, ticket),
        pending=escalations.pending_escalation(db.session, ticket),
        identity=citizen_identity,
        reply_channel=ticket.reply_channel,
        can_read=can_read,
        quick_answers=quick_answers,
        kb_query=kb_query,
        answer=answer if answer and answer.active else None,
        reasons=reasons.reason_choices(db.session, ticket),
        reason_required=reasons.reason_required(ticket),
        returned=workspace.returned_escalations(db.session, [ticket], _locale()).get(ticket.id),
    )


@bp.route("/tickets/<reference>/skal", methods=["GET", "POST"])
@roles_required(*REASON_ROLES)
def reason(reference: str):
    """Reading a ticket outside one's own work: say why; the read is logged with it."""
    try:
        ticket = ticket_for(reference)
    except NeedsReason as needs:
        ticket = needs.ticket
    else:
        return redirect(url_for(".ticket", reference=ticket.reference))
    form = ReasonForm()
    if form.validate_on_submit():
        grant(ticket, form.reason.data.strip())
        return redirect(url_for(".ticket", reference=ticket.reference))
    return render_template("casework/reason.html", ticket=ticket, form=form), (400 if form.is_submitted() else 403)


@bp.post("/tickets/<reference>/take")
@roles_required(*CASE_ROLES)
def take(reference: str):
    ticket = _writable(reference)
    return _act(
        lambda: service.take(db.session, ticket, current_user),
        _("Du har tagit ärendet."),
        url_for(".ticket", reference=reference),
    )


@bp.post("/tickets/<reference>/reply")
@roles_required(*CASE_ROLES)
def reply(reference: str):
    ticket = _writable(reference)
    kind = request.form.get("kind", "reply")  # an unknown kind is refused by post_message, never sent as a reply
    done = {"note": _("Anteckningen är sparad."), "phone_note": _("Telefonanteckningen är sparad.")}.get(
        kind, _("Svaret är skickat.")
    )
    return _act(
        lambda: post_message(db.session, ticket, current_user, request.form.get("body", ""), kind),
        done,
        url_for(".ticket", reference=reference),
    )


@bp.post("/tickets/<reference>/reply-address")
@roles_required(*CASE_ROLES)
def reply_address(reference: str):
    """Where replies go, changed on the citizen's word: an explicit, logged action."""
    ticket = _writable(reference)
    return _act(
        lambda: change_reply_address(
            db.session, ticket, current_user, request.form.get("reply_channel", ""), request.form.get("reply_to", "")
        ),
        _("Svarsadressen är ändrad."),
        url_for(".ticket", reference=reference),
    )


@bp.post("/tickets/<reference>/waiting")
@roles_required(*CASE_ROLES)
def waiting(reference: str):
    ticket = _writable(reference)
    wait = request.form.get("waiting") == "1"
    return _act(
        lambda: service.set_waiting(db.session, ticket, current_user, wait),
        _("Ärendet väntar på medborgaren; tidsgränserna står still.") if wait else _("Ärendet är återupptaget."),
        url_for(".ticket", reference=reference),
    )


@bp.post("/tickets/<reference>/resolve")
@roles_required(*CASE_ROLES)
def resolve(reference: str):
    ticket = _writable(reference)
    back_on_error(url_for(".ticket", reference=reference))
    _resolve_with_reason(ticket)
    db.session.commit()
    return _after_resolving(reference, _("Ärendet är löst."))


@bp.post("/tickets/<reference>/reply-resolve")
@roles_required(*CASE_ROLES)
def reply_and_resolve(reference: str):
    """ "Skicka och lös": the reply and the resolution in one save; a refusal of either changes nothing."""
    ticket = _writable(reference)
    back_on_error(url_for(".ticket", reference=reference))
    if not ticket.is_open:
        raise TicketError("Ärendet är redan löst.")
    # The reason is checked before the reply goes out: a refused reason sends nothing.
    reasons.pick_reason(db.session, ticket, current_user, reasons.parse_reason_id(request.form.get("reason")))
    post_message(db.session, ticket, current_user, request.form.get("body", ""), request.form.get("kind", "reply"))
    service.resolve_ticket(db.session, ticket, current_user)
    db.session.commit()
    return _after_resolving(reference, _("Svaret är skickat och ärendet är löst."))


def _resolve_with_reason(ticket: Ticket) -> None:
    reasons.pick_reason(db.session, ticket, current_user, reasons.parse_reason_id(request.form.get("reason")))
    service.resolve_ticket(db.session, ticket, current_user)


def _after_resolving(reference: str, done: str):
    """With then=next, straight on to the next ticket, claimed exactly as "Ta nästa ärende" claims it."""
    if request.form.get("then") != "next":
        flash(done, "success")
        return redirect(url_for(".ticket", reference=reference))
    following = service.take_next(db.session, current_user)
    if following is None:
        db.session.rollback()
        flash(done + " " + _("Det finns inga fler ärenden att ta i dina köer."), "success")
        return redirect(url_for(".console"))
    db.session.commit()
    flash(done + " " + _("Nästa ärende: %(reference)s.", reference=following.reference), "success")
    return redirect(url_for(".ticket", reference=following.reference, _anchor="body"))


@bp.post("/tickets/<reference>/kunskap/<int:article_id>")
@roles_required(*CASE_ROLES)
def use_article(reference: str, article_id: int):
    """Use a knowledge-base answer on the ticket: recorded, then the answer fills the reply box."""
    ticket = _writable(reference)
    article = db.session.get(KnowledgeArticle, article_id)
    if article is None:
        abort(404)
    back_on_error(url_for(".ticket", reference=reference))
    knowledge.record_use(db.session, ticket, current_user, article)
    db.session.commit()
    return redirect(url_for(".ticket", reference=reference, answer=article.id, _anchor="body"))


# -- escalation ------------------------------------------------------------------


@bp.route("/tickets/<reference>/escalate", methods=["GET", "POST"])
@roles_required(*CASE_ROLES)
def escalate(reference: str):
    ticket = _writable(reference)
    form = EscalationForm()
    queues = escalations.department_queues(db.session)
    form.queue.choices = [SelectChoice(0, _("Välj kö"))] + [
        SelectChoice(q.id, f"{q.department.name(_locale())} – {q.name(_locale())}") for q in queues
    ]

    reason_list = reasons.reason_choices(db.session, ticket)
    form.reason.choices = [SelectChoice("", _("Välj orsak"))] + [
        SelectChoice(str(r.id), r.name(_locale())) for r in reason_list
    ]

    def to_queue() -> Queue:
        return db.session.get(Queue, form.queue.data)

    def escalate_with_reason() -> None:
        reasons.pick_reason(db.session, ticket, current_user, reasons.parse_reason_id(form.reason.data))
        escalations.escalate(
            db.session,
            ticket,
            current_user,
            to_queue(),
            escalations.Handover(
                form.citizen_wants.data, form.done_so_far.data or "", form.how_to_reach.data or "", form.urgency.data
            ),
            notify=form.notify.data,
        )

    status = _submit(
        form,
        escalate_with_reason,
        form.queue,
        lambda: _("Ärendet är eskalerat till %(queue)s.", queue=to_queue().name(_locale())),
        # The agent may no longer be allowed to read it (a confidential department).
        lambda: url_for(".ticket", reference=reference) if can_read(current_user, ticket) else url_for(".console"),
    )
    if not isinstance(status, int):
        return status
    if request.method == "GET" and not form.how_to_reach.data:
        form.how_to_reach.data = _how_to_reach(ticket)
    return render_template(
        "casework/escalate.html", ticket=ticket, form=form, reason_required=reasons.reason_required(ticket)
    ), status


def _how_to_reach(ticket: Ticket) -> str:
    """The ticket's own reply address, else what the contact that opened it gave."""
    if ticket.reply_to:
        return ticket.reply_to
    opener = next((c for c in ticket.contacts if c.placement == "new"), None)
    return ", ".join(v for v in (opener.citizen_phone, opener.citizen_email) if v) if opener else ""


def _locale() -> str:
    from ..extensions import current_locale

    return current_locale()


@bp.get("/inkorg")
@roles_required(*INBOX_ROLES)
def inbox():
    items = [item for item in escalations.inbox(db.session, current_user) if may_see(current_user, item.ticket)]
    return render_template("casework/inbox.html", items=items, can_read=can_read, can_write=can_write)


def _escalation_or_404(escalation_id: int) -> Escalation:
    escalation = db.session.get(Escalation, escalation_id)
    ticket = db.session.get(Ticket, escalation.ticket_id) if escalation else None
    if ticket is None or (ticket.confidential and not may_see(current_user, ticket)):
        abort(404)  # a confidential ticket's existence is hidden
    # Accepting or returning is the receiving department's.
    if current_user.department_id != escalation.department_id or not can_write(current_user, ticket):
        abort(403)
    if ticket.confidential or ticket.restricted:
        log_read(db.session, current_user, ticket, action=request.endpoint.removeprefix("casework."))
        db.session.commit()
    return escalation


@bp.post("/escalations/<int:escalation_id>/accept")
@roles_required(*INBOX_ROLES)
def accept(escalation_id: int):
    escalation = _escalation_or_404(escalation_id)
    reference = db.session.get(Ticket, escalation.ticket_id).reference
    return _act(
        lambda: escalations.accept(db.session, escalation, current_user),
        _("Du har accepterat eskaleringen och är handläggare för ärendet."),
        url_for(".ticket", reference=reference),
    )


@bp.route("/escalations/<int:escalation_id>/return", methods=["GET", "POST"])
@roles_required(*INBOX_ROLES)
def return_escalation(escalation_id: int):
    escalation = _escalation_or_404(escalation_id)
    ticket = db.session.get(Ticket, escalation.ticket_id)
    form = ReturnForm()
    status = _submit(
        form,
        lambda: escalations.return_to_contact_center(
            db.session, escalation, current_user, form.reason.data, notify=form.notify.data
        ),
        form.reason,
        lambda: _("Ärendet är återlämnat till kontaktcenter."),
        lambda: url_for(".inbox"),
    )
    if not isinstance(status, int):
        return status
    return render_template("casework/return.html", escalation=escalation, ticket=ticket, form=form), status


# -- search ----------------------------------------------------------------------


@bp.route("/sok", methods=["GET", "POST"])
@roles_required(*CASE_ROLES)
def search():
    # Identifiers travel only in a POST body: never in the URL, the server's request log,
    # a redirect or the browser's history. A GET shows the empty form, whatever it carries.
    raw = request.form.get("q", "") if request.method == "POST" else ""
    query, hits, error = None, [], None
    if raw.strip():
        try:
            query, hits = ticket_search.search(db.session, current_user, raw)
        except ticket_search.SearchError as exc:
            # Caught here: the search page shows it beside the query (kept in the form, never in a URL).
            error = str(exc)
        db.session.commit()  # the access log's row for an identifier search
    return render_template("casework/search.html", raw=raw, query=query, hits=hits, error=error), (
        400 if error else 200
    )


# -- knowledge base -----------------------------------------------------------------


@bp.get("/kunskapsbank")
@roles_required(*CASE_ROLES)
def knowledge_base():
    q = request.args.get("q", "").strip()[:200]
    editor = current_user.role in KNOWLEDGE_EDITORS
    articles = knowledge.search(db.session, q, include_inactive=editor, limit=200)
    return render_template("casework/knowledge.html", q=q, articles=articles, can_edit=knowledge.can_edit)


def _article_form(form: ArticleForm) -> list[Service]:
    services = knowledge.editable_services(db.session, current_user)
    form.service.choices = [SelectChoice(0, _("Välj tjänst"))] + [
        SelectChoice(s.id, s.name(_locale())) for s in services
    ]
    return services


@bp.route("/kunskapsbank/ny", methods=["GET", "POST"])
@roles_required(*KNOWLEDGE_EDITORS)
def new_article():
    form = ArticleForm()
    _article_form(form)
    return _save_article(
        form,
        None,
        lambda: knowledge.create_article(
            db.session, current_user, db.session.get(Service, form.service.data), form.title.data, form.body.data
        ),
    )


@bp.route("/kunskapsbank/<int:article_id>", methods=["GET", "POST"])
@roles_required(*KNOWLEDGE_EDITORS)
def edit_article(article_id: int):
    article = db.session.get(KnowledgeArticle, article_id)
    if article is None:
        abort(404)
    if not knowledge.can_edit(current_user, article.service):
        abort(403)  # it exists; another department keeps it
    form = ArticleForm(obj=None if request.method == "POST" else article)
    if request.method == "GET":
        form.service.data = article.service_id
    _article_form(form)
    return _save_article(
        form,
        article,
        lambda: knowledge.update_article(
            db.session,
            current_user,
            article,
            service=db.session.get(Service, form.service.data),
            title=form.title.data,
            body=form.body.data,
            active=form.active.data,
        ),
    )


def _save_article(form: ArticleForm, article: KnowledgeArticle | None, save):
    """Validate, save and go back to the knowledge base; or show the form again with 400."""
    status = _submit(
        form, save, form.title, lambda: _("Svaret är sparat i kunskapsbanken."), lambda: url_for(".knowledge_base")
    )
    if not isinstance(status, int):
        return status
    return render_template("casework/article.html", form=form, article=article), status
