"""Sign-up, sign-in, sign-out and the server-side sessions behind them."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from pydantic import BaseModel, EmailStr, Field, field_validator
from sqlmodel import Session, col, func, select

from agent_platform.models import Membership, Organization, Role, User, UserSession
from agent_platform.models.base import utcnow
from agent_platform.settings import get_settings
from services import audit
from services.errors import Conflict, Forbidden, Invalid, NotFound, Unauthenticated
from services.ratelimit import LoginLimiter
from services.tokens import new_token, token_hash
from services.validation import parse

_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters
# A real hash to verify against when the account does not exist, so timing does not tell.
_DUMMY_HASH = _hasher.hash("not-a-real-password")
BAD_CREDENTIALS = "Email or password is incorrect."
# The one answer to a sign-up whose email already has an account (unless the password is
# that account's own, which simply signs its owner in): it does not say the account exists.
SIGN_UP_REFUSED = (
    "We could not create an account with these details. "
    "If you already have an account, sign in instead."
)
REGISTRATION_CLOSED = "Registration is closed on this instance; ask an admin for an invitation."


class RegisterInput(BaseModel):
    email: EmailStr
    name: str = Field(min_length=1, max_length=120)
    password: str = Field(min_length=10, max_length=256)

    @field_validator("name")
    @classmethod
    def _strip_name(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("Name is required")
        return value

    @field_validator("password")
    @classmethod
    def _password_strength(cls, value: str) -> str:
        if value.strip() == "" or len(set(value)) < 4:
            raise ValueError("Password is too simple")
        return value


def normalize_email(email: str) -> str:
    return email.strip().lower()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def _slugify(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:60] or "org"


def unique_slug(session: Session, name: str) -> str:
    base = _slugify(name)
    slug = base
    while session.exec(select(Organization.id).where(Organization.slug == slug)).first():
        slug = f"{base}-{uuid.uuid4().hex[:6]}"
    return slug


def create_organization(
    session: Session, owner: User, name: str, *, personal: bool
) -> Organization:
    org = Organization(name=name, slug=unique_slug(session, name), personal=personal)
    session.add(org)
    session.flush()
    session.add(Membership(org_id=org.id, user_id=owner.id, role=Role.OWNER))
    return org


def register(
    session: Session,
    *,
    email: str,
    name: str,
    password: str,
    client_ip: str | None = None,
    make_admin: bool = False,
) -> User:
    """Create a user and their personal organization; the very first user is instance admin."""
    data = parse(
        RegisterInput, {"email": normalize_email(email), "name": name, "password": password}
    )
    email_norm = normalize_email(data.email)
    if session.exec(select(User.id).where(User.email == email_norm)).first():
        # No field marks the email: the form must not confirm that an account exists.
        raise Conflict(SIGN_UP_REFUSED)
    first_user = session.exec(select(func.count()).select_from(User)).one() == 0
    user = User(
        email=email_norm,
        name=data.name,
        password_hash=hash_password(data.password),
        is_instance_admin=first_user or make_admin,
    )
    session.add(user)
    session.flush()
    # Organization names hold 120 characters; the suffix must not push a long name past it.
    org = create_organization(session, user, f"{data.name[:107]}'s workspace", personal=True)
    audit.record(session, "user.registered", org_id=org.id, actor_id=user.id, client_ip=client_ip)
    return user


@dataclass(frozen=True)
class LoginResult:
    token: str
    user: User
    org_id: uuid.UUID | None


def default_org_id(session: Session, user_id: uuid.UUID) -> uuid.UUID | None:
    return session.exec(
        select(Membership.org_id)
        .where(Membership.user_id == user_id)
        .order_by(col(Membership.created_at))
    ).first()


def _password_matches(user: User | None, password: str) -> bool:
    """Verify against a real hash even for an unknown email, so timing does not tell."""
    try:
        _hasher.verify(user.password_hash if user else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return False
    return user is not None and user.is_active


def _open_session(
    session: Session,
    user: User,
    password: str,
    *,
    client_ip: str | None,
    user_agent: str | None,
    session_days: int,
    replace_token: str | None,
) -> LoginResult:
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    if replace_token:
        revoke_session(session, replace_token)
    token = new_token()
    org_id = default_org_id(session, user.id)
    now = utcnow()
    session.add(
        UserSession(
            user_id=user.id,
            token_hash=token_hash(token),
            current_org_id=org_id,
            expires_at=now + timedelta(days=session_days),
            last_seen_at=now,
            client_ip=client_ip,
            user_agent=(user_agent or "")[:255] or None,
        )
    )
    user.last_login_at = now
    session.add(user)
    audit.record(session, "auth.login", org_id=org_id, actor_id=user.id, client_ip=client_ip)
    return LoginResult(token=token, user=user, org_id=org_id)


def login(
    session: Session,
    limiter: LoginLimiter,
    *,
    email: str,
    password: str,
    client_ip: str | None = None,
    user_agent: str | None = None,
    session_days: int = 14,
    replace_token: str | None = None,
) -> LoginResult:
    """Check credentials and open a server-side session; the browser gets only the token.

    The attempt is counted (per account+client and per client) before the password is
    checked; a success gives it back, so only failures make the next attempt wait.
    """
    email_norm = normalize_email(email)
    limiter.attempt(email_norm, client_ip)
    user = session.exec(select(User).where(User.email == email_norm)).first()
    if not _password_matches(user, password) or user is None:
        entry = audit.for_error(
            "auth.login_failed",
            org_id=default_org_id(session, user.id) if user else None,
            actor_id=user.id if user else None,
            client_ip=client_ip,
            email=email_norm[:320],
        )
        raise Unauthenticated(BAD_CREDENTIALS, audit=entry)
    limiter.succeeded(email_norm, client_ip)
    return _open_session(
        session,
        user,
        password,
        client_ip=client_ip,
        user_agent=user_agent,
        session_days=session_days,
        replace_token=replace_token,
    )


def sign_up(
    session: Session,
    limiter: LoginLimiter,
    *,
    email: str,
    name: str,
    password: str,
    client_ip: str | None = None,
    user_agent: str | None = None,
    session_days: int = 14,
    replace_token: str | None = None,
) -> LoginResult:
    """Create an account and sign it in, without telling anyone which emails have accounts.

    An email that already has an account: with that account's own password the owner is just
    signed in (as a new account would be); otherwise the answer is `SIGN_UP_REFUSED`, which
    names no field and does not say the account exists, and the try counts as a failed
    sign-in for the throttle, so probing emails here is as slow as guessing passwords.
    (There is no outgoing mail yet; with mail, this is where the owner would get a note.)
    The instance's registration switch is checked here, so no way in can forget it.
    """
    if not get_settings().registration_open:
        raise Forbidden(REGISTRATION_CLOSED)
    data = parse(
        RegisterInput, {"email": normalize_email(email), "name": name, "password": password}
    )
    email_norm = normalize_email(data.email)
    limiter.attempt(email_norm, client_ip)
    existing = session.exec(select(User).where(User.email == email_norm)).first()
    if existing is not None:
        if not _password_matches(existing, password):
            entry = audit.for_error(
                "auth.sign_up_existing",
                org_id=default_org_id(session, existing.id),
                actor_id=existing.id,
                client_ip=client_ip,
            )
            raise Conflict(SIGN_UP_REFUSED, audit=entry)
        user = existing
    else:
        user = register(
            session, email=email_norm, name=data.name, password=password, client_ip=client_ip
        )
    limiter.succeeded(email_norm, client_ip)
    return _open_session(
        session,
        user,
        password,
        client_ip=client_ip,
        user_agent=user_agent,
        session_days=session_days,
        replace_token=replace_token,
    )


def session_for_token(session: Session, token: str | None) -> UserSession | None:
    """The live session behind a browser token, or None if unknown, expired or revoked."""
    if not token:
        return None
    row = session.exec(
        select(UserSession).where(UserSession.token_hash == token_hash(token))
    ).first()
    if row is None or row.revoked_at is not None or row.expires_at <= utcnow():
        return None
    user = session.get(User, row.user_id)
    if user is None or not user.is_active:
        return None
    return row


def user_for_token(session: Session, token: str | None) -> User | None:
    row = session_for_token(session, token)
    return session.get(User, row.user_id) if row else None


def signed_in(session: Session, token: str | None) -> tuple[User, uuid.UUID]:
    """The user behind a browser token and the organization they are acting in."""
    row = session_for_token(session, token)
    user = session.get(User, row.user_id) if row else None
    org_id = (row.current_org_id or default_org_id(session, row.user_id)) if row else None
    if user is None or org_id is None:
        raise Unauthenticated("Your session has ended. Please sign in again.")
    return user, org_id


def revoke_session(session: Session, token: str) -> None:
    row = session_for_token(session, token)
    if row is not None:
        row.revoked_at = utcnow()
        session.add(row)


def logout(session: Session, token: str | None) -> None:
    row = session_for_token(session, token)
    if row is None:
        return
    row.revoked_at = utcnow()
    session.add(row)
    audit.record(session, "auth.logout", org_id=row.current_org_id, actor_id=row.user_id)


def switch_org(session: Session, token: str, org_id: uuid.UUID) -> UserSession:
    row = session_for_token(session, token)
    if row is None:
        raise Unauthenticated("Your session has ended. Please sign in again.")
    member = session.exec(
        select(Membership.id).where(Membership.org_id == org_id, Membership.user_id == row.user_id)
    ).first()
    if member is None:
        raise NotFound("Organization not found.")
    row.current_org_id = org_id
    session.add(row)
    return row


def create_admin(session: Session, *, email: str, name: str, password: str) -> User:
    """Shell path (`create-admin`): a new instance admin, or promote an existing account."""
    existing = session.exec(select(User).where(User.email == normalize_email(email))).first()
    if existing is not None:
        existing.is_instance_admin = True
        session.add(existing)
        audit.record(session, "user.promoted_admin", org_id=None, actor_id=existing.id)
        return existing
    user = register(session, email=email, name=name, password=password, make_admin=True)
    return user


def change_password(
    session: Session, user: User, *, current: str, new: str, keep_token: str | None = None
) -> None:
    try:
        _hasher.verify(user.password_hash, current)
    except (VerificationError, InvalidHashError):
        raise Invalid("Current password is incorrect.", fields={"current": "Incorrect"}) from None
    parse(RegisterInput, {"email": user.email, "name": user.name, "password": new})
    user.password_hash = hash_password(new)
    session.add(user)
    # A changed password ends every other sign-in: a stolen session must not outlive it.
    for other in session.exec(
        select(UserSession).where(
            UserSession.user_id == user.id, col(UserSession.revoked_at).is_(None)
        )
    ).all():
        if keep_token is None or other.token_hash != token_hash(keep_token):
            other.revoked_at = utcnow()
            session.add(other)
    audit.record(session, "user.password_changed", org_id=None, actor_id=user.id)
