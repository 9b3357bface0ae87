"""`manage.py seed_demo`: the demo city 徐州市 with its enterprises, task library, period,
assignments, accounts and some check-in progress, so that every page has something to show.

Deterministic (one random.Random(seed)) and idempotent: rows are looked up by their natural
keys (region code, credit code, username, (city, indicator code), (city, period name)) and
only missing ones are created, so a second run changes nothing. The demo progress goes
through the real workflow services, only on the first run (while the period has no check-ins).
"""

import contextlib
import datetime
import logging
import random
import time
import zlib
from collections import Counter
from decimal import Decimal
from zoneinfo import ZoneInfo

from celery.signals import task_success
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group, Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from demo import data
from demo.evidence_samples import chinese_pdf, sample_photo
from enterprises.credit_code import ALPHABET, make_code
from enterprises.models import Enterprise, Profile, Region
from scoring import recompute
from tasks import services
from tasks.models import Assignment, CheckIn, Indicator, Period

CITY_OFFICE_GROUP = "市产改办"
CITY_OFFICE_APPS = ("enterprises", "tasks", "scoring")
SHANGHAI = ZoneInfo("Asia/Shanghai")

# Demo progress: the share of enterprises with check-ins, and a bound for big benchmarks.
PROGRESS_SHARE = 0.15
PROGRESS_MAX_ENTERPRISES = 150

# What happens to one demo check-in, with weights.
OUTCOMES = [
    ("scored", 40),
    ("pending_city", 18),
    ("pending_county", 20),
    ("returned_by_county", 8),
    ("returned_by_city", 6),
    ("resubmitted", 8),
]


def liaison_username(index):
    """ent0001 … ent0767 (and ent100000 for big benchmarks); `index` counts from 0."""
    return f"ent{index + 1:04d}"


def county_username(index):
    return f"county{index + 1:02d}"


# The demo's read-only observer (产改观察员), reading the whole city.
OBSERVER_USERNAME = "observer"
# Accounts named by the command rather than numbered.
NAMED_USERNAMES = ["admin", "city", OBSERVER_USERNAME]


def person_name(username):
    """A Chinese name for a demo office or observer account, the same on every run."""
    rng = random.Random(f"person {username}")
    return rng.choice(data.SURNAMES) + "".join(rng.choice(data.GIVEN_CHARS) for _ in range(rng.randint(1, 2)))


def office_phone(region_code):
    """A Xuzhou landline (0516-8xxxxxxx) for a region's reform office, the same on every run."""
    return f"0516-8{zlib.crc32(f'office {region_code}'.encode()) % 10**7:07d}"


def _weighted(rng, pairs):
    values, weights = zip(*pairs, strict=True)
    return rng.choices(values, weights=weights)[0]


def _org_serial(index):
    """A distinct organisation-code body "MA" + 6 characters for every index (< 31**6)."""
    n = (index * 7_919_993 + 12_345_678) % 31**6
    chars = []
    for _ in range(6):
        n, r = divmod(n, 31)
        chars.append(ALPHABET[r])
    return "MA" + "".join(reversed(chars))


def demo_enterprises(count, seed):
    """Yield `count` enterprise rows as dicts. Row i depends only on the seed and rows before
    it, so a bigger `count` extends a smaller one instead of changing it."""
    rng = random.Random(seed)
    county_names = [name for name, _code, _w in data.COUNTIES]
    county_weights = [w for _n, _c, w in data.COUNTIES]
    names = set()
    for index in range(count):
        if index == 0:
            name, county, size, ownership, pilot, employees = data.FIRST_ENTERPRISE
        else:
            county = rng.choices(county_names, weights=county_weights)[0]
            size = _weighted(rng, data.SIZE_WEIGHTS)
            ownership = _weighted(rng, data.OWNERSHIP_WEIGHTS)
            pilot = _weighted(rng, data.PILOT_WEIGHTS_BY_SIZE[size])
            employees = rng.randint(*data.EMPLOYEES_BY_SIZE[size])
            name = _enterprise_name(rng, names, index, county, size)
        names.add(name)
        liaison = rng.choice(data.SURNAMES) + "".join(rng.choice(data.GIVEN_CHARS) for _ in range(rng.randint(1, 2)))
        phone = rng.choice(data.PHONE_PREFIXES) + f"{rng.randrange(10**8):08d}"
        yield {
            "index": index,
            "name": name,
            "county": county,
            "size_class": size,
            "ownership": ownership,
            "pilot_level": pilot,
            "employees": employees,
            "liaison_name": liaison,
            "liaison_phone": phone,
        }


