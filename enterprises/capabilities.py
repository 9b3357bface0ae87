"""Who may do what beyond the check-in workflow, decided once from the Profile (role, level,
city): export, import, publish a notice, report a need, curate example cases, unlock and
manage accounts, change the scoring rule, see county rankings, move an enterprise.

Every view, API permission, service and template asks here (templates through the
`caps` context variable); nothing else re-decides a role. The workflow's own transitions
(submit, approve, return, score, reopen) are not capabilities of this kind: they stay in
the one transition table of tasks/workflow.py. The system administrator (a superuser
without a portal role) is not a role either: the few services that let one through say so.
"""

from dataclasses import dataclass

from .models import Profile


def _is_reform_office(profile: Profile | None) -> bool:
    return profile is not None and (profile.is_city_office or profile.is_county_office)


def _is_city_office_of_a_city(profile: Profile | None) -> bool:
    return profile is not None and profile.is_city_office and profile.city is not None


def may_export(profile: Profile | None) -> bool:
    """The reform offices (city and county) download spreadsheets and open the spreadsheets
    page; liaisons and observers are read-only."""
    return _is_reform_office(profile)


def may_import(profile: Profile | None) -> bool:
    """Only the city office imports spreadsheets, into its own city."""
    return _is_city_office_of_a_city(profile)


def may_publish_notices(profile: Profile | None) -> bool:
    """The reform offices publish notices (a county office to its own county only)."""
    return _is_reform_office(profile)


def may_report_needs(profile: Profile | None) -> bool:
    """Enterprise liaisons report needs and problems."""
    return profile is not None and profile.is_liaison


def may_curate_cases(profile: Profile | None) -> bool:
    """The city office marks good-practice cases."""
    return profile is not None and profile.is_city_office


def may_unlock_accounts(profile: Profile | None) -> bool:
    """The city office looks after its city's accounts: unlocks lockouts, revokes API tokens."""
    return _is_city_office_of_a_city(profile)


def may_manage_accounts(profile: Profile | None) -> bool:
    """The reform offices create accounts, reset passwords and disable accounts: the city
    office for every account of its city, a county office for its county's liaisons
    (enterprises.scoping.accounts_managed_by says which)."""
    if profile is None or profile.region_id is None:
        return False
    return _is_city_office_of_a_city(profile) or profile.is_county_office


def may_create_office_accounts(profile: Profile | None) -> bool:
    """Only the city office creates office and observer accounts; a county office creates liaisons."""
    return _is_city_office_of_a_city(profile)


def may_change_scoring_rule(profile: Profile | None) -> bool:
    """The city office changes its periods' scoring rules."""
    return profile is not None and profile.is_city_office


def may_see_county_rankings(profile: Profile | None) -> bool:
    """County rankings are the city's supervision figures: the city office, every county
    office of the city and region observers see them; enterprise-level users do not."""
    if profile is None:
        return False
    if _is_reform_office(profile):
        return True
    return profile.is_observer and profile.region_id is not None


def may_move_enterprises(profile: Profile | None) -> bool:
    """The city office moves an enterprise to another county of its city."""
    return profile is not None and profile.is_city_office


@dataclass(frozen=True)
class Capabilities:
    """What one signed-in user may do, built once from the profile for the templates
    (`caps.may_export` ...), with the navigation facts the pages show by role."""

    may_export: bool = False
    may_import: bool = False
    may_publish_notices: bool = False
    may_report_needs: bool = False
    may_curate_cases: bool = False
    may_unlock_accounts: bool = False
    may_manage_accounts: bool = False
    may_change_scoring_rule: bool = False
    may_see_county_rankings: bool = False
    may_move_enterprises: bool = False
    # Navigation: who has a dashboard (observers read the rankings instead), a review
    # queue and the enterprise list (the reform offices), tasks of their own to submit
    # (liaisons and county offices), the whole city's tasks and queue (the city office),
    # one enterprise's own pages ("our ranking", no assignee column: a liaison's) and the
    # county whose ranking row is "ours" (a county office's).
    has_dashboard: bool = False
    reviews_checkins: bool = False
    lists_enterprises: bool = False
    has_own_tasks: bool = False
    oversees_city: bool = False
    speaks_for_enterprise: bool = False
    own_county_id: int | None = None

    @classmethod
    def of(cls, profile: Profile | None) -> "Capabilities":
        """The capabilities of `profile` (none at all for None: anonymous or no role)."""
        if profile is None:
            return cls()
        return cls(
            may_export=may_export(profile),
            may_import=may_import(profile),
            may_publish_notices=may_publish_notices(profile),
            may_report_needs=may_report_needs(profile),
            may_curate_cases=may_curate_cases(profile),
            may_unlock_accounts=may_unlock_accounts(profile),
            may_manage_accounts=may_manage_accounts(profile),
            may_change_scoring_rule=may_change_scoring_rule(profile),
            may_see_county_rankings=may_see_county_rankings(profile),
            may_move_enterprises=may_move_enterprises(profile),
            has_dashboard=not profile.is_observer,
            reviews_checkins=_is_reform_office(profile),
            lists_enterprises=_is_reform_office(profile),
            has_own_tasks=profile.is_liaison or profile.is_county_office,
            oversees_city=profile.is_city_office,
            speaks_for_enterprise=profile.is_liaison,
            own_county_id=profile.region_id if profile.is_county_office else None,
        )
