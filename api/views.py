"""The REST API over the check-in workflow.

Like the site's views, each endpoint reads its input, looks objects up through
Model.objects.visible_to(user) (404 outside the user's scope), calls one service from
tasks.services or a selector from scoring.selectors, and renders. Domain errors become
JSON bodies in api.errors: 403 role, 404 scope, 409 state, 400 input.
"""

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Prefetch
from django.http import Http404
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import exceptions, generics, mixins, status, viewsets
from rest_framework.decorators import action, api_view, authentication_classes, permission_classes
from rest_framework.exceptions import NotFound
from rest_framework.pagination import PageNumberPagination
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import security
from chanjgai_portal.paginator import TwoEndedPaginator
from enterprises import capabilities
from enterprises.inputs import profile_or_403
from enterprises.models import Enterprise, Profile, Region, display_name, with_names
from scoring import selectors as ranking_selectors
from scoring.models import EnterpriseRanking
from tasks import batch, moves, services
from tasks import selectors as task_selectors
from tasks.evidence import ALLOWED_TYPES, attachment_response
from tasks.models import Assignment, CheckIn, Evidence, Indicator, Period, ReviewEvent
from tasks.upload_handlers import upload_refusal
from tasks.workflow import WorkflowError

from . import filters, serializers
from .authentication import ExpiringTokenAuthentication
from .errors import FieldValidationError
from .idempotent import IdempotentPostMixin
from .parsers import PortalJSONParser
from .permissions import MayTakeReviewAction
from .throttles import LoginFailureThrottle

Action = ReviewEvent.Action


# --- auth ---------------------------------------------------------------------------------
class TokenView(APIView):
    """Exchange a username and password for a new API token (sent as `Authorization: Token …`).

    Guarded like the browser login: a username + address locked out by django-axes gets 429
    (accounts.security), on top of the per-minute throttle of failures; outside DEBUG the
    demo password is a failed login like any wrong password (400), until it is changed on the
    website. The token expires when unused for API_TOKEN_IDLE_HOURS, and API_TOKEN_MAX_DAYS
    after it was issued in any case.
    """

    authentication_classes = []
    permission_classes = [AllowAny]
    throttle_classes = [LoginFailureThrottle]
    parser_classes = [PortalJSONParser, FormParser, MultiPartParser]

    def get_throttles(self):
        # Kept so that a refused login can be counted against the same key afterwards.
        self._throttles = super().get_throttles()
        return self._throttles

    def check_throttles(self, request):
        # A lockout says more than the throttle's "try again in n seconds": check it first.
        if request.method == "POST" and security.is_locked_out(request, self._username(request)):
            raise exceptions.Throttled(detail=security.lockout_message(request))
        super().check_throttles(request)

    @staticmethod
    def _username(request):
        return str(request.data.get("username", "")) if hasattr(request.data, "get") else ""

    @extend_schema(
        operation_id="auth_token_create",
        request=serializers.LoginSerializer,
        responses={200: serializers.TokenSerializer},
        tags=["auth"],
    )
    def post(self, request):
        serializer = serializers.LoginSerializer(data=request.data, context={"request": request})
        if not serializer.is_valid():
            for throttle in self._throttles:
                throttle.record_failure()
            # This failure may have been the one that locked the username + address.
            if getattr(request, "axes_locked_out", False):
                raise exceptions.Throttled(detail=security.lockout_message(request))
            serializer.is_valid(raise_exception=True)
        _token, key = security.issue_api_token(serializer.validated_data["user"])
        return Response({"token": key})


class LogoutView(APIView):
    """End the API token this request was sent with (other tokens of the user stay valid)."""

    authentication_classes = [ExpiringTokenAuthentication]

    @extend_schema(request=None, responses={204: None}, tags=["auth"])
    def post(self, request):
        security.revoke_api_token(request.auth)
        return Response(status=status.HTTP_204_NO_CONTENT)


