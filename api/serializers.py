"""The API's representations. Thin: they shape JSON and describe request bodies; every
rule (who may, which state, which points) stays in tasks.services."""

from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts import security
from enterprises.models import Enterprise, Profile, Region, display_name
from scoring.figures import help_text
from scoring.models import CountyRanking, EnterpriseRanking
from tasks.models import (
    Assignment,
    AssignmentState,
    CheckIn,
    CheckInState,
    EnterpriseMove,
    Evidence,
    Indicator,
    Period,
    ReviewEvent,
)
from tasks.services import MAX_COMMENT_LENGTH, MAX_DESCRIPTION_LENGTH

# Largest id the database can hold (bigint): larger ones are rejected before any query.
MAX_ID = 2**63 - 1


# --- errors (for the schema; api.errors builds the bodies) ---------------------------------
class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField(help_text="What went wrong, in Chinese.")


class ValidationErrorSerializer(serializers.Serializer):
    """A 400 body: `detail` plus one list of messages per field that failed (see api.schema)."""

    detail = serializers.CharField(help_text="The first problem, in Chinese.")


# --- the user ---------------------------------------------------------------------------
NAME_HELP = (
    "How the portal names {who} to others: an office by its name (邳州市产改办), a liaison by person and"
    " enterprise (张三（徐州云集港口有限公司）); the username field beside it stays for compatibility."
)


class DisplayNameField(serializers.CharField):
    """A user's display name (enterprises.models.display_name), read only. Querysets load the
    users with `with_names(...)` so that a list costs no query per row."""

    def __init__(self, source, who, **kwargs):
        super().__init__(source=source, read_only=True, help_text=NAME_HELP.format(who=who), **kwargs)

    def to_representation(self, user):
        return display_name(user)


class MeSerializer(serializers.Serializer):
    username = serializers.CharField()
    display_name = serializers.CharField(help_text=NAME_HELP.format(who="the caller"))
    role = serializers.ChoiceField(choices=Profile.Role.choices, allow_null=True)
    enterprise = serializers.IntegerField(allow_null=True, help_text="The enterprise in scope (liaisons, enterprise observers).")
    county = serializers.IntegerField(allow_null=True, help_text="The county-level unit in scope, if any.")
    city = serializers.IntegerField(allow_null=True, help_text="The user's city.")
    scope_label = serializers.CharField(help_text="The name of the enterprise or region in scope.")


class TokenSerializer(serializers.Serializer):
    token = serializers.CharField(
        help_text="Send it as `Authorization: Token <token>`. It expires when unused for API_TOKEN_IDLE_HOURS"
        " (8 by default) and API_TOKEN_MAX_DAYS (30) after it was issued however much it is used; a"
        " password change or reset, /api/auth/logout/, /api/auth/logout-all/ and the city office end it"
        " sooner. A refused token is a 401: log in again."
    )


class LoginSerializer(serializers.Serializer):
    """A username and password that log in (accounts.security.authenticate_for_api), with
    DRF's token login messages.

    The username is at most as long as an account's: a longer one is a 400 before any check,
    since django-axes records a failed login's username in a varchar(255), and a 300-character
    one made the token endpoint answer 500 (found by the schemathesis fuzz). A wrong password
    and, outside DEBUG, the demo password get the same 400."""

    username = serializers.CharField(
        label=_("Username"),
        write_only=True,
        max_length=get_user_model()._meta.get_field(get_user_model().USERNAME_FIELD).max_length,
    )
    password = serializers.CharField(
        label=_("Password"), style={"input_type": "password"}, trim_whitespace=False, write_only=True
    )

    def validate(self, attrs):
        user = security.authenticate_for_api(
            self.context.get("request"), username=attrs["username"], password=attrs["password"]
        )
        if user is None:
            raise serializers.ValidationError(_("Unable to log in with provided credentials."), code="authorization")
        attrs["user"] = user
        return attrs


# --- the task library and the assignees -------------------------------------------------
class RegionSerializer(serializers.ModelSerializer):
    class Meta:
        model = Region
        fields = ["id", "name", "code", "level", "parent", "order"]


class EnterpriseSerializer(serializers.ModelSerializer):
    class Meta:
        model = Enterprise
        fields = ["id", "name", "credit_code", "county", "size_class", "ownership", "pilot_level", "employees", "is_active"]


class PeriodSerializer(serializers.ModelSerializer):
    accepts_submissions = serializers.SerializerMethodField()

    class Meta:
        model = Period
        fields = [
            "id",
            "name",
            "starts_on",
            "ends_on",
            "submission_deadline",
            "is_closed",
            "accepts_submissions",
        ]

    @extend_schema_field(OpenApiTypes.BOOL)
    def get_accepts_submissions(self, period):
        return period.accepts_submissions()


class IndicatorSerializer(serializers.ModelSerializer):
    applies_to_sizes = serializers.ListField(
        child=serializers.ChoiceField(choices=Enterprise.SizeClass.choices),
        help_text="Size classes the indicator applies to; empty means all.",
    )

    class Meta:
        model = Indicator
        fields = [
            "id",
            "code",
            "category",
            "title",
            "requirement",
            "evidence_hint",
            "scoring_guidance",
            "max_points",
            "target",
            "applies_to_sizes",
            "order",
            "is_active",
        ]


