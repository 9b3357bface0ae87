"""Property-based fuzz of the site's forms (hypothesis), as tests/test_api_fuzz.py does for
the API: every POST form of the site, as the role that sees it, answers random and hostile
values (NUL, lone surrogates, huge and non-finite numbers, nested and repeated keys, very
long text, hostile file names) with anything but a server error.

The forms are found, not listed: each page of PAGES is fetched as its role and every
<form method="post"> on it is parsed for its action, encoding and fields, so a form added
to one of these pages is fuzzed without touching this file. Bodies are encoded by hand
(urlencoded with lone surrogates passed through as their UTF-8 bytes), since the test
client would refuse to encode them; multipart forms are posted both ways.

On a developer machine every run draws new examples; with CI set they are derandomized.
"""

import os
from html.parser import HTMLParser
from urllib.parse import quote, urljoin, urlsplit

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from notices.models import Need
from notices.needs import report_need

from . import factories as f
from .helpers_domain import S as State
from .helpers_domain import drive

EXAMPLES = int(os.environ.get("SITE_FUZZ_EXAMPLES", 12))

HOSTILE_TEXT = [
    "\x00",
    "说明\x00",
    "\x00ent0001",
    "\ud800",
    "ok\udfff",
    "\ud83d\ude00",  # a valid pair once decoded
    "",
    " ",
    "9" * 400,
    "99999999999999999999999999999999",
    "-1",
    "1e309",
    "-1e999999999",
    "1e-999999999",
    "NaN",
    "Infinity",
    "0x10",
    "１０",  # full-width digits
    "8.999",
    "<script>alert(1)</script>",
    "' OR 1=1 --",
    "../../etc/passwd",
    "%00",
    "评" * 10_001,
    "a\r\nb",
    "\u202e",
]
HOSTILE_KEYS = ["points[0]", "comment[]", "reason[a][b]", "__proto__", "csrfmiddlewaretoken", "username[]", "a" * 300]
HOSTILE_FILE_NAMES = ["../../etc/passwd", "a\x00.pdf", "报告.pdf", "名字<script>.xlsx", "长" * 300 + ".pdf", ".pdf", "x"]


def text_values():
    return st.one_of(
        st.sampled_from(HOSTILE_TEXT),
        st.text(max_size=40),
        st.integers(min_value=-(10**30), max_value=10**30).map(str),
        st.floats(allow_nan=True, allow_infinity=True).map(repr),
        st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0x10FFFF, categories=["Cs", "Cc", "Lo"]), max_size=8),
    )


# --- finding the forms ----------------------------------------------------------------------


