"""Settings → Model providers: the organization's LLM credentials (layout only)."""

from __future__ import annotations

import reflex as rx

from pages.components import confirm_dialog, data_table, empty_state, error_callout, shell
from pages.model_prices import model_prices_section
from pages.private_hosts import private_hosts_section
from state.providers import KIND_OPTIONS, ProvidersState

MODEL_REF_HELP = (
    "Agents reference a model as <provider name>/<model>, for example openai/gpt-4o-mini "
    "for a provider named “openai” that lists the model gpt-4o-mini."
)


def _input(
    label: rx.Component | str,
    name: str,
    *,
    default: rx.Var | str = "",
    type_: str = "text",
    placeholder: rx.Var | str = "",
    hint: rx.Var | str = "",
) -> rx.Component:
    """Like components.field, with a default value (the edit form) and a hint line."""
    errors = ProvidersState.field_errors
    return rx.vstack(
        rx.text(label, as_="label", size="2", weight="medium", html_for=name),
        rx.input(
            name=name,
            id=name,
            type=type_,
            default_value=default,
            placeholder=placeholder,
            auto_complete="off",
            width="100%",
            size="3",
            color_scheme=rx.cond(errors.contains(name), "red", "gray"),
        ),
        rx.cond(
            errors.contains(name),
            rx.text(errors[name].to(str), color_scheme="red", size="1", id=f"{name}-error"),
            rx.cond(hint != "", rx.text(hint, size="1", color_scheme="gray")),
        ),
        spacing="1",
        width="100%",
    )


def _kind_select() -> rx.Component:
    return rx.vstack(
        rx.text("Kind", as_="label", size="2", weight="medium", html_for="provider_kind"),
        rx.select.root(
            rx.select.trigger(id="provider_kind", width="100%"),
            rx.select.content(
                *[rx.select.item(o["label"], value=o["value"]) for o in KIND_OPTIONS]
            ),
            value=ProvidersState.form_kind,
            on_change=ProvidersState.set_form_kind,
            size="3",
        ),
        rx.cond(
            ProvidersState.field_errors.contains("provider_kind"),
            rx.text(
                ProvidersState.field_errors["provider_kind"].to(str), color_scheme="red", size="1"
            ),
        ),
        spacing="1",
        width="100%",
    )


def provider_form() -> rx.Component:
    editing = ProvidersState.editing_id != ""
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title(rx.cond(editing, "Edit provider", "Add provider")),
            rx.dialog.description(MODEL_REF_HELP, size="2", color_scheme="gray"),
            rx.form(
                rx.vstack(
                    _kind_select(),
                    _input(
                        "Name",
                        "provider_name",
                        default=ProvidersState.form_name,
                        placeholder="openai",
                        hint="Lowercase letters, digits, '-', '_' or '.'; used in model names.",
                    ),
                    _input(
                        "API key",
                        "provider_api_key",
                        type_="password",
                        placeholder=rx.cond(
                            editing & (ProvidersState.form_key_hint != ""),
                            "Stored key "
                            + ProvidersState.form_key_hint
                            + " (leave empty to keep it)",
                            "Paste the API key",
                        ),
                        hint=rx.cond(
                            editing, "Leave empty to keep the stored key.", "Stored encrypted."
                        ),
                    ),
                    _input(
                        rx.cond(
                            ProvidersState.form_needs_base,
                            "Base URL (required)",
                            "Base URL (optional)",
                        ),
                        "provider_api_base",
                        default=ProvidersState.form_api_base,
                        placeholder="https://api.example.com/v1",
                    ),
                    rx.cond(
                        ProvidersState.form_is_azure,
                        _input(
                            "API version",
                            "provider_api_version",
                            default=ProvidersState.form_api_version,
                            placeholder="2024-10-21",
                        ),
                    ),
                    _input(
                        "Models",
                        "provider_models",
                        default=ProvidersState.form_models,
                        placeholder="gpt-4o-mini, gpt-4o",
                        hint="Comma-separated. The first one is used by “Test connection”.",
                    ),
                    error_callout(ProvidersState.error, id_="provider-form-error"),
                    rx.hstack(
                        rx.dialog.close(
                            rx.button("Cancel", variant="soft", type="button", id="provider-cancel")
                        ),
                        rx.button("Save", type="submit", id="provider-save"),
                        justify="end",
                        spacing="3",
                        width="100%",
                    ),
                    spacing="3",
                    width="100%",
                ),
                on_submit=ProvidersState.save,
            ),
            max_width="520px",
        ),
        open=ProvidersState.form_open,
        on_open_change=ProvidersState.set_form_open,
    )


