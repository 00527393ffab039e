"""Session life-cycle benchmark: airlock's create / refresh / list against the same work
done by hand.  Python 3.11 stdlib only.

    run_sessions(airlock_bin, workdir, reps=3, log=print) -> dict
    markdown(result) -> str

What is measured (wall time, time.perf_counter around subprocess.run; medians in ms):

  create   `airlock create --agent shell --prompt 'sleep 3600'` (create does not attach:
           it makes the session, starts the container and returns) for a new session, the
           image present locally (pull_policy "never"), the proxy already running.
           raw (docker CLI): the session's own repository with the git CLI (session/session_repo.cpp:
           the user's branch, `git init --bare`, alternates, the branch, `checkout -f` into the
           work tree, the .git file) + `docker create` with
           the container airlock builds (session/container.cpp + the docker backend's
           to_create_request: same image, command, env, labels, user, workdir, tty/stdin,
           init, mounts, extra host, network, cpu/memory/pids limits, cap-drop ALL,
           no-new-privileges) + `docker start`.  The session is confined (the default:
           network mode none, airlock-relay and the proxy's socket directory mounted, the
           relay running the agent), and so are the raw containers.
           raw (Engine API): the same git command + POST /containers/create (the same JSON
           body airlock sends) + POST /containers/{id}/start with
           `curl --unix-socket`; the docker CLI alone costs tens of ms per call.
           Both raw variants let `docker create` make the home volume implicitly (airlock
           makes it explicitly, with labels); the shared cache volumes exist already.
  refresh  `airlock refresh <session>` against docker stop -t 10 + docker rm +
           docker create + docker start (and the API equivalent).  10 s is the stop
           timeout airlock's refresh passes to the backend (manager.cpp); the agent
           (`sh -c 'sleep 3600'` under --init) stops on SIGTERM at once, so the timeout is
           never reached by either side.
  list     `airlock list` with 1,000 session rows in the store, and with none.

Every repetition creates one airlock session and two raw containers (CLI, API) in a random
order, then refreshes the three in a random order, then removes them (not timed).

The raw containers carry the same labels as airlock's, but dev.airlock.home points at a
directory of their own so airlock (create's max_containers check, list) never sees them.
The one difference left (logged by the warm-up's check): `docker create -i` always sets
StdinOnce=true, airlock's API request sets false; it does not change what is timed.
The cache volumes are airlock's default five ([[cache]] defaults, same targets) under
names unique to this run so that they can be removed afterwards.
"""

import json
import os
import random
import secrets
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone

IMAGE = "airlock-test/agent:latest"
AGENT_COMMAND = ["sh", "-c"]
PROMPT = "sleep 3600"
CPUS = "2"
MEMORY = "4g"
PIDS_LIMIT = 1024
NETWORK = "confined"  # the default; session/network.hpp
STOP_TIMEOUT = 10  # manager.cpp: backend_.stop(s->container_id, 10) in refresh
API_VERSION = "1.41"  # engine_client.cpp negotiates min(engine, 1.41)
DEFAULT_CACHES = [  # docs/configuration.md, [[cache]] defaults
    ("cargo-registry", "/home/agent/.cargo/registry"),
    ("cargo-git", "/home/agent/.cargo/git"),
    ("sccache", "/home/agent/.cache/sccache"),
    ("npm", "/home/agent/.npm"),
    ("pip", "/home/agent/.cache/pip"),
]
LIST_ROWS = 1000
LIST_RUNS = 10


class BenchError(RuntimeError):
    pass


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _docker_socket():
    host = os.environ.get("DOCKER_HOST", "")
    if host.startswith("unix://"):
        return host[len("unix://"):]
    if host:
        raise BenchError(f"DOCKER_HOST={host}: the Engine API variant needs a unix socket")
    return "/var/run/docker.sock"


