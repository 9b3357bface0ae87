"""The progress counters (EnterpriseProgress, IndicatorProgress), kept by database triggers.

Every write to tasks_assignment, by any path (the workflow's updates, generate_assignments'
INSERT … SELECT, the admin, an operator's SQL), is applied to the counters in the same
transaction, so they cannot drift from the tasks:

- PostgreSQL: one statement-level trigger per operation, with transition tables. A bulk
  insert of 1.6 million tasks becomes one grouped upsert per counter table, not 1.6 million
  row triggers. An update adds the new rows and subtracts the old ones; groups whose sums are
  all zero (e.g. only `updated_at` changed) touch nothing. Counters are upserted in key order
  and the enterprise table before the indicator table, so concurrent writers take their row
  locks in one order.
- SQLite (the zero-setup demo): row-level triggers, an INSERT OR IGNORE of the counter row and
  an UPDATE by the row's delta.

`install(connection)` (re)creates the triggers and `rebuild()` recomputes the counters from the
tasks; migration tasks 0003 runs both. `drift()` lists counters that differ from the tasks.
"""

from dataclasses import dataclass

from django.db import connection as default_connection
from django.db import transaction
from django.db.models import Count, DecimalField, Q, Sum, Value
from django.db.models.functions import Coalesce

from .models import Assignment, EnterpriseProgress, IndicatorProgress, ProgressCounters

COUNTERS = (*ProgressCounters.COUNTS, "points")
TRIGGER_PREFIX = "tasks_progress"


@dataclass(frozen=True)
class Tally:
    name: str
    model: type

    @property
    def keys(self):
        """The counter table's unique key, as columns (tasks_assignment has the same ones)."""
        (unique,) = self.model._meta.constraints
        return tuple(self.model._meta.get_field(field).attname for field in unique.fields)

    @property
    def enterprises_only(self):
        """Whether only enterprises' tasks count (not county offices' own): keyed by enterprise."""
        return "enterprise_id" in self.keys

    def table(self, connection):
        return connection.ops.quote_name(self.model._meta.db_table)


TALLIES = (Tally("enterprise", EnterpriseProgress), Tally("indicator", IndicatorProgress))


def _assignment_table(connection):
    return connection.ops.quote_name(Assignment._meta.db_table)


def _state_cases(sign, state_column="state"):
    """One `CASE WHEN state = '…' THEN sign ELSE 0 END` per state counter, in COUNTERS order."""
    return [
        f"CASE WHEN {state_column} = '{state}' THEN {sign} ELSE 0 END" for state in ProgressCounters.STATE_COLUMNS
    ]


def _postgresql_sql(connection):
    assignment = _assignment_table(connection)
    columns = "period_id, indicator_id, enterprise_id, county_id, state, points"
    deltas = ["SUM(sign)", *(f"SUM({case})" for case in _state_cases("sign")), "COALESCE(SUM(sign * points), 0)"]

    def upsert(tally, rows):
        keys = ", ".join(tally.keys)
        where = " WHERE enterprise_id IS NOT NULL" if tally.enterprises_only else ""
        return (
            f"INSERT INTO {tally.table(connection)} AS p ({keys}, {', '.join(COUNTERS)}) "
            f"SELECT {keys}, {', '.join(deltas)} FROM ({rows}) d{where} "
            f"GROUP BY {keys} HAVING {' OR '.join(f'{delta} <> 0' for delta in deltas)} ORDER BY {keys} "
            f"ON CONFLICT ({keys}) DO UPDATE SET {', '.join(f'{c} = p.{c} + EXCLUDED.{c}' for c in COUNTERS)};"
        )

    def upserts(rows):
        return "\n        ".join(upsert(tally, rows) for tally in TALLIES)

    new, old = (f"SELECT {sign} AS sign, {columns} FROM {table}" for sign, table in ((1, "new_rows"), (-1, "old_rows")))
    function = f"""
CREATE OR REPLACE FUNCTION {TRIGGER_PREFIX}_apply() RETURNS trigger LANGUAGE plpgsql AS $body$
BEGIN
    IF TG_OP = 'INSERT' THEN
        {upserts(new)}
    ELSIF TG_OP = 'UPDATE' THEN
        {upserts(f"{new} UNION ALL {old}")}
    ELSE
        {upserts(old)}
    END IF;
    RETURN NULL;
END
$body$;
"""
    triggers = [
        f"CREATE TRIGGER {TRIGGER_PREFIX}_insert AFTER INSERT ON {assignment} "
        f"REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION {TRIGGER_PREFIX}_apply()",
        f"CREATE TRIGGER {TRIGGER_PREFIX}_update AFTER UPDATE ON {assignment} "
        f"REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT "
        f"EXECUTE FUNCTION {TRIGGER_PREFIX}_apply()",
        f"CREATE TRIGGER {TRIGGER_PREFIX}_delete AFTER DELETE ON {assignment} "
        f"REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION {TRIGGER_PREFIX}_apply()",
    ]
    return [*drop_statements(connection), function, *triggers]


SQLITE_TRIGGERS = ("insert", "delete", "update_old", "update_new")