class LogoutAllView(APIView):
    """End every API token of the user (every device and script logged in to the API)."""

    authentication_classes = [ExpiringTokenAuthentication]

    @extend_schema(request=None, responses={204: None}, tags=["auth"])
    def post(self, request):
        security.revoke_user_tokens(request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeView(APIView):
    """Who the caller is: role and the enterprise, county and city in scope."""

    @extend_schema(responses=serializers.MeSerializer, tags=["auth"])
    def get(self, request):
        profile = Profile.for_user(request.user)
        county = profile.county if profile else None
        city = profile.city if profile else None
        data = {
            "username": request.user.get_username(),
            "display_name": display_name(request.user),
            "role": profile.role if profile else None,
            "enterprise": profile.enterprise_id if profile else None,
            "county": county.pk if county else None,
            "city": city.pk if city else None,
            "scope_label": profile.scope_label if profile else "",
        }
        return Response(serializers.MeSerializer(data).data)


# --- read-only lists ------------------------------------------------------------------------
class ScopedViewSetMixin:
    """Every read of the viewset goes through its model's visible_to(user), as NetBox's
    RestrictedQuerySet does: the viewset's `queryset` names only joins, prefetches and order,
    so a list, a detail or an action's object can never be read outside the user's scope."""

    def get_queryset(self):
        return self.queryset.visible_to(self.request.user)


class ScopedReadOnlyViewSet(ScopedViewSetMixin, viewsets.ReadOnlyModelViewSet):
    """List and detail of a scoped queryset; an id outside it is a 404 with `not_found`."""

    not_found = None

    def get_object(self):
        try:
            return super().get_object()
        except Http404:
            raise Http404(str(self.not_found) if self.not_found else "") from None


@extend_schema_view(list=extend_schema(tags=["library"]), retrieve=extend_schema(tags=["library"]))
class RegionViewSet(ScopedReadOnlyViewSet):
    """The user's city and its county-level units."""

    serializer_class = serializers.RegionSerializer
    filterset_class = filters.RegionFilter
    queryset = Region.objects.order_by("level", "order", "code")


@extend_schema_view(list=extend_schema(tags=["library"]), retrieve=extend_schema(tags=["library"]))
class EnterpriseViewSet(IdempotentPostMixin, ScopedReadOnlyViewSet):
    """The enterprises in the user's scope."""

    serializer_class = serializers.EnterpriseSerializer
    filterset_class = filters.EnterpriseFilter

    not_found = gettext_lazy("No such enterprise.")
    # A concurrent move with the same Idempotency-Key that went first leaves the enterprise
    # in the new county: this one is then refused as "already in" that county (400).
    idempotency_conflicts = (WorkflowError, exceptions.ValidationError)
    queryset = Enterprise.objects.order_by("county__order", "name", "pk")

    @extend_schema(
        summary="City office: move the enterprise to another county-level unit of the city",
        description=(
            "Its tasks of open periods move with it (check-ins, evidence, progress counters and ranking rows): "
            "from then on the new county office reviews them and the old one gets 404. Closed periods keep the "
            "old county. Each moved check-in gets a review event `move`; the answer is the move's audit record."
        ),
        request=serializers.EnterpriseMoveSerializer,
        responses={200: serializers.EnterpriseMoveRecordSerializer},
        tags=["library"],
    )
    @action(detail=True, methods=["post"])
    def move(self, request, pk=None):
        moves.check_mover(request.user)  # 403 before anything else for any other role
        data = serializers.EnterpriseMoveSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        enterprise = self.get_object()
        answer = self.answer(
            status.HTTP_200_OK, lambda record: serializers.EnterpriseMoveRecordSerializer(record).data
        )
        try:
            moves.move_enterprise(
                request.user,
                enterprise,
                data.validated_data["county"],
                data.validated_data["reason"],
                outcome_hook=answer,
            )
        except DjangoValidationError as error:
            field = "county" if getattr(error, "code", None) in moves.COUNTY_ERRORS else "reason"
            raise FieldValidationError(field, error) from None
        return self.respond(answer)


@extend_schema_view(list=extend_schema(tags=["library"]), retrieve=extend_schema(tags=["library"]))
class PeriodViewSet(ScopedReadOnlyViewSet):
    """The assessment periods of the user's city, newest first."""

    serializer_class = serializers.PeriodSerializer
    filterset_class = filters.PeriodFilter
    queryset = Period.objects.order_by("-starts_on", "-pk")  # as tasks.selectors.periods_for


@extend_schema_view(list=extend_schema(tags=["library"]), retrieve=extend_schema(tags=["library"]))
class IndicatorViewSet(ScopedReadOnlyViewSet):
    """The task library of the user's city."""

    serializer_class = serializers.IndicatorSerializer
    filterset_class = filters.IndicatorFilter
    queryset = Indicator.objects.order_by("order", "code", "pk")


@extend_schema_view(list=extend_schema(tags=["workflow"]), retrieve=extend_schema(tags=["workflow"]))
class AssignmentViewSet(ScopedReadOnlyViewSet):
    """Check-in tasks in the user's scope; `county_office=true` for county offices' own tasks."""

    serializer_class = serializers.AssignmentSerializer
    filterset_class = filters.AssignmentFilter
    not_found = gettext_lazy("No such task.")
    queryset = Assignment.objects.select_related("indicator", "enterprise", "county").order_by(
        "period_id", "indicator__order", "indicator__code", "county__order", "enterprise__name", "pk"
    )


# --- check-ins ------------------------------------------------------------------------------
class UploadStopped(exceptions.APIException):
    """The upload was stopped while it streamed in: 413 for size, 400 for too many files."""

    def __init__(self, refusal):
        super().__init__(refusal.message)
        self.status_code = refusal.status


def _review_schema(request_serializer, summary):
    return extend_schema(
        summary=summary,
        request=request_serializer,
        responses={200: serializers.CheckInSerializer},
        tags=["workflow"],
    )


@extend_schema_view(
    list=extend_schema(tags=["workflow"]),
    retrieve=extend_schema(tags=["workflow"]),
    create=extend_schema(
        summary="Submit a check-in (or resubmit after a return)",
        description=(
            "Multipart: `assignment`, `description`, `files` (repeated) and, when resubmitting a returned "
            "check-in, `keep` (repeated): ids of files of the returned version to carry into the new version "
            "without uploading them again. At least one file in all; the file limit counts kept and new "
            "files together. A kept file is a new file entry of the new version naming the same stored "
            "file, with `carried_from` set."
        ),
        request={"multipart/form-data": serializers.CheckInSubmitSerializer},
        responses={201: serializers.CheckInSerializer},
        tags=["workflow"],
    ),
)
class CheckInViewSet(IdempotentPostMixin, mixins.CreateModelMixin, ScopedReadOnlyViewSet):
    """Check-in versions in the user's scope, newest first, with their files and review trail.

    Every POST answers with the check-in as it is when the change commits: the body is
    rendered inside the service's transaction (its outcome hook), so a failure after the
    commit cannot lose it, and with an Idempotency-Key a retry gets it again (api.idempotent).
    """

    serializer_class = serializers.CheckInSerializer
    filterset_class = filters.CheckInFilter
    permission_classes = [IsAuthenticated, MayTakeReviewAction]
    parser_classes = [MultiPartParser, FormParser, PortalJSONParser]
    # The actions that answer 413 when tasks.upload_handlers stopped their upload (api.schema).
    upload_actions = ("create",)
    # A batch is one transaction per item: its Idempotency-Key is held while they run.
    exclusive_actions = ("batch",)
    not_found = gettext_lazy("No such check-in.")
    review_actions = {
        "approve": Action.APPROVE,
        "return_checkin": Action.RETURN,
        "score": Action.SCORE,
        "reopen": Action.REOPEN,
    }

    queryset = (
        CheckIn.objects.with_related()
        .prefetch_related(
            "evidence",
            Prefetch("events", queryset=ReviewEvent.objects.select_related(*with_names("actor")).order_by("at", "pk")),
        )
        .order_by("-submitted_at", "-pk")
    )

    def _answer(self, status_code=status.HTTP_200_OK):
        """The services' outcome hook: the changed check-in's representation, read back inside
        the transaction of the change."""
        return self.answer(
            status_code, lambda checkin: serializers.CheckInSerializer(self.get_queryset().get(pk=checkin.pk)).data
        )

    def create(self, request, *args, **kwargs):
        data = serializers.CheckInSubmitSerializer(data=request.data)
        refusal = upload_refusal(request)  # the upload was stopped at a size or count limit
        if refusal is not None:
            raise UploadStopped(refusal)
        data.is_valid(raise_exception=True)
        description = data.validated_data["description"]
        assignment = task_selectors.assignment_for_detail(request.user, data.validated_data["assignment"])
        answer = self._answer(status.HTTP_201_CREATED)
        try:
            services.submit_checkin(
                request.user,
                assignment,
                description,
                data.validated_data["files"],
                keep=data.validated_data["keep"],
                outcome_hook=answer,
            )
        except DjangoValidationError as error:
            # The service checks the description first, then the kept files (code "keep"), then the files.
            if not description.strip():
                field = "description"
            else:
                field = "keep" if getattr(error, "code", None) == "keep" else "files"
            raise FieldValidationError(field, error) from None
        return self.respond(answer)

    def _review(self, request, serializer_class, error_field, call):
        """Validate the body's shape, find the check-in in scope (404), run the service
        (`call(checkin, outcome_hook, **fields)`)."""
        data = serializer_class(data=request.data)
        data.is_valid(raise_exception=True)
        checkin = self.get_object()
        answer = self._answer()
        try:
            call(checkin, answer, **data.validated_data)
        except DjangoValidationError as error:
            raise FieldValidationError(error_field, error) from None
        return self.respond(answer)

    @_review_schema(serializers.ApproveSerializer, "County office: forward to the city office")
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None):
        return self._review(
            request,
            serializers.ApproveSerializer,
            "comment",
            lambda checkin, hook, comment="": services.approve(request.user, checkin, comment, outcome_hook=hook),
        )

    @_review_schema(serializers.ReturnSerializer, "County or city office: return to the assignee with a reason")
    @action(detail=True, methods=["post"], url_path="return", url_name="return")
    def return_checkin(self, request, pk=None):
        return self._review(
            request,
            serializers.ReturnSerializer,
            "reason",
            lambda checkin, hook, reason: services.return_checkin(
                request.user, checkin, reason, outcome_hook=hook
            ),
        )

    @_review_schema(serializers.ScoreSerializer, "City office: award points")
    @action(detail=True, methods=["post"])
    def score(self, request, pk=None):
        # The comment's length is checked by the serializer, so what the service refuses is the points.
        return self._review(
            request,
            serializers.ScoreSerializer,
            "points",
            lambda checkin, hook, points, comment="": services.score(
                request.user, checkin, points, comment, outcome_hook=hook
            ),
        )

    @_review_schema(serializers.ReopenSerializer, "City office: reopen a scored check-in for city review")
    @action(detail=True, methods=["post"])
    def reopen(self, request, pk=None):
        return self._review(
            request,
            serializers.ReopenSerializer,
            "reason",
            lambda checkin, hook, reason: services.reopen(request.user, checkin, reason, outcome_hook=hook),
        )

    @extend_schema(
        summary="Batch: approve (county office) or return (city office) many check-ins",
        description=(
            "Each check-in goes through the single action (`approve/`, `return/`) in its own transaction,"
            " with its own review event and notification, and is refused on its own: one that someone"
            " else decided first is `status` 409 in its item while the others go through; one outside"
            " the user's scope is 404 (nothing about it is told). The answer is 200 with one item per"
            " distinct id, in the order asked. The whole batch is refused before anything changes for a"
            " bad body (400: no ids, more than 500, a missing `reason` for `return`) or a role that may"
            " not take the action in a batch (403)."
        ),
        request=serializers.BatchReviewSerializer,
        responses={200: serializers.BatchResultSerializer},
        examples=[
            OpenApiExample(
                "Approve three",
                request_only=True,
                value={"action": "approve", "ids": [101, 102, 103], "comment": "材料齐全，同意上报"},
            ),
            OpenApiExample(
                "Return two", request_only=True, value={"action": "return", "ids": [201, 202], "reason": "佐证材料不全"}
            ),
            OpenApiExample(
                "One refused",
                response_only=True,
                status_codes=["200"],
                value={
                    "action": "approve",
                    "succeeded": 1,
                    "refused": 1,
                    "items": [
                        {
                            "id": 101, "ok": True, "status": 200, "reason": "", "state": "pending_city_review",
                            "state_label": "待市产改办审核", "assignee": "徐州云集港口有限公司",
                            "indicator": "B01 开展劳动技能竞赛等技术提升措施", "version": 1,
                        },
                        {
                            "id": 102, "ok": False, "status": 409, "reason": "已被他人处理（当前状态：已退回）。",
                            "state": "returned", "state_label": "已退回", "assignee": "徐州恒达机械制造有限公司",
                            "indicator": "B01 开展劳动技能竞赛等技术提升措施", "version": 2,
                        },
                    ],
                },
            ),
        ],
        tags=["workflow"],
    )
    @action(detail=False, methods=["post"])
    def batch(self, request):
        data = serializers.BatchReviewSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        try:
            if values["action"] == "approve":
                result = batch.batch_approve(request.user, values["ids"], values.get("comment", ""))
            else:
                result = batch.batch_return(request.user, values["ids"], values.get("reason", ""))
        except DjangoValidationError as error:
            raise FieldValidationError("comment" if values["action"] == "approve" else "reason", error) from None
        return Response(serializers.BatchResultSerializer(result.as_dict()).data)