def _run(cmd, *, env=None, cwd=None, input=None, check=True):
    """Runs cmd; returns (elapsed ms, CompletedProcess)."""
    t0 = time.perf_counter()
    p = subprocess.run(cmd, env=env, cwd=cwd, input=input, capture_output=True, text=True)
    ms = (time.perf_counter() - t0) * 1000.0
    if check and p.returncode != 0:
        raise BenchError(f"{' '.join(cmd[:4])} ... exited {p.returncode}: "
                         f"{(p.stderr or p.stdout).strip()[-400:]}")
    return ms, p


def _git_identity(env_name, key, cwd):
    """What airlock's open_world puts in GIT_AUTHOR_* (env first, else git config)."""
    v = os.environ.get(env_name)
    if v:
        return v
    p = subprocess.run(["git", "config", "--get", key], cwd=cwd, capture_output=True, text=True)
    return p.stdout.rstrip("\r\n")


class _Bench:
    def __init__(self, airlock_bin, workdir, log):
        self.bin = os.path.abspath(airlock_bin)
        self.log = log
        os.makedirs(workdir, exist_ok=True)
        self.base = os.path.realpath(tempfile.mkdtemp(prefix="sess-", dir=workdir))
        self.run_id = "b" + secrets.token_hex(3)  # names on the engine are global
        self.home = os.path.join(self.base, "home")
        self.repo = os.path.join(self.base, "repo")
        self.raw_wt_dir = os.path.join(self.base, "raw-worktrees")
        self.raw_home_label = os.path.join(self.base, "raw-home")
        self.sock = _docker_socket()
        self.env = dict(os.environ, AIRLOCK_HOME=self.home)
        self.port = _free_port()
        self.caches = [(f"{self.run_id}-{n}", t) for n, t in DEFAULT_CACHES]
        self.uid_gid = f"{os.getuid()}:{os.getgid()}"
        # Everything made, for the cleanup.
        self.airlock_sessions = set()
        self.raw = {}  # container name -> dict(worktree, branch, volume)
        self.fake_rows = False
        self.proxy_started = False

    # ---- setup -------------------------------------------------------------------------
    def setup(self):
        _run(["docker", "image", "inspect", IMAGE])
        os.makedirs(self.home)
        os.makedirs(self.raw_wt_dir)
        cache_toml = "".join(f'\n[[cache]]\nname = "{n}"\ntarget = "{t}"\n' for n, t in self.caches)
        with open(os.path.join(self.home, "config.toml"), "w") as f:
            f.write(f'[docker]\nimage = "{IMAGE}"\npull_policy = "never"\ncpus = "{CPUS}"\n'
                    f'memory = "{MEMORY}"\npids_limit = {PIDS_LIMIT}\nnetwork = "{NETWORK}"\n\n'
                    f'[proxy]\nport = {self.port}\n{cache_toml}')
        _run(["git", "init", "-q", self.repo])
        with open(os.path.join(self.repo, "README.md"), "w") as f:
            f.write("# bench\n")
        for i in range(20):  # a small tree to check out
            with open(os.path.join(self.repo, f"file{i}.txt"), "w") as f:
                f.write(f"line {i}\n" * 50)
        _run(["git", "-C", self.repo, "add", "."])
        _run(["git", "-C", self.repo, "-c", "user.name=bench", "-c", "user.email=bench@example.invalid",
              "commit", "-qm", "initial"])
        self.head = _run(["git", "-C", self.repo, "rev-parse", "HEAD"])[1].stdout.strip()
        self.git_dir = os.path.join(self.repo, ".git")
        self.git_name = _git_identity("GIT_AUTHOR_NAME", "user.name", self.base)
        self.git_email = _git_identity("GIT_AUTHOR_EMAIL", "user.email", self.base)
        self.image_id = _run(["docker", "image", "inspect", "-f", "{{.Id}}", IMAGE])[1].stdout.strip()
        self.airlock(["ca", "init"])
        self.airlock(["proxy", "start"])
        self.proxy_started = True
        self.ca = os.path.join(self.home, "ca", "ca.pem")
        self.bundle = os.path.join(self.home, "ca", "ca-bundle.pem")
        self.hooks = os.path.join(self.home, "hooks")
        self.run_dir = os.path.join(self.home, "run")
        # src/paths.cpp relay_candidates: beside airlock, ../libexec/airlock/, ../relay/ (build tree)
        d = os.path.dirname(self.bin)
        self.relay = next((c for c in (os.path.join(d, "airlock-relay"), os.path.join(d, "..", "libexec", "airlock", "airlock-relay"),
                                       os.path.join(d, "..", "relay", "airlock-relay")) if os.path.isfile(c)), None)
        if self.relay is None:
            raise BenchError(f"airlock-relay not found beside {self.bin}")
        self.relay = os.path.realpath(self.relay)

    def airlock(self, args, check=True):
        return _run([self.bin] + args, env=self.env, cwd=self.base, check=check)

    # ---- the container airlock builds, by hand ------------------------------------------
    def spec(self, session, wt, home_volume):
        """session/container.cpp build_container_spec, for an arg-prompt agent, no extra env,
        no credential rules, read_only false."""
        token = secrets.token_urlsafe(32)  # airlock's tokens: 43 url-safe characters
        proxy = f"http://{session}:{token}@127.0.0.1:{self.port}"  # the relay in the container
        env = [f"{k}={proxy}" for k in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy")]
        env += ["NO_PROXY=localhost,127.0.0.1", "no_proxy=localhost,127.0.0.1"]
        env += [f"{k}=/etc/airlock/ca-bundle.pem"
                for k in ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "GIT_SSL_CAINFO", "PIP_CERT",
                          "CODEX_CA_CERTIFICATE")]
        env += ["NODE_EXTRA_CA_CERTS=/etc/airlock/ca.pem", "NODE_USE_ENV_PROXY=1",
                "HOME=/home/agent", f"AIRLOCK_SESSION={session}"]
        if self.git_name:
            env += [f"GIT_AUTHOR_NAME={self.git_name}", f"GIT_COMMITTER_NAME={self.git_name}"]
        if self.git_email:
            env += [f"GIT_AUTHOR_EMAIL={self.git_email}", f"GIT_COMMITTER_EMAIL={self.git_email}"]
        g = self.git_dir
        sg = wt + ".git"  # the session's own repository (airlock: $AIRLOCK_HOME/sessions/<name>/git)
        mounts = [("bind", wt, "/workspace", False), ("bind", wt + "/.git", "/workspace/.git", True),
                  ("bind", sg, "/airlock/git", False), ("bind", sg + "/config", "/airlock/git/config", True),
                  ("bind", sg + "/hooks", "/airlock/git/hooks", True), ("bind", g + "/objects", g + "/objects", True),
                  ("bind", self.ca, "/etc/airlock/ca.pem", True),
                  ("bind", self.bundle, "/etc/airlock/ca-bundle.pem", True)]
        # The system trust stores (session/container.hpp kSystemTrustPaths).
        mounts += [("bind", self.bundle, p, True)
                   for p in ("/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt",
                             "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem", "/etc/ssl/cert.pem",
                             "/etc/ssl/ca-bundle.pem")]
        mounts += [("bind", self.hooks, "/etc/airlock/hooks", True), ("volume", home_volume, "/home/agent", False)]
        mounts += [("volume", f"airlock-cache-{n}", t, False) for n, t in self.caches]
        mounts += [("bind", self.relay, "/run/airlock/relay", True), ("bind", self.run_dir, "/run/airlock/proxy", True)]
        relay = ["/run/airlock/relay", "exec", "--port", str(self.port), "--socket", "/run/airlock/proxy/proxy.sock", "--"]
        return {"labels": {"dev.airlock.session": session, "dev.airlock.home": self.raw_home_label,
                           "dev.airlock.home-id": "bench-raw"},
                "env": env, "mounts": mounts, "cmd": relay + AGENT_COMMAND + [PROMPT]}

    def cli_create_argv(self, name, spec):
        argv = ["docker", "create", "--name", name]
        for k, v in spec["labels"].items():
            argv += ["--label", f"{k}={v}"]
        argv += ["--workdir", "/workspace", "--user", self.uid_gid, "-t", "-i", "--init"]
        for kind, src, dst, ro in spec["mounts"]:
            argv += ["--mount", f"type={kind},source={src},target={dst}" + (",readonly" if ro else "")]
        for e in spec["env"]:
            argv += ["-e", e]
        argv += ["--network", "none",
                 "--cpus", CPUS, "--memory", MEMORY, "--pids-limit", str(PIDS_LIMIT),
                 "--cap-drop", "ALL", "--security-opt", "no-new-privileges", IMAGE]
        return argv + spec["cmd"]

    def api_create_body(self, spec):
        """backends/docker/container_spec.cpp to_create_request."""
        return json.dumps({
            "Image": IMAGE, "Cmd": spec["cmd"], "Env": spec["env"], "Labels": spec["labels"],
            "WorkingDir": "/workspace", "User": self.uid_gid, "Tty": True, "OpenStdin": True,
            "StdinOnce": False, "AttachStdin": True, "AttachStdout": True, "AttachStderr": True,
            "HostConfig": {
                "Mounts": [{"Type": k, "Source": s, "Target": t, "ReadOnly": ro} for k, s, t, ro in spec["mounts"]],
                "ExtraHosts": [], "NetworkMode": "none",
                "NanoCpus": int(round(float(CPUS) * 1e9)), "Memory": 4 << 30, "PidsLimit": PIDS_LIMIT,
                "ReadonlyRootfs": False, "Init": True, "CapDrop": ["ALL"],
                "SecurityOpt": ["no-new-privileges"]}})

    def curl(self, method, path, body=None, want=(200, 201, 204)):
        argv = ["curl", "-sS", "--unix-socket", self.sock, "-X", method, "-w", "\n%{http_code}"]
        if body is not None:
            argv += ["-H", "Content-Type: application/json", "--data-binary", "@-"]
        argv.append(f"http://docker/v{API_VERSION}{path}")
        ms, p = _run(argv, input=body)
        text, _, code = p.stdout.rpartition("\n")
        if int(code) not in want:
            raise BenchError(f"{method} {path}: HTTP {code}: {text.strip()[:300]}")
        return ms, text

    # ---- the three ways to create / refresh ---------------------------------------------
    def airlock_create(self, session):
        self.airlock_sessions.add(session)
        ms, p = self.airlock(["create", "--repo", self.repo, "--agent", "shell", "--name", session,
                              "--prompt", PROMPT])
        if f"created session {session}" not in p.stdout:
            raise BenchError(f"airlock create {session}: unexpected output {p.stdout!r}")
        return ms

    def airlock_container(self, session):
        """The container airlock made for `session` (named airlock-<session>-<home id>)."""
        p = _run(["docker", "ps", "-a", "--filter", f"label=dev.airlock.session={session}",
                  "--filter", f"label=dev.airlock.home={self.home}", "--format", "{{.Names}}"])[1]
        names = p.stdout.split()
        if len(names) != 1:
            raise BenchError(f"expected one container for airlock session {session}, found {names}")
        return names[0]

    def airlock_refresh(self, session):
        ms, p = self.airlock(["refresh", session])
        if not p.stdout.startswith(f"refreshed {session}"):
            raise BenchError(f"airlock refresh {session}: unexpected output {p.stdout!r}")
        return ms

    def _raw_entry(self, name):
        wt = os.path.join(self.raw_wt_dir, name)
        entry = {"worktree": wt, "branch": f"rawbench/{name}", "volume": f"{name}-home", "id": None}
        self.raw[name] = entry
        return entry

    def raw_create(self, name, api):
        e = self._raw_entry(name)
        spec = self.spec(name, e["worktree"], e["volume"])
        t0 = time.perf_counter()
        self.raw_session_repo(e["worktree"], e["branch"])
        if api:
            _, text = self.curl("POST", f"/containers/create?name={name}", self.api_create_body(spec))
            e["id"] = json.loads(text)["Id"]
            self.curl("POST", f"/containers/{e['id']}/start")
        else:
            e["id"] = _run(self.cli_create_argv(name, spec))[1].stdout.strip()
            _run(["docker", "start", name])
        return (time.perf_counter() - t0) * 1000.0

    def raw_session_repo(self, wt, branch):
        """What session_repo.cpp create_session_repo does, with the git CLI."""
        sg = wt + ".git"
        _run(["git", "-C", self.repo, "branch", branch, self.head])
        _run(["git", "init", "-q", "--bare", sg])
        _run(["git", "--git-dir", sg, "config", "core.bare", "false"])
        with open(os.path.join(sg, "objects", "info", "alternates"), "w") as f:
            f.write(os.path.join(self.git_dir, "objects") + "\n")
        _run(["git", "--git-dir", sg, "update-ref", "refs/heads/" + branch, self.head])
        _run(["git", "--git-dir", sg, "symbolic-ref", "HEAD", "refs/heads/" + branch])
        os.makedirs(wt)
        _run(["git", "--git-dir", sg, "--work-tree", wt, "checkout", "-q", "-f", branch])
        with open(os.path.join(wt, ".git"), "w") as f:
            f.write("gitdir: /airlock/git\n")

    def raw_refresh(self, name, api):
        e = self.raw[name]
        spec = self.spec(name, e["worktree"], e["volume"])  # a fresh token, like airlock's
        t0 = time.perf_counter()
        if api:
            self.curl("POST", f"/containers/{e['id']}/stop?t={STOP_TIMEOUT}", want=(204, 304))
            self.curl("DELETE", f"/containers/{e['id']}")
            _, text = self.curl("POST", f"/containers/create?name={name}", self.api_create_body(spec))
            e["id"] = json.loads(text)["Id"]
            self.curl("POST", f"/containers/{e['id']}/start")
        else:
            _run(["docker", "stop", "-t", str(STOP_TIMEOUT), name])
            _run(["docker", "rm", name])
            e["id"] = _run(self.cli_create_argv(name, spec))[1].stdout.strip()
            _run(["docker", "start", name])
        return (time.perf_counter() - t0) * 1000.0

    # ---- removal (never timed) -----------------------------------------------------------
    def remove_airlock(self, session):
        self.airlock(["delete", "--force", "--delete-branch", session], check=False)
        self.airlock_sessions.discard(session)

    def remove_raw(self, name):
        e = self.raw.pop(name, None)
        if e is None:
            return
        _run(["docker", "rm", "-f", name], check=False)
        _run(["docker", "volume", "rm", "-f", e["volume"]], check=False)
        shutil.rmtree(e["worktree"], ignore_errors=True)
        shutil.rmtree(e["worktree"] + ".git", ignore_errors=True)
        _run(["git", "-C", self.repo, "branch", "-D", e["branch"]], check=False)

    # ---- checks --------------------------------------------------------------------------
    def compare_containers(self, airlock_name, raw_name):
        """Differences between the container airlock made and a raw one (besides names,
        paths, the token and the home label); logged, not fatal."""
        def shape(name):
            d = json.loads(_run(["docker", "inspect", name])[1].stdout)[0]
            c, h = d["Config"], d["HostConfig"]
            env = sorted(e.split("=", 1)[0] for e in c["Env"])
            mounts = [(m["Type"], m["Target"], bool(m.get("ReadOnly"))) for m in h["Mounts"]]
            return {"User": c["User"], "Cmd": c["Cmd"], "WorkingDir": c["WorkingDir"], "Tty": c["Tty"],
                    "OpenStdin": c["OpenStdin"], "StdinOnce": c["StdinOnce"],
                    "AttachStdin": c["AttachStdin"], "Labels": sorted(c["Labels"]), "EnvKeys": env,
                    "Mounts": mounts, "NetworkMode": h["NetworkMode"], "ExtraHosts": h["ExtraHosts"],
                    "Memory": h["Memory"], "NanoCpus": h["NanoCpus"], "PidsLimit": h["PidsLimit"],
                    "ReadonlyRootfs": h["ReadonlyRootfs"], "Init": h["Init"], "CapDrop": h["CapDrop"],
                    "SecurityOpt": h["SecurityOpt"], "Image": d["Image"], "Running": d["State"]["Running"]}
        a, r = shape(airlock_name), shape(raw_name)
        diff = {k: (a[k], r[k]) for k in a if a[k] != r[k]}
        if diff:
            self.log(f"  container spec differs from airlock's ({raw_name}): {diff}")
        return diff

    # ---- list ----------------------------------------------------------------------------
    def insert_rows(self, n):
        """n rows in session/store.cpp's schema (sessions table, version 1).  They point at
        containers that do not exist (random 64-hex ids, no such container on the engine),
        stored as status 'running', so the first `airlock list` finds each container gone,
        shows it as 'lost' and marks the row lost (one UPDATE per row); later lists only
        read.  Worktrees and home volumes named in the rows do not exist either."""
        db = sqlite3.connect(os.path.join(self.home, "sessions.db"), timeout=10)
        t = datetime.now(timezone.utc)
        rows = []
        for i in range(n):
            name = f"{self.run_id}-fake-{i:04d}"
            ts = (t + timedelta(milliseconds=i)).strftime("%Y-%m-%dT%H:%M:%S.") + \
                f"{(t + timedelta(milliseconds=i)).microsecond // 1000:03d}Z"
            rows.append((name, self.repo, self.git_dir, "", os.path.join(self.home, "worktrees", name),
                         f"airlock/{name}", self.head, "docker", IMAGE, self.image_id, "shell",
                         json.dumps(AGENT_COMMAND, separators=(",", ":")), "arg", PROMPT, CPUS, MEMORY,
                         PIDS_LIMIT, "never", NETWORK, 0, "[]", "[]", secrets.token_hex(32),
                         f"airlock-home-{name}", "running", ts, ts, ""))
        self.fake_rows = True
        with db:
            db.executemany("INSERT INTO sessions(name, repo_root, git_common_dir, repo_subdir, worktree, "
                           "branch, base_commit, backend, image, image_id, agent, agent_command, "
                           "prompt_mode, prompt, cpus, memory, pids_limit, pull_policy, network, read_only, "
                           "extra_env, credentials, container_id, home_volume, status, created_at, "
                           "updated_at, last_error) VALUES (" + ",".join("?" * 28) + ")", rows)
        db.close()
        return [r[0] for r in rows]

    def delete_rows(self):
        if not self.fake_rows:
            return
        db = sqlite3.connect(os.path.join(self.home, "sessions.db"), timeout=10)
        with db:
            db.execute("DELETE FROM sessions WHERE name LIKE ?", (f"{self.run_id}-fake-%",))
        db.close()
        self.fake_rows = False

    def list_once(self):
        ms, p = self.airlock(["list"])
        lines = [l for l in p.stdout.splitlines() if l.strip()]
        if not lines or not lines[0].startswith("NAME"):
            raise BenchError(f"airlock list: unexpected output {p.stdout[:200]!r}")
        return ms, lines[1:]

    # ---- cleanup -------------------------------------------------------------------------
    def cleanup(self, keep=False):
        steps = []
        for s in list(self.airlock_sessions):
            steps.append((f"delete {s}", lambda s=s: self.remove_airlock(s)))
        for n in list(self.raw):
            steps.append((f"remove {n}", lambda n=n: self.remove_raw(n)))
        steps.append(("fake rows", self.delete_rows))

        def leftovers():
            for label in (self.home, self.raw_home_label):
                ids = _run(["docker", "ps", "-aq", "--filter", f"label=dev.airlock.home={label}"],
                           check=False)[1].stdout.split()
                if ids:
                    self.log(f"  removing leftover containers {ids}")
                    _run(["docker", "rm", "-f"] + ids, check=False)
                vols = _run(["docker", "volume", "ls", "-q", "--filter", f"label=dev.airlock.home={label}"],
                            check=False)[1].stdout.split()
                if vols:
                    self.log(f"  removing leftover volumes {vols}")
                    _run(["docker", "volume", "rm", "-f"] + vols, check=False)
            _run(["docker", "volume", "rm", "-f"] + [f"airlock-cache-{n}" for n, _ in self.caches], check=False)
        steps.append(("leftovers", leftovers))
        if self.proxy_started:
            steps.append(("proxy stop", lambda: self.airlock(["proxy", "stop", "--grace", "1"], check=False)))
        if os.path.isdir(self.repo):
            steps.append(("worktree prune", lambda: _run(["git", "-C", self.repo, "worktree", "prune"], check=False)))
        if not keep:
            steps.append(("files", lambda: shutil.rmtree(self.base, ignore_errors=True)))
        for what, fn in steps:
            try:
                fn()
            except Exception as e:  # keep cleaning
                self.log(f"  cleanup step '{what}' failed: {e}")


