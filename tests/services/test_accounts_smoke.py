from agent_platform.models import Role
from services import accounts
from tests.factories import PASSWORD, limiter, make_user, personal_actor


def test_first_user_is_admin_and_owns_personal_org(session):
    first = make_user(session)
    second = make_user(session)
    assert first.is_instance_admin and not second.is_instance_admin
    actor = personal_actor(session, first)
    assert actor.role == Role.OWNER


def test_login_then_token_resolves_until_logout(session):
    user = make_user(session, email="bob@example.com")
    session.commit()
    result = accounts.login(session, limiter(), email="BOB@example.com", password=PASSWORD)
    session.commit()
    assert accounts.user_for_token(session, result.token).id == user.id
    accounts.logout(session, result.token)
    session.commit()
    assert accounts.user_for_token(session, result.token) is None
