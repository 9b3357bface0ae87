"""Fault benchmarks of evidence uploads (issue 13, point 13), run through bench/faults.py:

    .venv/bin/python bench/faults.py kill-upload     # kill -9 the web worker mid-upload, 20 times
    .venv/bin/python bench/faults.py disk-full       # uploads into a MEDIA_ROOT on a tiny tmpfs
    .venv/bin/python bench/faults.py upload-cost     # undisturbed uploads timed (staging + fsync cost)

Both create --db-url afresh, migrate and seed a small demo city (--enterprises), start a real
gunicorn (one worker) on --port with DEBUG off, and upload over HTTP through the API
(multipart POST /api/checkins/ with a token), as a liaison's client does.

kill-upload   --rounds uploads of an --upload-bytes PDF (spooled to a temporary file, being
              larger than FILE_UPLOAD_MAX_MEMORY_SIZE). Even rounds kill the worker (SIGKILL)
              part way through sending the body; odd rounds after the whole body was sent,
              after a delay spread over the time a calibration upload took to be answered (so
              the kill lands while the file is inspected, stored or committed). The master
              starts a new worker; the next round waits for it. Afterwards it counts orphans:
              files in MEDIA_ROOT that no evidence row and no staging row names, and temporary
              upload files left in FILE_UPLOAD_TEMP_DIR or the worker's TMPDIR; then runs the
              housekeeping (`manage.py check_evidence_files --keep-hours 0`, where it exists)
              and counts again, with every evidence row's file checked (size, SHA-256).
disk-full     MEDIA_ROOT on a tmpfs of --tmpfs-mb (mount needs root; without it the scenario
              stops and says so). A filler file leaves a chosen free space before each upload:
              a large file when the spool cannot hold it; one the spool holds but the store
              cannot; a small one held in memory; two files of which only the first fits.
              Each case --repeat times. Counted: status codes and bodies, check-ins created,
              files no row names (half-stored), bytes used before and after each upload.
              Then the filler goes and one more upload must be accepted.

Run the same command from a checkout of another commit (e.g. main before the fix) for the
"before" figures: the scenario copes with a portal without staging rows or the command.
"""

import json
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import load  # bench/load.py

log = load.log


# -- the portal -----------------------------------------------------------------------------


def start(args, name, media_root, tmp_dir):
    out_dir = Path(args.out_dir or tempfile.mkdtemp(prefix=f"bench_faults_{name}_"))
    out_dir.mkdir(parents=True, exist_ok=True)
    env = load.portal_env(args.db_url, args.redis_url, media_root, TMPDIR=str(tmp_dir))
    env.pop("FILE_UPLOAD_TEMP_DIR", None)
    log(f"{name}: code {load.ROOT}; output {out_dir}; MEDIA_ROOT {media_root}; TMPDIR {tmp_dir}")
    load.recreate_database(args.db_url)
    load.flush_redis(args.redis_url)
    seed_env = dict(env, REDIS_URL="")
    load.manage(seed_env, "migrate", "--noinput", log_path=out_dir / "seed.log")
    load.manage(
        seed_env, "seed_demo", "--password", args.password, "--enterprises", str(args.enterprises), "--no-progress",
        log_path=out_dir / "seed.log",
    )
    load.setup_django(env)
    stack = load.Stack(env, out_dir, args.port)
    stack.start_web(workers=1)
    return out_dir, env, stack


def liaison_tasks(count):
    """(username, assignment id) of `count` tasks not yet submitted, spread over liaisons."""
    from django.db import connection

    from enterprises.models import Profile
    from tasks.models import Assignment

    plan = []
    for profile in Profile.objects.filter(role="enterprise_liaison").select_related("user").order_by("-pk"):
        ids = Assignment.objects.filter(enterprise_id=profile.enterprise_id, state="not_submitted").values_list(
            "pk", flat=True
        )
        plan += [(profile.user.username, pk) for pk in ids]
        if len(plan) >= count:
            break
    connection.close()
    if len(plan) < count:
        raise SystemExit(f"only {len(plan)} open tasks, {count} needed")
    return plan[:count]