def _ratio(a, b):
    return round(a / b, 3) if a and b else None


def run_sessions(airlock_bin: str, workdir: str, reps: int = 3, log=print) -> dict:
    b = _Bench(airlock_bin, workdir, log)
    rng = random.Random()
    samples = {k: [] for k in ("create", "raw_create", "raw_api_create",
                               "refresh", "raw_refresh", "raw_api_refresh")}
    out = {}
    try:
        log(f"sessions bench: home {b.home}, run id {b.run_id}")
        b.setup()

        # Warm-up (not measured): makes the CA bundle, hooks dir and cache volumes, warms
        # caches, and checks that the raw container matches airlock's.
        log("warm-up")
        w = f"{b.run_id}-warm"
        b.airlock_create(w)
        b.raw_create(f"{w}-cli", api=False)
        b.raw_create(f"{w}-api", api=True)
        diffs = {"cli": b.compare_containers(b.airlock_container(w), f"{w}-cli"),
                 "api": b.compare_containers(b.airlock_container(w), f"{w}-api")}
        b.airlock_refresh(w)
        b.raw_refresh(f"{w}-cli", api=False)
        b.raw_refresh(f"{w}-api", api=True)
        b.remove_airlock(w)
        b.remove_raw(f"{w}-cli")
        b.remove_raw(f"{w}-api")

        for i in range(reps):
            s = f"{b.run_id}-s{i}"
            cli, api = f"{s}-cli", f"{s}-api"
            kinds = ["airlock", "cli", "api"]
            rng.shuffle(kinds)
            for k in kinds:
                if k == "airlock":
                    samples["create"].append(b.airlock_create(s))
                elif k == "cli":
                    samples["raw_create"].append(b.raw_create(cli, api=False))
                else:
                    samples["raw_api_create"].append(b.raw_create(api, api=True))
            create_order = kinds[:]
            rng.shuffle(kinds)
            for k in kinds:
                if k == "airlock":
                    samples["refresh"].append(b.airlock_refresh(s))
                elif k == "cli":
                    samples["raw_refresh"].append(b.raw_refresh(cli, api=False))
                else:
                    samples["raw_api_refresh"].append(b.raw_refresh(api, api=True))
            log(f"rep {i + 1}/{reps}: create {create_order} "
                f"{samples['create'][-1]:.0f} / {samples['raw_create'][-1]:.0f} / "
                f"{samples['raw_api_create'][-1]:.0f} ms; refresh {kinds} "
                f"{samples['refresh'][-1]:.0f} / {samples['raw_refresh'][-1]:.0f} / "
                f"{samples['raw_api_refresh'][-1]:.0f} ms (airlock / cli / api)")
            b.remove_airlock(s)
            b.remove_raw(cli)
            b.remove_raw(api)

        # list: no sessions, then 1,000 rows.
        empty = []
        for _ in range(LIST_RUNS):
            ms, lines = b.list_once()
            if lines:
                raise BenchError(f"airlock list with no sessions printed {len(lines)} rows")
            empty.append(ms)
        names = b.insert_rows(LIST_ROWS)
        first_ms, lines = b.list_once()  # marks all 1,000 rows lost
        full = []
        for _ in range(LIST_RUNS):
            ms, lines = b.list_once()
            full.append(ms)
        printed = {l.split()[0] for l in lines}
        states = {l.split()[1] for l in lines}
        if len(lines) != LIST_ROWS or printed != set(names):
            raise BenchError(f"airlock list printed {len(lines)} rows, expected {LIST_ROWS}")
        log(f"list: {len(lines)} rows, states {sorted(states)}")
        b.delete_rows()

        med = {k: statistics.median(v) for k, v in samples.items()}
        out = {
            "create_ms": round(med["create"], 1),
            "raw_create_ms": round(med["raw_create"], 1),
            "raw_api_create_ms": round(med["raw_api_create"], 1),
            "create_ratio": _ratio(med["create"], med["raw_create"]),
            "create_ratio_api": _ratio(med["create"], med["raw_api_create"]),
            "refresh_ms": round(med["refresh"], 1),
            "raw_refresh_ms": round(med["raw_refresh"], 1),
            "raw_api_refresh_ms": round(med["raw_api_refresh"], 1),
            "refresh_ratio": _ratio(med["refresh"], med["raw_refresh"]),
            "refresh_ratio_api": _ratio(med["refresh"], med["raw_api_refresh"]),
            "list_ms": round(statistics.median(full), 1),
            "list_ms_empty": round(statistics.median(empty), 1),
            "list_first_ms": round(first_ms, 1),
            "list_rows": len(lines),
            "reps": reps,
            "stop_timeout_s": STOP_TIMEOUT,
            "spec_differences": diffs,
            "samples_ms": {k: [round(x, 1) for x in v] for k, v in samples.items()},
            "samples_list_ms": [round(x, 1) for x in full],
            "samples_list_empty_ms": [round(x, 1) for x in empty],
            "docker": _run(["docker", "version", "-f", "{{.Server.Version}}"], check=False)[1].stdout.strip(),
            "airlock": b.airlock(["--version"], check=False)[1].stdout.strip(),
        }
        return out
    finally:
        log("cleaning up")
        b.cleanup(keep=os.environ.get("SESSIONS_BENCH_KEEP") == "1")