class AssignmentSerializer(serializers.ModelSerializer):
    state = serializers.ChoiceField(choices=AssignmentState.choices)
    indicator_code = serializers.CharField(source="indicator.code")
    indicator_title = serializers.CharField(source="indicator.title")
    max_points = serializers.DecimalField(
        source="indicator.max_points", max_digits=6, decimal_places=2, help_text=help_text("max_points")
    )
    assignee_name = serializers.CharField(help_text="The enterprise, or the county reform office.")
    is_county_office_task = serializers.BooleanField()

    class Meta:
        model = Assignment
        fields = [
            "id",
            "period",
            "indicator",
            "indicator_code",
            "indicator_title",
            "max_points",
            "enterprise",
            "county",
            "assignee_name",
            "is_county_office_task",
            "state",
            "points",
            "updated_at",
        ]
        read_only_fields = fields
        extra_kwargs = {"points": {"help_text": help_text("points")}}


# --- check-ins ----------------------------------------------------------------------------
class EvidenceSerializer(serializers.ModelSerializer):
    name = serializers.CharField(source="original_name")
    download_url = serializers.SerializerMethodField(help_text="Permission-checked download, as an attachment.")

    class Meta:
        model = Evidence
        fields = ["id", "name", "size", "content_type", "download_url", "carried_from"]
        extra_kwargs = {
            "carried_from": {
                "read_only": True,
                "help_text": "For a file kept from a returned version: the id of the file as it was first "
                "uploaded (the same stored file); null for a file uploaded with this version."
            }
        }

    @extend_schema_field(OpenApiTypes.STR)
    def get_download_url(self, evidence):
        return reverse("api:evidence-download", args=[evidence.pk])


class ReviewEventSerializer(serializers.ModelSerializer):
    actor = serializers.CharField(source="actor.username", help_text="The actor's username.")
    actor_name = DisplayNameField(source="actor", who="the actor")
    role = serializers.ChoiceField(source="actor_role", choices=Profile.Role.choices)
    action = serializers.ChoiceField(choices=ReviewEvent.Action.choices)
    from_state = serializers.SerializerMethodField(help_text="Null for the submission itself.")
    to_state = serializers.ChoiceField(choices=CheckInState.choices)

    class Meta:
        model = ReviewEvent
        fields = ["actor", "actor_name", "role", "action", "from_state", "to_state", "comment", "points", "at"]

    @extend_schema_field(serializers.ChoiceField(choices=CheckInState.choices, allow_null=True))
    def get_from_state(self, event):
        return event.from_state or None


class CheckInSerializer(serializers.ModelSerializer):
    state = serializers.ChoiceField(choices=CheckInState.choices)
    submitted_by = serializers.CharField(source="submitted_by.username", help_text="The submitter's username.")
    submitted_by_name = DisplayNameField(source="submitted_by", who="the submitter")
    period = serializers.IntegerField(source="assignment.period_id")
    indicator = serializers.IntegerField(source="assignment.indicator_id")
    enterprise = serializers.IntegerField(source="assignment.enterprise_id", allow_null=True)
    county = serializers.IntegerField(source="assignment.county_id")
    files = EvidenceSerializer(source="evidence", many=True)
    events = ReviewEventSerializer(many=True, help_text="The review trail of this version, oldest first.")

    class Meta:
        model = CheckIn
        fields = [
            "id",
            "assignment",
            "period",
            "indicator",
            "enterprise",
            "county",
            "state",
            "version",
            "description",
            "points",
            "submitted_by",
            "submitted_by_name",
            "submitted_at",
            "files",
            "events",
        ]
        read_only_fields = fields


class CheckInSubmitSerializer(serializers.Serializer):
    """A (re)submission: the service decides who may submit and which files are accepted."""

    assignment = serializers.IntegerField(min_value=1, max_value=MAX_ID)
    description = serializers.CharField(allow_blank=True, max_length=MAX_DESCRIPTION_LENGTH)
    files = serializers.ListField(
        child=serializers.FileField(allow_empty_file=True, use_url=False),
        allow_empty=True,
        required=False,
        default=list,
        help_text="New evidence files: PDF, JPG, PNG, Word, Excel or PowerPoint. At least one file in all "
        "(new and kept), at most the portal's limit (EVIDENCE_MAX_FILES) together.",
    )
    keep = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=MAX_ID),
        allow_empty=True,
        required=False,
        default=list,
        help_text="Only when resubmitting after a return: ids of files of the returned (latest) version to "
        "keep in the new version without uploading them again (repeat the field for several). The new "
        "version's files name the same stored files; each kept file shows `carried_from`. Any other id "
        "is a 400 under `keep` and nothing is submitted.",
    )


class ApproveSerializer(serializers.Serializer):
    comment = serializers.CharField(required=False, allow_blank=True, max_length=MAX_COMMENT_LENGTH)


class ReturnSerializer(serializers.Serializer):
    reason = serializers.CharField(allow_blank=True, max_length=MAX_COMMENT_LENGTH, help_text="Required, not blank.")


