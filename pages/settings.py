"""Settings page: organization, members, invitations, API keys, audit log (layout only)."""

from __future__ import annotations

import reflex as rx

from pages.components import (
    confirm_dialog,
    data_table,
    empty_state,
    error_callout,
    field,
    shell,
)
from state.settings import (
    DEFAULT_ROLE_NAME,
    KEY_DAYS,
    KEY_ROLES,
    KEY_SCOPE_CHOICES,
    MEMBER_ROLES,
    SettingsState,
)


def _pager(page: rx.Var, pages: rx.Var, total: rx.Var, on_move, *, id_: str) -> rx.Component:
    return rx.hstack(
        rx.text(total, " total · page ", page + 1, " of ", pages, size="2", color_scheme="gray"),
        rx.spacer(),
        rx.button(
            "Previous",
            variant="soft",
            size="1",
            on_click=on_move(-1),
            disabled=page == 0,
            id=f"{id_}-prev",
        ),
        rx.button(
            "Next",
            variant="soft",
            size="1",
            on_click=on_move(1),
            disabled=page + 1 >= pages,
            id=f"{id_}-next",
        ),
        width="100%",
        align="center",
    )


def _self_approval() -> rx.Component:
    return rx.vstack(
        rx.text(
            rx.hstack(
                rx.switch(
                    checked=SettingsState.allow_self_approval,
                    on_change=SettingsState.set_self_approval,
                    disabled=~SettingsState.is_admin,
                    id="self-approval-switch",
                ),
                "Allow people to approve actions of their own runs",
                spacing="2",
                align="center",
            ),
            as_="label",
            size="2",
        ),
        rx.text(
            "Off: an action that asks a person first needs someone other than the person who "
            "started the run. Turn it on only if you work alone.",
            size="1",
            color_scheme="gray",
        ),
        spacing="1",
    )


def organization_tab() -> rx.Component:
    return rx.vstack(
        rx.form(
            rx.vstack(
                field(
                    "Organization name",
                    "org_name",
                    SettingsState.field_errors,
                    placeholder=SettingsState.org_name,
                ),
                rx.button(
                    "Rename", type="submit", disabled=~SettingsState.is_admin, id="rename-org"
                ),
                spacing="3",
                max_width="420px",
                width="100%",
            ),
            on_submit=SettingsState.rename,
        ),
        error_callout(SettingsState.form_error, id_="org-form-error"),
        _self_approval(),
        rx.heading("Plan: ", rx.badge(SettingsState.org_tier, size="3", id="org-tier"), size="4"),
        rx.grid(
            rx.foreach(
                SettingsState.limits,
                lambda item: rx.card(
                    rx.text(item[0], size="2", color_scheme="gray"),
                    rx.text(item[1], size="5", weight="bold"),
                ),
            ),
            columns=rx.breakpoints(initial="2", md="4"),
            spacing="3",
            width="100%",
        ),
        spacing="5",
        width="100%",
    )


def _member_row(m: rx.Var) -> rx.Component:
    return rx.table.row(
        rx.table.cell(
            rx.text(m["name"], weight="medium"), rx.text(m["email"], size="1", color_scheme="gray")
        ),
        rx.table.cell(
            rx.cond(
                SettingsState.is_admin,
                rx.select(
                    MEMBER_ROLES,
                    value=m["role"],
                    on_change=lambda r: SettingsState.change_role(m["id"], r),
                    size="1",
                ),
                rx.badge(m["role"]),
            )
        ),
        rx.table.cell(m["joined"]),
        rx.table.cell(
            rx.cond(
                SettingsState.is_admin,
                rx.alert_dialog.root(
                    rx.alert_dialog.trigger(
                        rx.button("Remove", color_scheme="red", variant="soft", size="1")
                    ),
                    rx.alert_dialog.content(
                        rx.alert_dialog.title("Remove member"),
                        rx.alert_dialog.description(
                            "Remove ", m["email"], " from this organization?"
                        ),
                        rx.hstack(
                            rx.alert_dialog.cancel(rx.button("Cancel", variant="soft")),
                            rx.alert_dialog.action(
                                rx.button(
                                    "Remove",
                                    color_scheme="red",
                                    on_click=SettingsState.remove_member(m["id"]),
                                )
                            ),
                            justify="end",
                            spacing="3",
                            margin_top="16px",
                        ),
                    ),
                ),
            )
        ),
    )