# Every content type an evidence file can be served with.
EVIDENCE_CONTENT_TYPES = sorted({content_type for content_type, _magic in ALLOWED_TYPES.values()})


class EvidenceDownloadView(APIView):
    """An evidence file in the user's scope, as an attachment."""

    @extend_schema(
        responses={(200, content_type): OpenApiTypes.BINARY for content_type in EVIDENCE_CONTENT_TYPES},
        tags=["workflow"],
    )
    def get(self, request, pk):
        try:
            evidence = Evidence.objects.visible_to(request.user).get(pk=pk)
        except Evidence.DoesNotExist:
            raise Http404(_("No such file.")) from None
        return attachment_response(evidence.file, evidence.original_name, evidence.content_type)


# --- rankings -------------------------------------------------------------------------------
PERIOD_PARAMETER = OpenApiParameter(
    "period", OpenApiTypes.INT, description="A period of the user's city; default: the current one."
)
COUNTY_PARAMETER = OpenApiParameter("county", OpenApiTypes.INT, description="Only this county-level unit.")


class CountyRankingView(APIView):
    """The county ranking of the period's latest snapshot, best first (reform offices and
    region observers)."""

    @extend_schema(
        parameters=[PERIOD_PARAMETER],
        responses={200: serializers.CountyRankingSerializer(many=True)},
        tags=["rankings"],
    )
    def get(self, request):
        profile = profile_or_403(request.user)
        if not capabilities.may_see_county_rankings(profile):
            # Same message as the services give a role that may not act (already in the catalog).
            raise PermissionDenied(_("Your role cannot do this."))
        period = ranking_selectors.period_for(profile, request.query_params.get("period"))
        rows = ranking_selectors.county_rankings_for(profile, ranking_selectors.latest_snapshot(period))
        return Response(serializers.CountyRankingSerializer(rows, many=True).data)


