"""API tokens: the administrators' page and `kontaktcenter api-token create`."""

import re

from sqlalchemy import select

from kontaktcenter.channels.tokens.models import ApiToken
from kontaktcenter.channels.tokens.service import hash_token


def test_admin_creates_a_token_shown_once_and_stored_hashed(client, auth, session):
    auth.login("admin")
    response = auth.post(
        "/admin/api-tokens", {"name": "Stadens app", "scope": "open311"}, csrf_page="/admin/api-tokens"
    )
    assert response.status_code == 200
    raw = re.search(r'<code class="token">(kc_[^<]+)</code>', response.get_data(as_text=True)).group(1)
    token = session.scalar(select(ApiToken).where(ApiToken.name == "Stadens app"))
    assert token.scope == "open311"
    assert token.token_hash == hash_token(raw)
    assert raw not in client.get("/admin/api-tokens").get_data(as_text=True)


def test_token_form_needs_a_name(client, auth, session):
    auth.login("admin")
    response = auth.post("/admin/api-tokens", {"name": "", "scope": "open311"}, csrf_page="/admin/api-tokens")
    assert response.status_code == 400
    assert "Skriv vem som ska använda nyckeln." in response.get_data(as_text=True)
    assert session.scalar(select(ApiToken).where(ApiToken.name == "")) is None


def test_revoked_token_stops_working(client, auth, session, make_token):
    raw = make_token("services:read", "gammalt system")
    token = session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(raw)))
    auth.login("admin")
    auth.post(f"/admin/api-tokens/{token.id}/revoke", csrf_page="/admin/api-tokens")
    auth.logout()
    assert client.get("/api/v1/services", headers={"Authorization": f"Bearer {raw}"}).status_code == 401


def test_only_administrators_see_the_token_page(client, auth):
    auth.login("agent")
    assert client.get("/admin/api-tokens").status_code == 403


def test_cli_creates_a_working_token(runner, client, session):
    result = runner.invoke(args=["api-token", "create", "--name", "Integration", "--scope", "services:read"])
    assert result.exit_code == 0, result.output
    raw = result.output.strip().splitlines()[-1]
    assert client.get("/api/v1/services", headers={"Authorization": f"Bearer {raw}"}).status_code == 200


def test_cli_refuses_an_unknown_scope(runner):
    result = runner.invoke(args=["api-token", "create", "--name", "X", "--scope", "allt"])
    assert result.exit_code == 2
    assert "allt" in result.output