def members_tab() -> rx.Component:
    return rx.vstack(
        rx.form(
            rx.hstack(
                rx.input(
                    name="q", placeholder="Search name or email", id="member-search", width="100%"
                ),
                rx.button("Search", type="submit"),
                width="100%",
                max_width="480px",
            ),
            on_submit=SettingsState.search_members,
        ),
        rx.cond(
            SettingsState.members.length() == 0,
            empty_state("users", "No members found", "Try another search."),
            data_table(
                ["Member", "Role", "Joined", ""],
                SettingsState.members,
                _member_row,
                id_="members-table",
            ),
        ),
        _pager(
            SettingsState.member_page,
            SettingsState.member_pages,
            SettingsState.member_total,
            SettingsState.member_page_by,
            id_="members",
        ),
        spacing="4",
        width="100%",
    )


def _admin_only(*content: rx.Component) -> rx.Component:
    return rx.cond(
        SettingsState.is_admin,
        rx.vstack(*content, spacing="4", width="100%"),
        empty_state("lock", "Admins only", "Ask an owner or admin of this organization."),
    )


def _once_box(label: str, value: rx.Var, *, id_: str) -> rx.Component:
    return rx.cond(
        value != "",
        rx.callout(
            rx.vstack(
                rx.text(label, weight="bold"),
                rx.hstack(
                    rx.code(value, id=id_, word_break="break-all"),
                    rx.icon_button(
                        rx.icon("copy", size=14),
                        size="1",
                        variant="soft",
                        on_click=rx.set_clipboard(value),
                    ),
                    rx.button(
                        "Done, hide it",
                        size="1",
                        variant="soft",
                        on_click=SettingsState.forget_secrets,
                        id=f"{id_}-dismiss",
                    ),
                    align="center",
                    wrap="wrap",
                ),
            ),
            icon="key-round",
            color_scheme="green",
            width="100%",
        ),
    )


def invitations_tab() -> rx.Component:
    return _admin_only(
        rx.form(
            rx.flex(
                rx.box(
                    field("Email", "invite_email", SettingsState.field_errors, type_="email"),
                    flex="1",
                    min_width="220px",
                ),
                rx.vstack(
                    rx.text("Role", size="2", weight="medium"),
                    rx.select(
                        MEMBER_ROLES,
                        name="invite_role",
                        default_value=DEFAULT_ROLE_NAME,
                        id="invite-role-select",
                    ),
                    spacing="1",
                ),
                rx.button(
                    "Create invite link", type="submit", id="invite-submit", margin_top="22px"
                ),
                spacing="3",
                wrap="wrap",
                width="100%",
                align="start",
            ),
            on_submit=SettingsState.invite,
            reset_on_submit=False,  # a refused invitation keeps the address; `invite` clears it
        ),
        error_callout(SettingsState.form_error, id_="invite-form-error"),
        _once_box(
            "Invitation link (shown once):", SettingsState.new_invite_link, id_="invite-link"
        ),
        rx.cond(
            SettingsState.invites.length() == 0,
            empty_state("mail", "No pending invitations", "Invite someone by email above."),
            data_table(
                ["Email", "Role", "Expires", ""],
                SettingsState.invites,
                lambda i: rx.table.row(
                    rx.table.cell(i["email"]),
                    rx.table.cell(rx.badge(i["role"])),
                    rx.table.cell(i["expires"]),
                    rx.table.cell(
                        rx.button(
                            "Revoke",
                            size="1",
                            variant="soft",
                            color_scheme="red",
                            on_click=SettingsState.revoke_invite(i["id"]),
                        )
                    ),
                ),
                id_="invites-table",
            ),
        ),
    )


def _key_scopes() -> rx.Component:
    """What the new key may do besides reading (every key reads)."""
    return rx.vstack(
        rx.text("Scopes (read is always on)", size="2", weight="medium"),
        rx.hstack(
            *[
                rx.checkbox(
                    scope,
                    checked=SettingsState.key_scopes.contains(scope),
                    on_change=lambda on, scope=scope: SettingsState.toggle_key_scope(scope, on),
                    id=f"key-scope-{scope}",
                )
                for scope in KEY_SCOPE_CHOICES
            ],
            spacing="3",
            padding_top="6px",
        ),
        rx.cond(
            SettingsState.field_errors.contains("key_scopes"),
            rx.text(
                SettingsState.field_errors["key_scopes"],
                color_scheme="red",
                size="1",
                id="key_scopes-error",
            ),
        ),
        spacing="1",
    )