def _status(p: rx.Var) -> rx.Component:
    return rx.vstack(
        rx.match(
            p["status"],
            ("ok", rx.badge("OK", color_scheme="green")),
            ("error", rx.badge("Failed", color_scheme="red")),
            rx.text("Not tested", size="1", color_scheme="gray"),
        ),
        rx.cond(
            p["last_error"] != "",
            rx.text(p["last_error"], size="1", color_scheme="red", max_width="280px"),
        ),
        rx.text(p["checked"], size="1", color_scheme="gray"),
        spacing="1",
        id=f"provider-status-{p['name']}",
    )


def _delete_button(p: rx.Var) -> rx.Component:
    return confirm_dialog(
        rx.button(
            "Delete",
            color_scheme="red",
            variant="soft",
            size="1",
            id=f"provider-delete-{p['name']}",
        ),
        "Delete provider",
        rx.fragment(
            "Delete ",
            rx.code(p["name"]),
            " and its stored key? Agents that use its "
            "models will fail until you pick another model.",
        ),
        ProvidersState.delete(p["id"]),
        confirm_id="provider-delete-confirm",
    )


def _row(p: rx.Var) -> rx.Component:
    return rx.table.row(
        rx.table.cell(
            rx.text(p["name"], weight="medium"),
            rx.text(p["kind_label"], size="1", color_scheme="gray"),
        ),
        rx.table.cell(rx.text(p["api_base"], size="2", word_break="break-all")),
        rx.table.cell(rx.cond(p["key_hint"] != "", rx.code(p["key_hint"]), "—")),
        rx.table.cell(rx.text(p["models"], size="2")),
        rx.table.cell(_status(p)),
        rx.table.cell(
            rx.hstack(
                rx.button(
                    "Test connection",
                    size="1",
                    variant="soft",
                    loading=ProvidersState.checking_id == p["id"],
                    disabled=ProvidersState.checking_id != "",
                    on_click=ProvidersState.test_connection(p["id"]),
                    id=f"provider-test-{p['name']}",
                ),
                rx.button(
                    "Edit",
                    size="1",
                    variant="soft",
                    on_click=ProvidersState.open_edit(p["id"]),
                    id=f"provider-edit-{p['name']}",
                ),
                _delete_button(p),
                spacing="2",
                wrap="wrap",
            )
        ),
        id=f"provider-row-{p['name']}",
    )


def providers_table() -> rx.Component:
    headers = ["Provider", "Base URL", "Key", "Models", "Last check", ""]
    return data_table(headers, ProvidersState.providers, _row, id_="providers-table")


def providers_content() -> rx.Component:
    return rx.vstack(
        rx.flex(
            rx.text(MODEL_REF_HELP, size="2", color_scheme="gray", flex="1", min_width="240px"),
            rx.button(
                rx.icon("plus", size=16),
                "Add provider",
                on_click=ProvidersState.open_new,
                id="provider-add",
            ),
            spacing="3",
            wrap="wrap",
            align="center",
            width="100%",
        ),
        rx.cond(
            ~ProvidersState.form_open, error_callout(ProvidersState.error, id_="providers-error")
        ),
        rx.cond(
            ProvidersState.loading,
            rx.center(rx.spinner(size="3"), padding="32px", width="100%", id="providers-loading"),
            rx.cond(
                ProvidersState.providers.length() == 0,
                empty_state(
                    "cpu",
                    "No model providers yet",
                    "Add OpenAI, Anthropic, Gemini, Azure OpenAI, Ollama or any OpenAI-compatible "
                    "server. " + MODEL_REF_HELP,
                ),
                providers_table(),
            ),
        ),
        private_hosts_section(),
        model_prices_section(),
        provider_form(),
        spacing="4",
        width="100%",
    )


def providers_page() -> rx.Component:
    return shell(
        rx.link("← Settings", href="/settings", size="2", id="back-to-settings"),
        rx.box(height="12px"),
        rx.cond(
            ProvidersState.is_admin,
            providers_content(),
            empty_state(
                "lock",
                "Admins only",
                "Model providers hold this organization's API keys, so only owners and admins "
                "can see and change them. " + MODEL_REF_HELP,
            ),
        ),
        title="Model providers",
    )
