"""Small registries that features fill at init_app, so the kernel never imports a feature."""

from __future__ import annotations

from collections.abc import Callable

#: (name, seeder(actor, context)) in FEATURES order; `flask demo load` runs them all.
demo_seeders: list[tuple[str, Callable]] = []
#: Called with the set of years whose holiday table changed (center/cases recomputes its deadlines).
holiday_change_handlers: list[Callable] = []
#: Desk links for the navigation: (permission, label, endpoint, tier order).
desk_links: list[tuple[str, str, str, int]] = []


def register_holiday_change_handler(handler: Callable) -> None:
    """``handler(years)`` runs inside the transaction that changed those years' holiday table."""
    if handler not in holiday_change_handlers:
        holiday_change_handlers.append(handler)


def register_demo_seeder(name: str, seeder: Callable) -> None:
    if name not in {n for n, _ in demo_seeders}:
        demo_seeders.append((name, seeder))


def register_desk(permission: str, label: str, endpoint: str, order: int) -> None:
    if endpoint not in {e for _, _, e, _ in desk_links}:
        desk_links.append((permission, label, endpoint, order))
        desk_links.sort(key=lambda link: link[3])

#: Extra processes `make run` starts beside the web server: (name, flask CLI args).
background_processes: list[tuple[str, list[str]]] = []


def register_process(name: str, args: list[str]) -> None:
    if name not in {n for n, _ in background_processes}:
        background_processes.append((name, args))

#: Links on the user's own account page: (label, endpoint).
account_links: list[tuple[str, str]] = []


def register_account_link(label: str, endpoint: str) -> None:
    if endpoint not in {e for _, e in account_links}:
        account_links.append((label, endpoint))


#: Admin navigation added by features: (permission, label, endpoint).
admin_links: list[tuple[str, str, str]] = []
#: Callables(actor) -> list of (level, text) shown as persistent banners in the layout (e.g. a paused
#: WeChat channel for admins).
banner_providers: list[Callable] = []


def register_admin_link(permission: str, label: str, endpoint: str) -> None:
    if endpoint not in {e for _, _, e in admin_links}:
        admin_links.append((permission, label, endpoint))


def register_banner(provider: Callable) -> None:
    if provider not in banner_providers:
        banner_providers.append(provider)

#: Where an anonymous request for a protected page is sent before the login page: ``entry(request, next_path)``
#: returns a URL or None. notify/ registers WeChat's silent sign-in (only inside the WeChat browser).
sign_in_entries: list[Callable] = []


def register_sign_in_entry(entry: Callable) -> None:
    if entry not in sign_in_entries:
        sign_in_entries.append(entry)

#: Chinese names of audit actions and object types that features add (the audit log shows them).
audit_action_labels: dict[str, str] = {}
audit_object_labels: dict[str, str] = {}


def register_audit_labels(actions: dict[str, str] | None = None, objects: dict[str, str] | None = None) -> None:
    audit_action_labels.update(actions or {})
    audit_object_labels.update(objects or {})

#: Links a feature adds to the admin's user page: (permission, label, endpoint, name of the user-id argument).
user_links: list[tuple[str, str, str, str]] = []


def register_user_link(permission: str, label: str, endpoint: str, arg: str) -> None:
    if endpoint not in {e for _, _, e, _ in user_links}:
        user_links.append((permission, label, endpoint, arg))

#: Messages to a user on their existing channels (notify registers notify.outbox.enqueue): the kernel announces
#: security events this way — a new request between administrators, a break-glass recovery — without importing
#: notify. ``announcer(event, user, payload, key=...)``; with none registered (the kernel alone) nothing is sent.
announcers: list[Callable] = []


def register_announcer(announcer: Callable) -> None:
    if announcer not in announcers:
        announcers.append(announcer)


def announce(event: str, user, payload: dict, *, key: str) -> None:
    """Queue a security announcement for ``user`` in the caller's transaction (urgent: quiet hours do not hold
    it back)."""
    for announcer in announcers:
        announcer(event, user, payload, key=key)

#: API actions a service token may be scoped to (name → Chinese label), registered by the JSON API.
api_scopes: dict[str, str] = {}


def register_api_scope(name: str, label: str) -> None:
    api_scopes[name] = label

#: The page where an approved device binding is carried out for a user: (endpoint, name of the user-id argument);
#: notify registers its binding-code page (core.accounts.dual_control, bind_device requests).
device_binding_pages: list[tuple[str, str]] = []


def register_device_binding_page(endpoint: str, arg: str) -> None:
    if (endpoint, arg) not in device_binding_pages:
        device_binding_pages.append((endpoint, arg))

#: Housekeeping of a feature's own growing tables (core.housekeeping): (label, keeper(now) -> rows removed),
#: run in the job's transaction.
housekeepers: list[tuple[str, Callable]] = []


def register_housekeeper(label: str, keeper: Callable) -> None:
    if label not in {name for name, _ in housekeepers}:
        housekeepers.append((label, keeper))

#: What a message's link opens for its recipient (notify.outbox.enqueue): link(user, payload) -> a path to use
#: instead of payload["url"], or None. center.cases.card answers a signed read-only card for a staff member,
#: who cannot be signed in silently inside WeChat (the second factor).
message_links: list[Callable] = []


def register_message_link(link: Callable) -> None:
    if link not in message_links:
        message_links.append(link)