def _sqlite_sql(connection):
    assignment = _assignment_table(connection)
    watched = ("state", "points", "period_id", "indicator_id", "enterprise_id", "county_id")
    changed = " OR ".join(f"OLD.{c} IS NOT NEW.{c}" for c in watched)

    def apply(tally, row, sign):
        table = tally.table(connection)
        sets = ", ".join(
            [f"assigned = assigned + {sign}"]
            + [
                f"{column} = {column} + {case}"
                for column, case in zip(
                    ProgressCounters.STATE_COLUMNS.values(), _state_cases(sign, f"{row}.state"), strict=True
                )
            ]
            + [f"points = points + {sign} * COALESCE({row}.points, 0)"]
        )
        ensure = (
            f"INSERT OR IGNORE INTO {table} ({', '.join(tally.keys)}, {', '.join(COUNTERS)}) "
            f"VALUES ({', '.join(f'{row}.{key}' for key in tally.keys)}, {', '.join('0' for _ in COUNTERS)});"
        )
        where = " AND ".join(f"{key} = {row}.{key}" for key in tally.keys)
        return f"{ensure if sign > 0 else ''} UPDATE {table} SET {sets} WHERE {where};"

    def trigger(tally, name, event, row, sign, condition=""):
        when = [f"{row}.enterprise_id IS NOT NULL"] if tally.enterprises_only else []
        when += [f"({condition})"] if condition else []
        return (
            f"CREATE TRIGGER {TRIGGER_PREFIX}_{tally.name}_{name} AFTER {event} ON {assignment} "
            f"{'WHEN ' + ' AND '.join(when) if when else ''} BEGIN {apply(tally, row, sign)} END"
        )

    update = f"UPDATE OF {', '.join(watched)}"
    statements = list(drop_statements(connection))
    for tally in TALLIES:
        statements += [
            trigger(tally, "insert", "INSERT", "NEW", 1),
            trigger(tally, "delete", "DELETE", "OLD", -1),
            trigger(tally, "update_old", update, "OLD", -1, changed),
            trigger(tally, "update_new", update, "NEW", 1, changed),
        ]
    return statements


def drop_statements(connection):
    if connection.vendor == "postgresql":
        assignment = _assignment_table(connection)
        return [
            *(f"DROP TRIGGER IF EXISTS {TRIGGER_PREFIX}_{op} ON {assignment}" for op in ("insert", "update", "delete")),
            f"DROP FUNCTION IF EXISTS {TRIGGER_PREFIX}_apply()",
        ]
    return [f"DROP TRIGGER IF EXISTS {TRIGGER_PREFIX}_{t.name}_{name}" for t in TALLIES for name in SQLITE_TRIGGERS]


def install(connection=default_connection):
    """(Re)create the triggers on this database."""
    if connection.vendor == "postgresql":
        statements = _postgresql_sql(connection)
    elif connection.vendor == "sqlite":
        statements = _sqlite_sql(connection)
    else:
        raise NotImplementedError(f"progress triggers for {connection.vendor}")
    with connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)


def uninstall(connection=default_connection):
    with connection.cursor() as cursor:
        for statement in drop_statements(connection):
            cursor.execute(statement)


def rebuild(period=None, connection=default_connection):
    """Recompute the counters (of one period, or all) from the tasks, in SQL. Locks the tasks'
    table against writes meanwhile, so no trigger runs between the delete and the insert.
    Plain SQL on the tables, so migration 0003 can run it as well."""
    assignment = _assignment_table(connection)
    sums = ["COUNT(*)", *(f"SUM({case})" for case in _state_cases(1)), "COALESCE(SUM(points), 0)"]
    period_id = getattr(period, "pk", period)
    with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"LOCK TABLE {assignment} IN SHARE MODE")
        for tally in TALLIES:
            keys = ", ".join(tally.keys)
            where = ["enterprise_id IS NOT NULL"] if tally.enterprises_only else []
            params = []
            if period_id is not None:
                where.append("period_id = %s")
                params.append(period_id)
            where_sql = f" WHERE {' AND '.join(where)}" if where else ""
            cursor.execute(
                f"DELETE FROM {tally.table(connection)}{' WHERE period_id = %s' if params else ''}", params
            )
            cursor.execute(
                f"INSERT INTO {tally.table(connection)} ({keys}, {', '.join(COUNTERS)}) "
                f"SELECT {keys}, {', '.join(sums)} FROM {assignment}{where_sql} GROUP BY {keys}",
                params,
            )


def _live(tally, assignments):
    """The counters computed from `assignments` (an Assignment queryset), per key."""
    if tally.enterprises_only:
        assignments = assignments.filter(enterprise__isnull=False)
    return (
        assignments.values(*tally.keys)
        .annotate(
            assigned=Count("pk"),
            **{column: Count("pk", filter=Q(state=state)) for state, column in ProgressCounters.STATE_COLUMNS.items()},
            points=Coalesce(Sum("points"), Value(0, output_field=DecimalField(max_digits=12, decimal_places=2))),
        )
        .order_by()
    )


def drift(period=None):
    """Counters that differ from the tasks: (table, key, stored, live) for each; empty when in step."""
    found = []
    empty = dict.fromkeys(COUNTERS, 0)
    for tally in TALLIES:
        assignments = Assignment.objects.all()
        stored_rows = tally.model.objects.all()
        if period is not None:
            assignments = assignments.filter(period=period)
            stored_rows = stored_rows.filter(period=period)
        live = {tuple(row[k] for k in tally.keys): {c: row[c] for c in COUNTERS} for row in _live(tally, assignments)}
        stored = {
            tuple(row[k] for k in tally.keys): {c: row[c] for c in COUNTERS}
            for row in stored_rows.values(*tally.keys, *COUNTERS)
        }
        found += [
            (tally.name, key, stored.get(key), live.get(key))
            for key in sorted(set(live) | set(stored))
            if (stored.get(key) or empty) != (live.get(key) or empty)
        ]
    return found