class FormParser(HTMLParser):
    """Every <form method="post"> of a page: action, enctype and its fields' names with the
    values they offer (select options, radio and checkbox values, hidden values)."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.forms = []
        self._form = None
        self._select = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            if (attrs.get("method") or "get").lower() == "post":
                self._form = {"action": attrs.get("action") or "", "enctype": attrs.get("enctype") or "", "fields": {}}
                self.forms.append(self._form)
            else:
                self._form = None
            return
        if self._form is None:
            return
        name = attrs.get("name")
        if tag in ("input", "textarea", "button") and name:
            kind = (attrs.get("type") or "text").lower() if tag == "input" else tag
            field = self._form["fields"].setdefault(name, {"kind": kind, "options": []})
            if attrs.get("value") is not None:
                field["options"].append(attrs["value"])
        elif tag == "select" and name:
            self._select = self._form["fields"].setdefault(name, {"kind": "select", "options": []})
        elif tag == "option" and self._select is not None:
            self._select["options"].append(attrs.get("value", ""))

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = None
        elif tag == "select":
            self._select = None


def forms_on(client, url):
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    parser = FormParser()
    parser.feed(response.content.decode())
    forms = []
    for form in parser.forms:
        action = urlsplit(urljoin(url, form["action"] or url))
        target = action.path + (f"?{action.query}" if action.query else "")
        if target.startswith("/accounts/logout/"):
            continue  # logs the fuzzing user out; has no fields
        forms.append({**form, "action": target})
    return forms


# --- drawing a body ---------------------------------------------------------------------------


@st.composite
def form_data(draw, form):
    """[(key, value), …] for `form`: each field left out, given one of its own values or a
    hostile one, sometimes repeated; plus sometimes a hostile extra key."""
    pairs = []
    for name, field in form["fields"].items():
        if field["kind"] in ("file", "submit"):
            continue
        choice = draw(st.sampled_from(["own", "hostile", "hostile", "missing", "repeated"]))
        if choice == "missing":
            continue
        if choice == "own" and field["options"]:
            pairs.append((name, draw(st.sampled_from(field["options"]))))
        elif choice == "repeated":
            pairs.extend((name, value) for value in draw(st.lists(text_values(), min_size=2, max_size=3)))
        else:
            pairs.append((name, draw(text_values())))
    if draw(st.booleans()):
        pairs.append((draw(st.sampled_from(HOSTILE_KEYS)), draw(text_values())))
    return pairs


def urlencoded(pairs):
    # Lone surrogates go on the wire as their (invalid) UTF-8 bytes, as a hostile client sends them.
    return "&".join(
        f"{quote(key, encoding='utf-8', errors='surrogatepass')}={quote(value, encoding='utf-8', errors='surrogatepass')}"
        for key, value in pairs
    )


def printable(value):
    return value.encode("utf-8", "surrogatepass").decode("utf-8", "replace")


def multipart(pairs, form, draw):
    data = {}
    for key, value in pairs:
        data.setdefault(printable(key), []).append(printable(value))
    for name, field in form["fields"].items():
        if field["kind"] == "file" and draw(st.booleans()):
            content = draw(st.one_of(st.binary(max_size=64), st.just(f.PDF_BYTES)))
            data[name] = [SimpleUploadedFile(draw(st.sampled_from(HOSTILE_FILE_NAMES)), content)]
    return data


# --- the world and its pages --------------------------------------------------------------


@pytest.fixture
def site(world, assignment_of):
    """Check-ins in every state a review form acts on, a need, and the pages showing each form."""
    e11, e12, e21, e22 = world.enterprises
    pending_county = drive(world, assignment_of(e11), State.PENDING_COUNTY_REVIEW)
    pending_city = drive(world, assignment_of(e12), State.PENDING_CITY_REVIEW)
    scored = drive(world, assignment_of(e21), State.SCORED)
    need = report_need(world.liaisons[0], Need.Category.TRAINING, "希望组织数控车工技能培训")
    return {
        "liaison": (
            world.liaisons[3],
            [
                reverse("tasks:assignment_detail", args=[assignment_of(e22).pk]),
                reverse("notices:need_create"),
                reverse("password_change"),
                reverse("notices:notification_list"),
            ],
        ),
        "county_office": (
            world.county_users[0],
            [
                reverse("tasks:checkin_detail", args=[pending_county.pk]),
                reverse("tasks:assignment_detail", args=[assignment_of(world.counties[0]).pk]),
                reverse("notices:need_detail", args=[need.pk]),
                reverse("notices:notice_create"),
                # The queue's batch selection and the batch confirmation (tasks.batch_views).
                reverse("tasks:review_queue"),
                reverse("tasks:batch_confirm") + f"?ids={pending_county.pk}",
            ],
        ),
        "city_office": (
            world.city_user,
            [
                reverse("tasks:checkin_detail", args=[pending_city.pk]),
                reverse("tasks:checkin_detail", args=[scored.pk]),
                reverse("unlock_accounts"),
                reverse("scoring:rule"),
                reverse("notices:notice_create"),
                reverse("notices:case_create", args=[scored.pk]),
                reverse("spreadsheets:index"),
                reverse("tasks:review_queue"),
                reverse("tasks:batch_confirm") + f"?ids={pending_city.pk}",
            ],
        ),
        "admin": (
            world.admin,
            [
                "/admin/tasks/period/add/",
                "/admin/tasks/indicator/add/",
                f"/admin/tasks/indicator/{world.ind.pk}/change/",
                "/admin/enterprises/enterprise/add/",
                f"/admin/enterprises/enterprise/{e11.pk}/change/",
                "/admin/enterprises/region/add/",
                "/admin/auth/user/add/",
                "/admin/enterprises/profile/add/",
            ],
        ),
    }


@pytest.mark.parametrize("role", ["liaison", "county_office", "city_office", "admin"])
def test_no_site_form_answers_hostile_input_with_a_server_error(site, role):
    user, pages = site[role]
    client = Client(raise_request_exception=False)
    client.force_login(user)
    forms = [form for page in pages for form in forms_on(client, page)]
    assert forms, f"no form found on the pages of {role}"
    failures = []

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=bool(os.environ.get("CI")),
        database=None,
    )
    @given(data=st.data())
    def fuzz(data):
        for form in forms:
            pairs = data.draw(form_data(form))
            response = client.post(form["action"], urlencoded(pairs), content_type="application/x-www-form-urlencoded")
            if response.status_code >= 500:
                failures.append((form["action"], "urlencoded", pairs, response.status_code))
            if form["enctype"].startswith("multipart/"):
                response = client.post(form["action"], multipart(pairs, form, data.draw))
                if response.status_code >= 500:
                    failures.append((form["action"], "multipart", pairs, response.status_code))
            client.force_login(user)  # a password change or a 403 page must not end the run

    fuzz()
    assert not failures, failures[:5]


def test_the_form_finder_finds_the_review_forms(site):
    """The fuzz is only as good as the forms it finds: the city office's check-in page has
    the score and return forms with their fields."""
    user, pages = site["city_office"]
    client = Client()
    client.force_login(user)
    forms = {form["action"]: form for form in forms_on(client, pages[0])}
    score = next(form for action, form in forms.items() if action.endswith("/score/"))
    assert {"points", "comment"} <= set(score["fields"])
    assert any(action.endswith("/return/") for action in forms)
