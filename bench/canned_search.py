"""How fast the reply box's canned-reply suggestions answer with 5,000 replies in a tenant.

    .venv/bin/python bench/canned_search.py                 # PostgreSQL db parley_canned_bench on 127.0.0.1
    .venv/bin/python bench/canned_search.py --sqlite        # a throw-away SQLite file instead
    .venv/bin/python bench/canned_search.py --replies 20000 --iterations 300
    .venv/bin/python bench/canned_search.py --variant strpos  # A/B: the design before canned_reply_search()
    PARLEY_BENCH_DB=parley_mine .venv/bin/python bench/canned_search.py  # another PostgreSQL database

Creates (once) a tenant with `--replies` replies in English, Russian and Polish (80 %
company-wide, 10 % in five departments, 10 % personal for ten operators) plus a noisy
neighbour tenant of the same size, then times, per query, `canned_search` (the selector
the API and the socket share) and `GET /app/api/canned/?q=...` through Django's test
client (full middleware: session, membership, tenant scope). Prints a markdown table of
p50 / p95 / max in milliseconds.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DB_NAME = os.environ.get("PARLEY_BENCH_DB", "parley_canned_bench")
PG_BASE = os.environ.get("PARLEY_BENCH_PG", "postgres://postgres@127.0.0.1:5432")
SLUG = "canned-bench-v2"  # bump when the seed's shape changes

WORDS = {
    "en": (  # noqa: SIM905
        "delivery order refund payment invoice account password shipping return warranty discount "
        "price stock size colour address email phone hello thanks sorry wait checking manager"
    ).split(),
    "ru": (  # noqa: SIM905
        "доставка заказ возврат оплата счёт аккаунт пароль отправка гарантия скидка цена наличие "
        "размер цвет адрес почта телефон здравствуйте спасибо извините минуту проверяю ёлка"
    ).split(),
    "pl": (  # noqa: SIM905
        "dostawa zamówienie zwrot płatność faktura konto hasło wysyłka gwarancja rabat cena "
        "dostępność rozmiar kolor adres telefon dzień dobry dziękuję przepraszam chwileczkę łódź "
        "żółw"
    ).split(),
}
QUERIES = [
    ("shortcut prefix, 3 letters", "del"),
    ("shortcut prefix, 1 letter", "d"),
    ("shortcut substring", "ive"),
    ("title/text, two words", "order refund"),
    ("Cyrillic", "доставк"),
    ("Polish without marks", "zolw"),
    ("tag", "#shipping"),
    ("no match", "qqqqzz"),
    ("browse (empty query)", ""),
]


def setup_django(sqlite: bool) -> None:
    if sqlite:
        os.environ["DATABASE_URL"] = f"sqlite:///{tempfile.gettempdir()}/parley_canned_bench.sqlite3"
    else:
        import psycopg

        with psycopg.connect(f"{PG_BASE}/postgres", autocommit=True) as conn:
            if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DB_NAME]).fetchone():
                conn.execute(f'CREATE DATABASE "{DB_NAME}"')
        os.environ["DATABASE_URL"] = f"{PG_BASE}/{DB_NAME}"
        os.environ.setdefault("DATABASE_CONN_MAX_AGE", "60")
    # One operator asks thousands of times a minute here: the dashboard API's per-person limit would answer 429.
    os.environ.setdefault("PARLEY_OPERATOR_API_PER_MINUTE", "1000000")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("DJANGO_SECURE_SSL", "0")
    os.environ.setdefault("PARLEY_PLAIN_STATIC", "1")
    os.environ.setdefault("LOG_LEVEL", "ERROR")
    import django

    django.setup()
    from django.conf import settings

    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


def seed(slug: str, replies: int) -> None:
    from django.db import transaction
    from django_scopes import scopes_disabled

    from apps.accounts.models import Department, Membership, Role, Tenant, User
    from apps.canned.models import CannedReply, Scope
    from apps.canned.services import _derive

    with scopes_disabled():
        tenant = Tenant.objects.filter(slug=slug).first()
        if tenant is not None and CannedReply.objects.filter(tenant=tenant).count() >= replies:
            return
        rng = random.Random(slug)
        with transaction.atomic():
            if tenant is None:
                tenant = Tenant.objects.create(name=slug, slug=slug)
            CannedReply.objects.filter(tenant=tenant).delete()
            members = []
            for n in range(10):
                email = f"op{n}@{slug}.bench"
                user = User.objects.filter(email=email).first() or User.objects.create_user(email=email, password="x")
                members.append(
                    Membership.objects.get_or_create(tenant=tenant, user=user, defaults={"role": Role.OPERATOR})[0]
                )
            departments = []
            for n in range(5):
                department, _ = Department.objects.get_or_create(tenant=tenant, name=f"Department {n}")
                department.members.add(*members[n * 2 : n * 2 + 2])
                departments.append(department)
            vocabulary = {language: _vocabulary(rng, language) for language in WORDS}
            weights = [1 / rank for rank in range(1, VOCABULARY + 1)]  # Zipf, like real text
            rows = []
            for n in range(replies):
                language = ("en", "ru", "pl")[n % 3]
                words = vocabulary[language]
                title = " ".join(rng.choices(words, weights, k=rng.randint(2, 4))).capitalize()
                text = " ".join(rng.choices(words, weights, k=rng.randint(15, 60))) + "."
                shortcut = f"{rng.choice(WORDS['en'])}{n}"
                kind = n % 10
                reply = CannedReply(
                    tenant=tenant,
                    scope=Scope.TENANT,
                    title=title,
                    shortcut=shortcut,
                    text=text,
                    language=language,
                    tags=", ".join(sorted({rng.choice(WORDS["en"]) for _ in range(2)})),
                    usage_count=rng.randint(0, 500),
                )
                if kind == 8:
                    reply.scope, reply.department = Scope.DEPARTMENT, departments[n % 5]
                elif kind == 9:
                    reply.scope, reply.owner = Scope.PERSONAL, members[n % 10]
                _derive(reply, tenant)
                rows.append(reply)
            CannedReply.objects.bulk_create(rows, batch_size=1000)


VOCABULARY = 3000
SYLLABLES = {
    "en": (  # noqa: SIM905
        "ba be bi bo bu da de di do ka ke ki ko la le li lo ma me mi mo na ne ni no ra re ri ro sa "
        "se si so ta te ti to va ve vi ing er ent ion str pl tr"
    ).split(),
    "ru": (  # noqa: SIM905
        "ба бе би бо бу да де ди до ка ке ки ко ла ле ли ло ма ме ми мо на не ни но ра ре ри ро са "
        "се си со та те ти то ва ве ви ё ж щ ый ая ие ть"
    ).split(),
    "pl": (  # noqa: SIM905
        "ba be bi bo bu da de dzi do ka ke ki ko la le li ło ma me mi mo na ne ni no ra re ri ro sa "
        "się si so ta te ti to wa we wi ą ę ó ś ż ź ć ń"
    ).split(),
}


def _vocabulary(rng: random.Random, language: str) -> list[str]:
    """The domain words, each at a real text's frequency, among made-up words (Zipf ranks)."""
    made_up = {"".join(rng.choices(SYLLABLES[language], k=rng.randint(2, 4))) for _ in range(VOCABULARY * 2)}
    words = sorted(made_up - set(WORDS[language]))
    rng.shuffle(words)
    words = words[: VOCABULARY - len(WORDS[language])]
    for n, word in enumerate(WORDS[language]):
        words.insert(20 + n * 40, word)
    return words[:VOCABULARY]


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