def _enterprise_name(rng, taken, index, county, size):
    words = data.TRADE_NAMES
    forms = data.COMPANY_FORMS_BY_SIZE[size]
    prefixes = ["徐州", data.NAME_PREFIX_BY_COUNTY.get(county, "徐州")]
    for _attempt in range(30):
        if rng.random() < 0.5:
            trade = rng.choice(words)
        else:  # recombine two names' halves for variety: 恒达, 鑫泰 …
            trade = rng.choice(words)[0] + rng.choice(words)[1]
            if trade[0] == trade[1]:
                continue
        name = f"{rng.choice(prefixes)}{trade}{rng.choice(data.INDUSTRIES)}{rng.choice(forms)}"
        if name not in taken:
            return name
    return f"徐州{rng.choice(words)}{rng.choice(data.INDUSTRIES)}第{index}分公司"


# A few real files (tasks.previews makes their thumbnails and page images) shared by every demo
# check-in: each is stored per check-in, and its previews are rendered once (same bytes).
DEMO_FILE_VARIANTS = 4


def _demo_files(title, version):
    """A one-page PDF in Chinese about the task and a photo, as the real liaisons upload
    (chosen by the title, so that the seed's random sequence, and with it the demo, stays as
    it was): one document per task and version, one photo of four."""
    variant = zlib.crc32(f"{title} {version}".encode()) % DEMO_FILE_VARIANTS
    pdf = _sample(
        ("pdf", title, version),
        lambda: chinese_pdf(f"{title} {version}", title=title[:28] if version == 1 else f"{title[:24]}（补充）"),
    )
    photo = _sample(("photo", variant), lambda: sample_photo(variant))
    name = title[:24]
    return [
        SimpleUploadedFile(f"{name}佐证材料{'' if version == 1 else '（补充）'}.pdf", pdf, content_type="application/pdf"),
        SimpleUploadedFile(f"{name}现场照片.jpg", photo, content_type="image/jpeg"),
    ]


_SAMPLES = {}


@contextlib.contextmanager
def jobs_counted_quietly():
    """Count the jobs that run while seeding instead of logging each: eager Celery (the demo
    without a broker) logs a line per job at INFO, some 1,200 on a first `make run`. A job
    that fails is still logged (celery.app.trace logs failures as errors)."""
    counts = Counter()

    def count(sender=None, **_kwargs):
        counts[getattr(sender, "name", str(sender))] += 1

    trace = logging.getLogger("celery.app.trace")
    level = trace.level
    trace.setLevel(max(logging.WARNING, level))
    task_success.connect(count, weak=False)
    try:
        yield counts
    finally:
        task_success.disconnect(count)
        trace.setLevel(level)


def _sample(key, make):
    if key not in _SAMPLES:
        _SAMPLES[key] = make()
    return _SAMPLES[key]