def token_for(base_url, username, password):
    import requests

    response = requests.post(f"{base_url}/api/auth/token/", data={"username": username, "password": password}, timeout=30)
    response.raise_for_status()
    return response.json()["token"]


def pdf_bytes(size):
    head = b"%PDF-1.4\n% bench upload fault\n"
    return head + os.urandom(max(0, size - len(head) - 7)) + b"\n%%EOF\n"


def multipart(assignment_id, files, boundary):
    parts = []
    for name, value in (("assignment", str(assignment_id)), ("description", "bench: upload fault")):
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        )
    for filename, content in files:
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="{filename}"\r\n'
            f"Content-Type: application/pdf\r\n\r\n".encode() + content + b"\r\n"
        )
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts)


def raw_request(port, token, body, boundary):
    """A socket with the request's headers sent; the body is the caller's to send."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=120)
    head = (
        "POST /api/checkins/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Authorization: Token {token}\r\nContent-Type: multipart/form-data; boundary={boundary}\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    sock.sendall(head.encode())
    return sock


def read_response(sock):
    data = b""
    try:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    except OSError:
        pass
    sock.close()
    status = int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/") else None
    return status, data.partition(b"\r\n\r\n")[2]


def children_of(pid):
    """Process ids whose parent is `pid` (from /proc; no psutil needed)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as handle:
                    fields = handle.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry))
    return found


def worker_pid(stack):
    master = stack.procs["gunicorn"][0].pid
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        children = children_of(master)
        if children:
            return children[0]
        time.sleep(0.05)
    raise SystemExit("gunicorn has no worker")


