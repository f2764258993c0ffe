"""Who may do what: the one table of role permissions (DOMAIN.md's roles)."""

from __future__ import annotations

from enum import StrEnum

from backend.vocab import Role


class Permission(StrEnum):
    read_records = "read_records"  # parties, DDR, tracks, agreements; incidents by visibility
    report = "report"  # post incidents, DDR milestones, track activities
    verify = "verify"  # post verification events, edit any field report, plan DDR targets
    record_progress = "record_progress"  # move a commitment's implementation level
    manage_parties = "manage_parties"
    manage_agreements = "manage_agreements"
    manage_tokens = "manage_tokens"
    import_data = "import_data"  # load ACLED/UCDP history as incidents


_FIELD = {Permission.read_records, Permission.report}
_ANALYST = _FIELD | {Permission.verify, Permission.record_progress}

ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.reporter: frozenset(_FIELD),
    Role.analyst: frozenset(_ANALYST),
    Role.viewer: frozenset({Permission.read_records}),
    Role.admin: frozenset(Permission),
}


def allowed(role: Role, permission: Permission) -> bool:
    return permission in ROLE_PERMISSIONS[role]