class ScoreSerializer(serializers.Serializer):
    points = serializers.DecimalField(max_digits=6, decimal_places=2, help_text="0 to the indicator's max points.")
    comment = serializers.CharField(required=False, allow_blank=True, max_length=MAX_COMMENT_LENGTH)


class ReopenSerializer(serializers.Serializer):
    reason = serializers.CharField(allow_blank=True, max_length=MAX_COMMENT_LENGTH, help_text="Required, not blank.")


class BatchReviewSerializer(serializers.Serializer):
    """One decision for many check-ins (tasks.batch): each item goes through the single action."""

    action = serializers.ChoiceField(
        choices=[("approve", "approve"), ("return", "return")],
        help_text="`approve`: county office, forward to the city office; `return`: city office, back to the assignee.",
    )
    ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=MAX_ID),
        allow_empty=False,
        max_length=500,
        help_text="The check-ins, at most 500 (a repeated id counts once). The results come in this order.",
    )
    comment = serializers.CharField(
        required=False, allow_blank=True, max_length=MAX_COMMENT_LENGTH, help_text="`approve`: optional, for all."
    )
    reason = serializers.CharField(
        required=False, allow_blank=True, max_length=MAX_COMMENT_LENGTH, help_text="`return`: required, for all."
    )


class BatchItemSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    ok = serializers.BooleanField(help_text="Whether this check-in was decided.")
    status = serializers.IntegerField(
        help_text="What the single action would have answered: 200, or 400/403/404/409 with `reason`."
    )
    reason = serializers.CharField(help_text="Why it was refused, in Chinese; empty when `ok`.")
    state = serializers.CharField(help_text="The check-in's state now; empty when not found.")
    state_label = serializers.CharField()
    assignee = serializers.CharField(help_text="Empty when not found in the user's scope.")
    indicator = serializers.CharField()
    version = serializers.IntegerField(allow_null=True)


class BatchResultSerializer(serializers.Serializer):
    action = serializers.CharField()
    succeeded = serializers.IntegerField()
    refused = serializers.IntegerField()
    items = BatchItemSerializer(many=True, help_text="One per distinct id, in the order asked.")


# --- moving an enterprise -------------------------------------------------------------------
class EnterpriseMoveSerializer(serializers.Serializer):
    """A move of an enterprise to another county-level unit of its city (tasks.moves decides)."""

    county = serializers.IntegerField(
        min_value=1, max_value=MAX_ID, help_text="The county-level unit of the same city to move the enterprise to."
    )
    reason = serializers.CharField(allow_blank=True, max_length=MAX_COMMENT_LENGTH, help_text="Required, not blank.")


class EnterpriseMoveRecordSerializer(serializers.ModelSerializer):
    moved_by = serializers.CharField(source="moved_by.username", help_text="The city office user who moved it.")
    moved_by_name = DisplayNameField(source="moved_by", who="the office that moved it")
    assignments_moved = serializers.IntegerField(help_text="Tasks of open periods that moved with the enterprise.")

    class Meta:
        model = EnterpriseMove
        fields = [
            "id", "enterprise", "from_county", "to_county", "moved_by", "moved_by_name", "reason", "at", "assignments_moved"
        ]
        read_only_fields = fields


# --- rankings -----------------------------------------------------------------------------
class NamedRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class CountyRankingSerializer(serializers.ModelSerializer):
    county = NamedRefSerializer()
    movement = serializers.IntegerField(
        allow_null=True, help_text="Places gained since the previous snapshot (negative: lost); null if new."
    )

    class Meta:
        # The figures' names and definitions are the pages' and the sheets' (scoring.figures).
        extra_kwargs = {
            "score": {"help_text": help_text("county_score")},
            "rank": {"help_text": help_text("rank")},
            "office_rate": {"help_text": help_text("office_score_rate")},
            "enterprise_mean_rate": {"help_text": help_text("enterprise_mean_rate")},
        }
        model = CountyRanking
        fields = [
            "county",
            "score",
            "rank",
            "movement",
            "office_points",
            "office_max_points",
            "office_rate",
            "enterprise_mean_rate",
            "enterprises_counted",
        ]
        read_only_fields = fields


class EnterpriseRankingSerializer(serializers.ModelSerializer):
    enterprise = NamedRefSerializer()
    county = NamedRefSerializer()
    # Annotated by EnterpriseRanking.objects.with_ranks() (the ranks are kept per points band).
    rank_in_county = serializers.IntegerField(read_only=True, help_text=help_text("rank"))
    rank_in_city = serializers.IntegerField(read_only=True, help_text=help_text("rank"))

    class Meta:
        extra_kwargs = {
            "points": {"help_text": help_text("points")},
            "max_points": {"help_text": help_text("max_points")},
            "score_rate": {"help_text": help_text("score_rate")},
        }
        model = EnterpriseRanking
        fields = [
            "enterprise",
            "county",
            "points",
            "max_points",
            "score_rate",
            "assigned_count",
            "scored_count",
            "rank_in_county",
            "rank_in_city",
        ]
        read_only_fields = fields
