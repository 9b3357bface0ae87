from django.core.management.base import BaseCommand, CommandError

from scoring import recompute
from tasks.models import Period


class Command(BaseCommand):
    help = "Recompute rankings in full as a new snapshot (all periods, or the ones given)."

    def add_arguments(self, parser):
        parser.add_argument("--period", type=int, action="append", help="Period id; repeat for several.")

    def handle(self, *args, **options):
        periods = Period.objects.select_related("city").order_by("pk")
        if options["period"]:
            periods = periods.filter(pk__in=options["period"])
            missing = set(options["period"]) - set(periods.values_list("pk", flat=True))
            if missing:
                raise CommandError(f"No period with id {', '.join(map(str, sorted(missing)))}.")
        for period in periods:
            snapshot = recompute.recompute_now(period, trigger="command")
            self.stdout.write(
                f"{period.city} {period}: snapshot {snapshot.pk}, "
                f"{snapshot.enterprise_rankings.count()} enterprises, {snapshot.county_rankings.count()} counties"
            )