def keys_tab() -> rx.Component:
    return _admin_only(
        rx.form(
            rx.flex(
                rx.box(
                    field(
                        "Key name",
                        "key_name",
                        SettingsState.field_errors,
                        placeholder="CI pipeline",
                    ),
                    flex="1",
                    min_width="220px",
                ),
                rx.vstack(
                    rx.text("Role", size="2", weight="medium"),
                    rx.select(KEY_ROLES, name="key_role", default_value=DEFAULT_ROLE_NAME),
                    spacing="1",
                ),
                _key_scopes(),
                rx.vstack(
                    rx.text("Expires after (days)", size="2", weight="medium"),
                    rx.select(KEY_DAYS, name="key_days", default_value="never", id="key-days"),
                    spacing="1",
                ),
                rx.button("Create API key", type="submit", id="key-submit", margin_top="22px"),
                spacing="3",
                wrap="wrap",
                width="100%",
                align="start",
            ),
            on_submit=SettingsState.create_key,
            reset_on_submit=False,  # a refused key keeps what was typed; `create_key` clears it
        ),
        error_callout(SettingsState.form_error, id_="key-form-error"),
        _once_box(
            "New API key (shown once; use as `Authorization: Bearer <key>`):",
            SettingsState.new_key_secret,
            id_="new-key",
        ),
        rx.cond(
            SettingsState.keys.length() == 0,
            empty_state("key-round", "No API keys", "Create a key to use the REST API."),
            data_table(
                ["Name", "Key", "Role", "Scopes", "Expires", "Created", "Last used", ""],
                SettingsState.keys,
                lambda k: rx.table.row(
                    rx.table.cell(k["name"]),
                    rx.table.cell(rx.code(k["prefix"])),
                    rx.table.cell(rx.badge(k["role"])),
                    rx.table.cell(k["scopes"]),
                    rx.table.cell(k["expires"]),
                    rx.table.cell(k["created"]),
                    rx.table.cell(k["last_used"], class_name="key-last-used"),
                    rx.table.cell(
                        confirm_dialog(
                            rx.button("Revoke", size="1", variant="soft", color_scheme="red"),
                            "Revoke this API key?",
                            rx.fragment(
                                "Scripts using “",
                                k["name"],
                                "” (",
                                k["prefix"],
                                ") are refused from now on. This cannot be undone.",
                            ),
                            SettingsState.revoke_key(k["id"]),
                            confirm_id="key-revoke-confirm",
                            confirm_label="Revoke",
                        )
                    ),
                ),
                id_="keys-table",
            ),
        ),
    )


def audit_tab() -> rx.Component:
    return _admin_only(
        rx.cond(
            SettingsState.audit_rows.length() == 0,
            empty_state(
                "scroll-text", "No audit entries", "Security-relevant actions will appear here."
            ),
            data_table(
                ["When", "Actor", "Action", "Target", "IP", "Details"],
                SettingsState.audit_rows,
                lambda a: rx.table.row(
                    rx.table.cell(a["when"]),
                    rx.table.cell(rx.text(a["actor"], size="2"), class_name="audit-actor"),
                    rx.table.cell(rx.code(a["action"])),
                    rx.table.cell(a["target"]),
                    rx.table.cell(a["ip"]),
                    rx.table.cell(rx.text(a["details"], size="1")),
                ),
                id_="audit-table",
            ),
        ),
        _pager(
            SettingsState.audit_page,
            SettingsState.audit_pages,
            SettingsState.audit_total,
            SettingsState.audit_page_by,
            id_="audit",
        ),
    )


def settings_page() -> rx.Component:
    return shell(
        # Leaving the page forgets a shown-once key or invitation link.
        rx.box(on_unmount=SettingsState.forget_secrets, display="none"),
        error_callout(SettingsState.error, id_="settings-error"),
        rx.link(
            rx.hstack(
                rx.icon("cpu", size=16), rx.text("Model providers (LLM keys and endpoints) →")
            ),
            href="/settings/providers",
            id="to-providers",
            margin_bottom="12px",
        ),
        rx.link(
            rx.hstack(rx.icon("gauge", size=16), rx.text("Usage and monthly spend cap →")),
            href="/usage",
            id="to-usage",
            margin_bottom="12px",
            margin_left="16px",
        ),
        rx.tabs.root(
            rx.tabs.list(
                rx.tabs.trigger("Organization", value="organization", id="tab-organization"),
                rx.tabs.trigger("Members", value="members", id="tab-members"),
                rx.tabs.trigger("Invitations", value="invitations", id="tab-invitations"),
                rx.tabs.trigger("API keys", value="keys", id="tab-keys"),
                rx.tabs.trigger("Audit log", value="audit", id="tab-audit"),
                # wrap at phone width: a scrolling strip hides tabs past the screen's edge
                flex_wrap="wrap",
            ),
            rx.box(
                rx.tabs.content(organization_tab(), value="organization"),
                rx.tabs.content(members_tab(), value="members"),
                rx.tabs.content(invitations_tab(), value="invitations"),
                rx.tabs.content(keys_tab(), value="keys"),
                rx.tabs.content(audit_tab(), value="audit"),
                padding_top="16px",
            ),
            value=SettingsState.tab,
            on_change=SettingsState.set_tab,
            width="100%",
        ),
        title="Settings",
    )