class RankingPagination(PageNumberPagination):
    # Deep pages of a province's ranking read from the nearer end (no OFFSET past the middle).
    django_paginator_class = TwoEndedPaginator


class EnterpriseRankingView(generics.GenericAPIView):
    """The enterprise ranking of the period's latest snapshot in the user's scope, best first."""

    serializer_class = serializers.EnterpriseRankingSerializer
    filter_backends = []
    pagination_class = RankingPagination

    @extend_schema(
        parameters=[PERIOD_PARAMETER, COUNTY_PARAMETER],
        responses=serializers.EnterpriseRankingSerializer(many=True),
        tags=["rankings"],
    )
    def get(self, request):
        profile = profile_or_403(request.user)
        period = ranking_selectors.period_for(profile, request.query_params.get("period"))
        county = ranking_selectors.county_for(profile, request.query_params.get("county"))
        rows = ranking_selectors.enterprise_rankings_for(request.user, ranking_selectors.latest_snapshot(period), county)
        page = self.paginate_queryset(rows)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    def get_queryset(self):  # for the schema generator only
        return EnterpriseRanking.objects.none()


@extend_schema(exclude=True)
@api_view(["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
@authentication_classes([])
@permission_classes([AllowAny])
def unknown_endpoint(request, *args, **kwargs):
    """Any other URL under /api/: a JSON 404 like the rest of the API, not the site's page."""
    raise NotFound()