def wait_ready(stack):
    import urllib.request

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(stack.url + "/accounts/login/", timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise SystemExit("gunicorn did not come back")


# -- what is on disk ------------------------------------------------------------------------


def files_under(root, skip_temp=True):
    found = {}
    for folder, dirs, names in os.walk(root):
        if skip_temp:
            dirs[:] = [d for d in dirs if not d.startswith(".")]
        for name in names:
            path = os.path.join(folder, name)
            found[os.path.relpath(path, root)] = os.path.getsize(path)
    return found


def staged_names():
    """Names in the staging table; empty where the portal has none (main before the fix)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass('tasks_stagedevidencefile') IS NOT NULL")
        if not cursor.fetchone()[0]:
            return None
        cursor.execute("SELECT name FROM tasks_stagedevidencefile")
        return {row[0] for row in cursor.fetchall()}


def known_file_fields():
    """[(model, field)] of every FileField (the same question tasks.evidence_files asks)."""
    from django.apps import apps
    from django.db import models

    return [
        (model, field.name)
        for model in apps.get_models()
        for field in model._meta.concrete_fields
        if isinstance(field, models.FileField)
    ]


def census(media_root, tmp_dir):
    from django.db import connection

    from tasks.models import Evidence

    files = files_under(media_root)
    named = set()
    for model, field in known_file_fields():
        named.update(model._base_manager.values_list(field, flat=True))
    staged = staged_names()
    orphans = sorted(set(files) - named - (staged or set()))
    temp_dir = Path(media_root) / ".upload-tmp"
    result = {
        "files": len(files),
        "evidence_rows": Evidence.objects.count(),
        "staging_rows": None if staged is None else len(staged),
        "orphans": len(orphans),
        "orphan_sizes": sorted(files[name] for name in orphans)[:10],
        "temporary_files_left_in_upload_tmp": len(files_under(temp_dir, skip_temp=False)) if temp_dir.is_dir() else 0,
        "temporary_files_left_in_TMPDIR": len(files_under(tmp_dir, skip_temp=False)),
    }
    connection.close()
    return result


def housekeeping(env, out_dir):
    """`manage.py check_evidence_files --keep-hours 0` where the portal has it; its output."""
    done = subprocess.run(
        [sys.executable, "manage.py", "check_evidence_files", "--keep-hours", "0"],
        cwd=load.ROOT, env=env, capture_output=True, text=True,
    )
    (out_dir / "housekeeping.log").write_text(done.stdout + done.stderr)
    if "Unknown command" in done.stderr:
        return None
    return done.stdout.strip().splitlines()


# -- kill-upload ----------------------------------------------------------------------------


def kill_upload(args):
    media_root = Path(tempfile.mkdtemp(prefix="bench_upload_media_"))
    tmp_dir = Path(tempfile.mkdtemp(prefix="bench_upload_tmpdir_"))
    out_dir, env, stack = start(args, "kill-upload", media_root, tmp_dir)
    plan = liaison_tasks(args.rounds + 2)
    rng = random.Random(args.seed)
    body_pdf = pdf_bytes(args.upload_bytes)
    rounds = []
    try:
        tokens = {}

        def token(user):
            if user not in tokens:
                tokens[user] = token_for(stack.url, user, args.password)
            return tokens[user]

        # Calibration: how long from the last byte sent to the answer, undisturbed.
        answer_s = []
        for user, assignment in plan[:2]:
            boundary = uuid.uuid4().hex
            body = multipart(assignment, [("calibration.pdf", body_pdf)], boundary)
            sock = raw_request(args.port, token(user), body, boundary)
            sock.sendall(body)
            sent = time.monotonic()
            status, _ = read_response(sock)
            answer_s.append(time.monotonic() - sent)
            if status != 201:
                raise SystemExit(f"calibration upload answered {status}")
        answer = max(answer_s)
        log(f"calibration: answered {answer * 1000:.0f} ms after the last byte ({args.upload_bytes} bytes)")

        for number, (user, assignment) in enumerate(plan[2:], start=1):
            wait_ready(stack)
            pid = worker_pid(stack)
            boundary = uuid.uuid4().hex
            body = multipart(assignment, [(f"round-{number}.pdf", body_pdf)], boundary)
            sock = raw_request(args.port, token(user), body, boundary)
            if number % 2 == 0:
                cut = int(len(body) * rng.uniform(0.1, 0.95))
                sock.sendall(body[:cut])
                time.sleep(0.2)  # let the worker write what it received
                moment = f"mid-body ({cut * 100 // len(body)} % sent)"
            else:
                sock.sendall(body)
                delay = rng.uniform(0, answer)
                time.sleep(delay)
                moment = f"{delay * 1000:.0f} ms after the last byte"
            os.kill(pid, 9)
            status, _ = read_response(sock)
            rounds.append({"round": number, "killed": moment, "answer": status})
            log(f"  round {number}: killed {moment}; client saw {status}")
        wait_ready(stack)
    finally:
        stack.stop_all()

    before = census(media_root, tmp_dir)
    log(f"after {len(rounds)} kills: {before}")
    swept = housekeeping(env, out_dir)
    after = census(media_root, tmp_dir)
    check = load.check_files()
    from django.db import connection

    connection.close()
    log(f"after the housekeeping: {after}; evidence check: {check}")
    result = {
        "scenario": "kill-upload",
        "code": str(load.ROOT),
        "rounds": len(rounds),
        "upload_bytes": args.upload_bytes,
        "calibration_answer_ms": round(answer * 1000),
        "kills": rounds,
        "answers_seen": {str(k): sum(1 for r in rounds if r["answer"] == k) for k in {r["answer"] for r in rounds}},
        "after_kills": before,
        "housekeeping": swept,
        "after_housekeeping": after,
        "evidence_check": check,
    }
    finish(args, result, media_root, tmp_dir)
    return 0 if before["orphans"] == 0 and after["orphans"] == 0 else 1


# -- disk-full ------------------------------------------------------------------------------


def mount_tmpfs(size_mb):
    point = Path(tempfile.mkdtemp(prefix="bench_upload_tmpfs_"))
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_mb}m", "tmpfs", str(point)], capture_output=True)
    if done.returncode != 0:
        raise SystemExit(
            f"disk-full needs a small file system: `mount -t tmpfs` failed ({done.stderr.decode().strip()}); "
            "run as root (or in a container with CAP_SYS_ADMIN)"
        )
    return point


def free_bytes(path):
    stat = os.statvfs(path)
    return stat.f_bavail * stat.f_frsize


def fill_to(media_root, free):
    """Size a filler file (in a dot-folder, which the census skips) so that `free` bytes are left."""
    filler = Path(media_root) / ".bench-filler" / "filler"
    filler.parent.mkdir(exist_ok=True)
    filler.unlink(missing_ok=True)
    left = max(0, free_bytes(media_root) - free)
    block = b"\0" * (1 << 20)
    with open(filler, "wb") as handle:
        while left:
            step = min(left, len(block))
            handle.write(block[:step])
            left -= step
    return free_bytes(media_root)


CASES = [
    # (what, free bytes before, [file sizes])
    ("a large file the spool cannot hold", 1 << 20, [3 << 20]),
    ("a large file the spool holds but the store cannot", 4 << 20, [3 << 20]),
    ("a small file held in memory the store cannot hold", 512 << 10, [1 << 20]),
    ("two files of which only the first fits", 1536 << 10, [1 << 20, 1 << 20]),
]


def disk_full(args):
    media_root = mount_tmpfs(args.tmpfs_mb)
    tmp_dir = Path(tempfile.mkdtemp(prefix="bench_upload_tmpdir_"))
    results = []
    try:
        out_dir, env, stack = start(args, "disk-full", media_root, tmp_dir)
        plan = liaison_tasks(len(CASES) * args.repeat + 1)
        try:
            tokens = {}
            for index, (user, assignment) in enumerate(plan[:-1]):
                what, free, sizes = CASES[index % len(CASES)]
                before_free = fill_to(media_root, free)
                before_files = files_under(media_root)
                tokens.setdefault(user, token_for(stack.url, user, args.password))
                boundary = uuid.uuid4().hex
                files = [(f"文件{n}.pdf", pdf_bytes(size)) for n, size in enumerate(sizes, start=1)]
                body = multipart(assignment, files, boundary)
                sock = raw_request(args.port, tokens[user], body, boundary)
                try:
                    sock.sendall(body)
                except OSError:
                    pass
                status, answer = read_response(sock)
                after_files = files_under(media_root)
                try:
                    detail = json.loads(answer.decode()).get("detail", "")
                except ValueError:
                    detail = answer[:80].decode("utf-8", "replace")
                results.append({
                    "case": what, "status": status, "detail": detail,
                    "new_files": sorted(set(after_files) - set(before_files)),
                    "bytes_left_behind": before_free - free_bytes(media_root),
                })
                log(f"  {what}: {status} {detail[:60]!r}; new files {results[-1]['new_files']}")
            (Path(media_root) / ".bench-filler" / "filler").unlink()
            user, assignment = plan[-1]
            tokens.setdefault(user, token_for(stack.url, user, args.password))
            boundary = uuid.uuid4().hex
            body = multipart(assignment, [("恢复后.pdf", pdf_bytes(1 << 20))], boundary)
            sock = raw_request(args.port, tokens[user], body, boundary)
            sock.sendall(body)
            recovered, _ = read_response(sock)
            log(f"  with room again: {recovered}")
        finally:
            stack.stop_all()
        from tasks.models import CheckIn

        checkins = CheckIn.objects.filter(assignment_id__in=[a for _u, a in plan[:-1]]).count()
        final = census(media_root, tmp_dir)
        result = {
            "scenario": "disk-full",
            "code": str(load.ROOT),
            "filesystem": f"tmpfs of {args.tmpfs_mb} MB as MEDIA_ROOT (FILE_UPLOAD_TEMP_DIR is MEDIA_ROOT/.upload-tmp where the code sets it)",
            "uploads": len(results),
            "statuses": {str(s): sum(1 for r in results if r["status"] == s) for s in {r["status"] for r in results}},
            "chinese_detail": sum(1 for r in results if "存储空间已满" in r["detail"]),
            "uploads_that_left_files": sum(1 for r in results if r["new_files"]),
            "bytes_left_behind_max": max(r["bytes_left_behind"] for r in results),
            "checkins_created_by_refused_uploads": checkins,
            "upload_with_room_again": recovered,
            "census": final,
            "cases": results,
        }
        finish(args, result, media_root, tmp_dir)
        ok = final["orphans"] == 0 and not result["uploads_that_left_files"] and recovered == 201
        return 0 if ok else 1
    finally:
        subprocess.run(["umount", str(media_root)], check=False)
        shutil.rmtree(media_root, ignore_errors=True)


# -- upload-cost ----------------------------------------------------------------------------


OPEN_TASKS_SQL = """
    SELECT u.username, a.id FROM tasks_assignment a
    JOIN enterprises_profile p ON p.enterprise_id = a.enterprise_id AND p.role = 'enterprise_liaison'
    JOIN auth_user u ON u.id = p.user_id
    WHERE a.state = 'not_submitted' ORDER BY p.id DESC, a.id LIMIT %s
"""


def open_tasks(db_url, count):
    """(username, assignment id) of `count` open tasks, read with SQL (works on any version)."""
    import psycopg2

    conn = psycopg2.connect(db_url)
    try:
        with conn.cursor() as cursor:
            cursor.execute(OPEN_TASKS_SQL, [count])
            rows = cursor.fetchall()
    finally:
        conn.close()
    if len(rows) < count:
        raise SystemExit(f"only {len(rows)} open tasks in {db_url}, {count} needed")
    return rows


def start_baseline(args, out_dir):
    """The --baseline checkout on its own database, MEDIA_ROOT and port (--port + 1)."""
    root = Path(args.baseline).resolve()
    media = Path(tempfile.mkdtemp(prefix="bench_upload_media_baseline_"))
    tmp = Path(tempfile.mkdtemp(prefix="bench_upload_tmpdir_baseline_"))
    env = load.portal_env(args.baseline_db_url, args.redis_url, media, TMPDIR=str(tmp))
    env.pop("FILE_UPLOAD_TEMP_DIR", None)
    load.recreate_database(args.baseline_db_url)
    seed_env = dict(env, REDIS_URL="")
    with open(out_dir / "baseline-seed.log", "a") as seed_log:
        for command in (["migrate", "--noinput"],
                        ["seed_demo", "--password", args.password, "--enterprises", str(args.enterprises), "--no-progress"]):
            subprocess.run([sys.executable, "manage.py", *command], cwd=root, env=seed_env, check=True,
                           stdout=seed_log, stderr=subprocess.STDOUT)
    port = args.port + 1
    web_env = dict(env, GUNICORN_BIND=f"127.0.0.1:{port}", WEB_CONCURRENCY="1")
    log_file = open(out_dir / "baseline-gunicorn.log", "a")
    proc = subprocess.Popen([str(load.BIN / "gunicorn"), "chanjgai_portal.wsgi", "--config", "gunicorn.conf.py"],
                            cwd=root, env=web_env, stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True)
    baseline = type("Baseline", (), {})()
    baseline.url, baseline.port, baseline.proc, baseline.media, baseline.tmp = f"http://127.0.0.1:{port}", port, proc, media, tmp
    wait_ready(baseline)
    return baseline


def stop_baseline(baseline):
    import signal

    try:
        os.killpg(baseline.proc.pid, signal.SIGTERM)
        baseline.proc.wait(timeout=30)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        os.killpg(baseline.proc.pid, signal.SIGKILL)
    shutil.rmtree(baseline.media, ignore_errors=True)
    shutil.rmtree(baseline.tmp, ignore_errors=True)


def timed_upload(port, token, assignment, size):
    boundary = uuid.uuid4().hex
    body = multipart(assignment, [("cost.pdf", pdf_bytes(size))], boundary)
    began = time.monotonic()
    sock = raw_request(port, token, body, boundary)
    sock.sendall(body)
    status, _ = read_response(sock)
    if status != 201:
        raise SystemExit(f"upload on port {port} answered {status}")
    return (time.monotonic() - began) * 1000


def upload_cost(args):
    """What staging and fsync cost an undisturbed upload: --uploads API uploads per size, one
    at a time, timed from the first byte sent to the answer. With --baseline (another
    checkout, e.g. main before the fix) both portals run at once (one gunicorn worker each)
    and the uploads alternate between them, so both see the same machine load."""
    media_root = Path(tempfile.mkdtemp(prefix="bench_upload_media_"))
    tmp_dir = Path(tempfile.mkdtemp(prefix="bench_upload_tmpdir_"))
    out_dir, env, stack = start(args, "upload-cost", media_root, tmp_dir)
    sizes = [int(size) for size in args.sizes.split(",")]
    count = len(sizes) * (args.uploads + 1)
    portals = {"this": (stack.port, open_tasks(args.db_url, count))}
    baseline = None
    timings = {}
    try:
        if args.baseline:
            baseline = start_baseline(args, out_dir)
            portals["baseline"] = (baseline.port, open_tasks(args.baseline_db_url, count))
        tokens = {}
        names = list(portals)
        for index in range(count):
            size = sizes[index % len(sizes)]
            order = names if index % 2 == 0 else names[::-1]
            for name in order:
                port, plan = portals[name]
                user, assignment = plan[index]
                if (name, user) not in tokens:
                    tokens[name, user] = token_for(f"http://127.0.0.1:{port}", user, args.password)
                ms = timed_upload(port, tokens[name, user], assignment, size)
                if index >= len(sizes):  # the first of each size warms the worker up
                    timings.setdefault(name, {}).setdefault(size, []).append(ms)
    finally:
        stack.stop_all()
        if baseline is not None:
            stop_baseline(baseline)
    summary = {
        name: {
            str(size): {"n": len(values), "median": round(load.pct(values, 50), 1), "p90": round(load.pct(values, 90), 1)}
            for size, values in by_size.items()
        }
        for name, by_size in timings.items()
    }
    result = {
        "scenario": "upload-cost",
        "code": str(load.ROOT),
        "baseline": args.baseline,
        "load_average": os.getloadavg(),
        "ms_by_size": summary,
    }
    if "baseline" in summary:
        result["median_ratio_this_to_baseline"] = {
            size: round(summary["this"][size]["median"] / summary["baseline"][size]["median"], 2) for size in summary["this"]
        }
    finish(args, result, media_root, tmp_dir)
    shutil.rmtree(media_root, ignore_errors=True)
    return 0


def finish(args, result, media_root, tmp_dir):
    text = json.dumps(result, ensure_ascii=False, indent=2, default=str)
    print(text)
    if args.json:
        Path(args.json).write_text(text)
    if not args.keep_media:
        shutil.rmtree(tmp_dir, ignore_errors=True)
        if result["scenario"] == "kill-upload":
            shutil.rmtree(media_root, ignore_errors=True)


def add_parsers(sub, common):
    """The scenarios' sub-commands for bench/faults.py."""
    k = sub.add_parser("kill-upload", parents=[common], help="kill -9 the web worker mid-upload, --rounds times")
    k.add_argument("--rounds", type=int, default=20)
    k.add_argument("--upload-bytes", type=int, default=8 * 1024 * 1024, help="PDF size (default 8 MB)")
    k.add_argument("--enterprises", type=int, default=40, help="seed_demo --enterprises (default 40)")
    k.add_argument("--seed", type=int, default=13, help="random seed of the kill moments")
    k.set_defaults(run=kill_upload)

    d = sub.add_parser("disk-full", parents=[common], help="uploads into a MEDIA_ROOT on a tiny tmpfs")
    d.add_argument("--tmpfs-mb", type=int, default=24)
    d.add_argument("--repeat", type=int, default=3, help="times each case is tried (default 3)")
    d.add_argument("--enterprises", type=int, default=40, help="seed_demo --enterprises (default 40)")
    d.set_defaults(run=disk_full)

    c = sub.add_parser("upload-cost", parents=[common], help="time undisturbed uploads (staging and fsync cost)")
    c.add_argument("--uploads", type=int, default=30, help="uploads per size (default 30)")
    c.add_argument("--sizes", default="102400,8388608", help="PDF sizes in bytes, comma-separated")
    c.add_argument("--enterprises", type=int, default=40, help="seed_demo --enterprises (default 40)")
    c.add_argument("--baseline", help="another checkout (e.g. main before the fix) run alongside on --port + 1")
    c.add_argument("--baseline-db-url", default="postgres://postgres@127.0.0.1:5432/bench_upload_baseline")
    c.set_defaults(run=upload_cost)