def use_one_query_per_tier() -> None:
    """The previous design, for an A/B run: one query per tier with `LIKE`, each walking the usage order
    until the list is full (up to three reads of the tenant's replies under row-level security)."""
    from django.db.models import Q

    from apps.canned import selectors

    def ranked(replies, *, needle, shortcut, words, limit):
        words = Q(*[Q(search_text__contains=word) for word in needle.split()])
        tiers = [
            Q(shortcut_folded__startswith=shortcut),
            Q(shortcut_folded__contains=shortcut) & ~Q(shortcut_folded__startswith=shortcut),
            words & ~Q(shortcut_folded__contains=shortcut),
        ]
        found = []
        for condition in tiers:
            found += replies.filter(condition).select_related("department").order_by(*selectors.USAGE_ORDER)[
                : limit - len(found)
            ]
            if len(found) == limit:
                break
        return found

    selectors._ranked = ranked


def use_strpos_pass() -> None:
    """The design before `canned_reply_search()`, for an A/B run: the prefix tier, then one `strpos()`
    pass over every reply of the tenant (row-level security keeps `LIKE` off the trigram indexes)."""
    from apps.canned import selectors

    selectors._indexed_search = lambda: False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--replies", type=int, default=5000)
    parser.add_argument("--iterations", type=int, default=200)
    parser.add_argument("--sqlite", action="store_true")
    parser.add_argument(
        "--variant", choices=["ranked", "strpos", "tiers"], default="ranked",
        help="for A/B runs: strpos, the prefix tier then one strpos() pass over the tenant (before "
        "canned_reply_search()); tiers, one LIKE query per ranking tier (before that)",
    )  # fmt: skip
    args = parser.parse_args()
    setup_django(args.sqlite)
    if args.variant in ("strpos", "tiers"):
        use_strpos_pass()
    if args.variant == "tiers":
        use_one_query_per_tier()

    from django.db import connection
    from django.test import Client
    from django_scopes import scopes_disabled

    from apps.accounts.models import Membership, Tenant
    from apps.canned.selectors import canned_search
    from apps.core.tenancy import tenant_scope

    slug = f"{SLUG}-{args.replies}"
    seed(slug, args.replies)
    seed(slug + "-neighbour", args.replies)
    if connection.vendor == "postgresql":
        from apps.core.rls import privileged

        # As the tables' owner: the application role may not ANALYZE them (PostgreSQL skips it
        # with a warning), and without statistics the planner guesses one row per tenant.
        with privileged(), connection.cursor() as cursor:
            cursor.execute("ANALYZE canned_cannedreply")
    with scopes_disabled():
        tenant = Tenant.objects.get(slug=slug)
        membership = Membership.objects.filter(tenant=tenant).select_related("user").order_by("pk").first()
    client = Client()
    client.force_login(membership.user)

    load_before = os.getloadavg()[0]
    print(
        f"\n{args.replies} replies in the tenant (+{args.replies} in a neighbour), {connection.vendor}, "
        f"{args.iterations} runs per row, limit 10\n"
    )
    sql_seconds = [0.0]
    sql_count = [0]
    statements: list = []

    def execution_ms() -> float:
        """PostgreSQL's own execution time of the last call's statements (EXPLAIN ANALYZE), median of 20.

        Inside the tenant's scope: outside it, row-level security shows the statements no rows at all
        (an earlier version of this script measured that, 0.03-0.2 ms, and read the rest as planning)."""
        if connection.vendor != "postgresql":
            return float("nan")
        runs = []
        for _ in range(20):
            total = 0.0
            with tenant_scope(tenant), connection.cursor() as cursor:
                for sql, params in statements:
                    cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + sql, params)
                    plan = cursor.fetchone()[0]
                    plan = json.loads(plan) if isinstance(plan, str) else plan
                    total += plan[0]["Execution Time"]
            runs.append(total)
        return statistics.median(runs)

    def timed(execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            sql_seconds[0] += time.perf_counter() - started
            sql_count[0] += 1
            statements.append((sql, params))

    print(
        "| query | results | queries | DB execution ms | SQL ms p50 | selector p50 | selector p95 "
        "| HTTP p50 | HTTP p95 | HTTP max | HTTP CPU p50 | HTTP CPU p95 |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    worst = 0.0
    for label, query in QUERIES:
        selector_ms, http_ms, sql_ms, cpu_ms = [], [], [], []
        found = canned_search(tenant=tenant, membership=membership, query=query)
        for _ in range(3):
            client.get("/app/api/canned/", {"q": query})
        for _ in range(args.iterations):
            sql_seconds[0], sql_count[0] = 0.0, 0
            started = time.perf_counter()
            with connection.execute_wrapper(timed):
                canned_search(tenant=tenant, membership=membership, query=query)
            selector_ms.append((time.perf_counter() - started) * 1000)
            sql_ms.append(sql_seconds[0] * 1000)
            started, cpu_started = time.perf_counter(), time.process_time()
            response = client.get("/app/api/canned/", {"q": query})
            http_ms.append((time.perf_counter() - started) * 1000)
            cpu_ms.append((time.process_time() - cpu_started) * 1000)
            assert response.status_code == 200
        worst = max(worst, percentile(http_ms, 0.95))
        statements.clear()
        sql_count[0] = 0
        with connection.execute_wrapper(timed):
            canned_search(tenant=tenant, membership=membership, query=query)
        executed = execution_ms()
        print(
            f"| {label} `{query}` | {len(found)} | {sql_count[0]} | {executed:.2f} | "
            f"{statistics.median(sql_ms):.1f} | {statistics.median(selector_ms):.1f} | "
            f"{percentile(selector_ms, 0.95):.1f} | {statistics.median(http_ms):.1f} | "
            f"{percentile(http_ms, 0.95):.1f} | {max(http_ms):.1f} | {statistics.median(cpu_ms):.1f} | "
            f"{percentile(cpu_ms, 0.95):.1f} |"
        )
    print(
        f"\nworst HTTP p95: {worst:.1f} ms (target: under 30 ms); variant {args.variant}; "
        f"load average {os.getloadavg()[0]:.1f} at the end ({load_before:.1f} at the start)"
    )


if __name__ == "__main__":
    main()