class Command(BaseCommand):
    help = (
        "Create (or complete) the demo city 徐州市: 11 county-level units, enterprises, the task "
        "library, the 2026 period, assignments, demo accounts and some check-in progress. "
        "Deterministic and idempotent: running it again changes nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--password",
            default=settings.DEMO_PASSWORD,
            help="Password of every new demo account (default: the DEMO_PASSWORD setting).",
        )
        parser.add_argument(
            "--enterprises", type=int, default=767, help="How many enterprises (default 767; e.g. 100000 for benchmarks)."
        )
        parser.add_argument("--seed", type=int, default=2026, help="Random seed (default 2026).")
        parser.add_argument(
            "--no-progress", action="store_true", help="Do not create demo check-ins, reviews and scores."
        )

    def handle(self, *args, **options):
        count = options["enterprises"]
        if count < 1:
            raise CommandError("--enterprises must be at least 1.")
        self.verbosity = options["verbosity"]
        self.started = time.monotonic()
        self.password_hash = make_password(options["password"])
        self.changed = False  # whether an enterprise, indicator or the period was created
        seed = options["seed"]

        # The scores given while seeding would each schedule a recompute when the transaction
        # commits; the snapshot computed at the end already includes them all.
        with jobs_counted_quietly() as jobs, recompute.coalesced_recomputes() as pending_recomputes:
            with transaction.atomic():
                city, counties = self.seed_regions()
                enterprise_ids = self.seed_enterprises(city, counties, count, seed)
                users = self.seed_accounts(city, counties, enterprise_ids)
                period = self.seed_task_library(city)
                if self.changed or not Assignment.objects.filter(period=period).exists():
                    created = services.generate_assignments(period)
                    self.step(f"assignments: {created} new, {Assignment.objects.filter(period=period).count()} in all")
                else:
                    # Nothing this command owns is new, so neither are the assignments.
                    self.step("assignments: unchanged")
                progressed = False
                if not options["no_progress"]:
                    progressed = self.seed_progress(period, counties, enterprise_ids, users, seed)
                if progressed or not period.snapshots.exists():
                    recompute.recompute_now(period, trigger="seed_demo")
                    self.step("ranking snapshot computed")
            pending_recomputes.discard(period.pk)
        if jobs:
            kinds = ", ".join(f"{name.rsplit('.', 1)[-1]} {n}" for name, n in sorted(jobs.items()))
            self.step(f"background jobs run: {sum(jobs.values())} ({kinds})")

        self.print_logins(city, counties, count, options["password"])

    # -- steps --------------------------------------------------------------------------

    def step(self, message):
        if self.verbosity >= 1:
            self.stdout.write(f"[{time.monotonic() - self.started:6.1f}s] {message}")

    def seed_regions(self):
        province, _ = Region.objects.get_or_create(
            code=data.PROVINCE[1], defaults={"name": data.PROVINCE[0], "level": Region.Level.PROVINCE}
        )
        city, _ = Region.objects.get_or_create(
            code=data.CITY[1], defaults={"name": data.CITY[0], "level": Region.Level.CITY, "parent": province}
        )
        counties = []
        for order, (name, code, _weight) in enumerate(data.COUNTIES, start=1):
            county, _ = Region.objects.get_or_create(
                code=code, defaults={"name": name, "level": Region.Level.COUNTY, "parent": city, "order": order}
            )
            counties.append(county)
        # The offices' phones (whom a locked-out liaison calls), also for a demo seeded before
        # regions had one: only blanks are filled, so an office's own number stays.
        for region in [city, *counties]:
            if not region.office_phone:
                region.office_phone = office_phone(region.code)
                Region.objects.filter(pk=region.pk, office_phone="").update(office_phone=region.office_phone)
        self.step(f"regions: {data.PROVINCE[0]} → {data.CITY[0]} → {len(counties)} county-level units")
        return city, counties

    def seed_enterprises(self, city, counties, count, seed):
        """Create the missing enterprises; return their ids in generation order."""
        county_by_name = {c.name: c for c in counties}
        rows = []
        for row in demo_enterprises(count, seed):
            county = county_by_name[row.pop("county")]
            row["credit_code"] = make_code("9", "1", county.code, _org_serial(row.pop("index")))
            row["county_id"] = county.pk
            rows.append(row)
        existing = dict(
            Enterprise.objects.filter(county__parent=city).values_list("credit_code", "pk")
        )
        new = [Enterprise(**row) for row in rows if row["credit_code"] not in existing]
        Enterprise.objects.bulk_create(new, batch_size=2000)
        self.changed |= bool(new)
        if new:
            existing = dict(Enterprise.objects.filter(county__parent=city).values_list("credit_code", "pk"))
        self.step(f"enterprises: {len(new)} new, {len(rows)} requested")
        return [existing[row["credit_code"]] for row in rows]

    def seed_accounts(self, city, counties, enterprise_ids):
        """The city office, the county offices, one liaison per enterprise, the city's
        observer and `admin`, with the people's names (a liaison is its enterprise's contact)."""
        User = get_user_model()
        wanted = {"city": ("city_office", city.pk)}
        for i, county in enumerate(counties):
            wanted[county_username(i)] = ("county_office", county.pk)
        for i, enterprise_id in enumerate(enterprise_ids):
            wanted[liaison_username(i)] = ("enterprise_liaison", enterprise_id)
        wanted[OBSERVER_USERNAME] = ("observer", city.pk)

        existing = set(User.objects.filter(username__in=NAMED_USERNAMES).values_list("username", flat=True))
        existing |= set(
            User.objects.filter(username__regex=r"^(ent|county)[0-9]+$").values_list("username", flat=True)
        )
        new_users = [
            User(username=name, password=self.password_hash, is_staff=(name == "city"))
            for name in wanted
            if name not in existing
        ]
        if "admin" not in existing:
            new_users.append(
                User(username="admin", password=self.password_hash, is_staff=True, is_superuser=True)
            )
        User.objects.bulk_create(new_users, batch_size=2000)

        ids = dict(
            User.objects.filter(username__in=NAMED_USERNAMES).values_list("username", "pk")
        )
        ids.update(User.objects.filter(username__regex=r"^(ent|county)[0-9]+$").values_list("username", "pk"))
        with_profile = set(Profile.objects.values_list("user_id", flat=True))
        liaison_names = dict(Enterprise.objects.filter(pk__in=enterprise_ids).values_list("pk", "liaison_name"))
        profiles = []
        for name, (role, target) in wanted.items():
            if ids[name] in with_profile:
                continue
            if role == "enterprise_liaison":
                profiles.append(
                    Profile(user_id=ids[name], role=role, enterprise_id=target, person_name=liaison_names[target])
                )
            else:
                profiles.append(Profile(user_id=ids[name], role=role, region_id=target, person_name=person_name(name)))
        Profile.objects.bulk_create(profiles, batch_size=2000)

        group, _ = Group.objects.get_or_create(name=CITY_OFFICE_GROUP)
        permissions = Permission.objects.filter(content_type__app_label__in=CITY_OFFICE_APPS)
        if set(group.permissions.values_list("pk", flat=True)) != set(permissions.values_list("pk", flat=True)):
            group.permissions.set(permissions)
        city_user = User.objects.get(pk=ids["city"])
        if not city_user.groups.filter(pk=group.pk).exists():
            city_user.groups.add(group)
        self.step(f"accounts: {len(new_users)} new users, {len(profiles)} new profiles")
        return ids

    def seed_task_library(self, city):
        created = 0
        library = [(row, Indicator.Target.ENTERPRISE) for row in data.ENTERPRISE_INDICATORS]
        library += [(row, Indicator.Target.COUNTY_OFFICE) for row in data.COUNTY_OFFICE_INDICATORS]
        for order, ((code, category, title, requirement, evidence, points, sizes), target) in enumerate(
            library, start=1
        ):
            _, was_created = Indicator.objects.get_or_create(
                city=city,
                code=code,
                defaults={
                    "category": category,
                    "title": title,
                    "requirement": requirement,
                    "evidence_hint": evidence,
                    "scoring_guidance": data.SCORING_GUIDANCE.get(code, ""),
                    "max_points": Decimal(points),
                    "target": target,
                    "applies_to_sizes": list(sizes),
                    "order": order,
                },
            )
            created += was_created
        period, period_created = Period.objects.get_or_create(
            city=city,
            name=data.PERIOD_NAME,
            defaults={
                "starts_on": datetime.date(2026, 1, 1),
                "ends_on": datetime.date(2026, 12, 31),
                "submission_deadline": datetime.datetime(2026, 12, 31, 23, 59, tzinfo=SHANGHAI),
            },
        )
        self.changed |= bool(created) or period_created
        self.step(f"task library: {created} new indicators; period {period.name}{' (new)' if period_created else ''}")
        return period

    def seed_progress(self, period, counties, enterprise_ids, user_ids, seed):
        """Push some assignments through the real workflow services (first run only)."""
        if CheckIn.objects.filter(assignment__period=period).exists():
            self.step("demo progress: already there, unchanged")
            return False
        if not period.accepts_submissions():
            self.step(f"demo progress: skipped, {period.name} no longer accepts submissions")
            return False
        User = get_user_model()
        rng = random.Random(seed + 1)
        users = {u.username: u for u in User.objects.filter(username__in=["city", *(county_username(i) for i in range(len(counties)))]).select_related("profile__region")}
        city_user = users["city"]
        county_user = {c.pk: users[county_username(i)] for i, c in enumerate(counties)}

        k = min(max(1, round(len(enterprise_ids) * PROGRESS_SHARE)), PROGRESS_MAX_ENTERPRISES, len(enterprise_ids))
        chosen = sorted({0, *rng.sample(range(len(enterprise_ids)), k - 1)})
        liaisons = {
            u.profile.enterprise_id: u
            for u in User.objects.filter(username__in=[liaison_username(i) for i in chosen]).select_related("profile")
        }
        counts = dict.fromkeys([o for o, _w in OUTCOMES], 0)

        for index in chosen:
            enterprise_id = enterprise_ids[index]
            assignments = list(
                Assignment.objects.filter(period=period, enterprise_id=enterprise_id)
                .select_related("indicator")
                .order_by("indicator__order")
            )
            if index == 0:
                # The first demo liaison sees every state once; the rest stay not submitted.
                outcomes = [o for o, _w in OUTCOMES] + ["scored"] * 3
            else:
                outcomes = [_weighted(rng, OUTCOMES) for _ in range(rng.randint(2, 6))]
            for assignment, outcome in zip(assignments, outcomes, strict=False):
                self._play(
                    rng, assignment, outcome, liaisons[enterprise_id], county_user[assignment.county_id], city_user
                )
                counts[outcome] += 1
        office_outcomes = ["scored", "pending_city", "returned_by_city", "resubmitted"]
        for county in counties:
            assignments = list(
                Assignment.objects.filter(period=period, county=county, enterprise__isnull=True)
                .select_related("indicator")
                .order_by("indicator__order")
            )
            for assignment in assignments[: rng.randint(1, 3)]:
                outcome = rng.choice(office_outcomes)
                self._play(rng, assignment, outcome, county_user[county.pk], None, city_user)
                counts[outcome] += 1
        summary = ", ".join(f"{k} {v}" for k, v in counts.items())
        self.step(f"demo progress: {len(chosen)} enterprises and {len(counties)} county offices ({summary})")
        return True

    def _play(self, rng, assignment, outcome, submitter, county_reviewer, city_user):
        """Take one assignment to `outcome` through the services, as the real users would."""
        title = assignment.indicator.title.replace("“", "").replace("”", "")
        checkin = services.submit_checkin(
            submitter, assignment, rng.choice(data.CHECKIN_DESCRIPTIONS), _demo_files(title, 1)
        )
        if outcome == "pending_county" and county_reviewer:
            return
        if outcome == "returned_by_county" and county_reviewer:
            services.return_checkin(county_reviewer, checkin, rng.choice(data.RETURN_REASONS))
            return
        if county_reviewer:
            services.approve(county_reviewer, checkin, rng.choice(data.APPROVE_COMMENTS))
        if outcome == "pending_city":
            return
        if outcome in ("returned_by_city", "resubmitted"):
            services.return_checkin(city_user, checkin, rng.choice(data.RETURN_REASONS))
            if outcome == "resubmitted":
                services.submit_checkin(
                    submitter, assignment, "已按退回意见补充材料，请重新审核。", _demo_files(title, 2)
                )
            return
        max_points = assignment.indicator.max_points
        points = (max_points * Decimal(rng.randint(12, 20)) / 20).quantize(Decimal("0.1"))
        services.score(city_user, checkin, points, rng.choice(data.SCORE_COMMENTS))

    def print_logins(self, city, counties, count, password):
        rows = [("role", "username", "scope", "password")]
        rows.append(("superuser (admin site)", "admin", "—", password))
        rows.append(("city office 市产改办", "city", city.name, password))
        rows.append(("observer 产改观察员 (read only)", OBSERVER_USERNAME, city.name, password))
        for i, county in enumerate(counties):
            rows.append(("county office 县区产改办", county_username(i), county.name, password))
        first = Enterprise.objects.filter(profiles__user__username=liaison_username(0)).first()
        rows.append(("enterprise liaison 企业联系人", liaison_username(0), first.name if first else "", password))
        rows.append(("enterprise liaison 企业联系人", f"… {liaison_username(count - 1)}", f"{count} enterprises", password))
        widths = [max(_display_width(r[i]) for r in rows) for i in range(4)]
        self.stdout.write("")
        self.stdout.write("Demo logins (passwords apply to accounts this command created):")
        for n, row in enumerate(rows):
            self.stdout.write("  ".join(_pad(cell, widths[i]) for i, cell in enumerate(row)).rstrip())
            if n == 0:
                self.stdout.write("  ".join("-" * w for w in widths))
        self.stdout.write(self.style.SUCCESS(f"Seeded in {time.monotonic() - self.started:.1f}s."))


def _display_width(text):
    """Columns a string takes in a terminal: CJK characters are two wide."""
    return sum(2 if ord(ch) > 0x2E7F else 1 for ch in text)


def _pad(text, width):
    return text + " " * (width - _display_width(text))