def markdown(result) -> str:
    def f(v, unit=""):
        return "—" if v is None else (f"{v:.1f}{unit}" if isinstance(v, float) else f"{v}{unit}")

    def ratio(v):
        return "—" if v is None else f"{v:.2f}x"

    r = result
    rows = [
        "| measure | airlock | raw (docker CLI) | raw (Engine API) | ratio |",
        "|---|---|---|---|---|",
        f"| create (ms) | {f(r.get('create_ms'))} | {f(r.get('raw_create_ms'))} | "
        f"{f(r.get('raw_api_create_ms'))} | {ratio(r.get('create_ratio'))} / {ratio(r.get('create_ratio_api'))} |",
        f"| refresh (ms) | {f(r.get('refresh_ms'))} | {f(r.get('raw_refresh_ms'))} | "
        f"{f(r.get('raw_api_refresh_ms'))} | {ratio(r.get('refresh_ratio'))} / {ratio(r.get('refresh_ratio_api'))} |",
        f"| list, {r.get('list_rows', LIST_ROWS)} sessions (ms) | {f(r.get('list_ms'))} | — | — | — |",
        f"| list, first after insert (marks all lost) (ms) | {f(r.get('list_first_ms'))} | — | — | — |",
        f"| list, no sessions (ms) | {f(r.get('list_ms_empty'))} | — | — | — |",
    ]
    return "\n".join(rows) + f"\n\nMedians of {r.get('reps')} runs (list: {LIST_RUNS}); ratio = airlock time " \
                             "divided by raw (docker CLI) time / by raw (Engine API) time.\n"


if __name__ == "__main__":
    here = os.path.dirname(os.path.abspath(__file__))
    default_bin = os.path.join(here, "..", "build-bench", "src", "airlock")
    airlock_bin = sys.argv[1] if len(sys.argv) > 1 else default_bin
    workdir = sys.argv[2] if len(sys.argv) > 2 else tempfile.gettempdir()
    result = run_sessions(airlock_bin, workdir, reps=3, log=lambda m: print(m, file=sys.stderr))
    print(json.dumps(result, indent=2))
    print(markdown(result), file=sys.stderr)
