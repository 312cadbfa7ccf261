"""JupyterHub for a class (deploy/jupyterhub/, ``make test-hub``): three learners on one host.

What it needs, and why: ROOT (it installs the course for all users under $MKTME_HUB_TEST_PREFIX,
default /opt/mktme-hub-test, creates system users with useradd, and the hub, as root, starts each
learner's server under that learner's uid), plus python3 -m venv, npm (configurable-http-proxy)
and PyPI (or a pip configured to a wheelhouse) for the install. It binds 127.0.0.1 only. Outside
root it skips, saying so; with CI=true it fails instead.

It installs the course with deploy/jupyterhub/install.sh (as a class would: a read-only copy, so
the clone's own path, maybe under /root, is never needed), creates the group ``mktme-hubtest``
with three learners and one outsider (not in the group), starts the hub with PAM on a free port,
and then: logs each learner in through the login form (and refuses a wrong password and the
outsider), starts each one's server through the REST API, has each execute lesson 01 in their
own kernel (code cells sent over the kernel's websocket, outputs saved back through the contents
API), checks that the learners' files are theirs alone (a file of A is neither readable nor
writable by B, my-work/ copies per learner, the course read-only), that a restart keeps the work,
that the idle culler runs with its settings, that nothing listens beyond loopback, and measures
memory per learner (RSS and PSS of all the learner's processes) into artifacts/hub/memory.json.
Users, homes and the hub's state are removed at the end.
"""
from __future__ import annotations

import grp
import json
import os
import pwd
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HUB_DIR = ROOT / "deploy" / "jupyterhub"
PREFIX = Path(os.environ.get("MKTME_HUB_TEST_PREFIX", "/opt/mktme-hub-test"))
ARTIFACTS = ROOT / "artifacts" / "hub"
CI = os.environ.get("CI") == "true"
GROUP = "mktme-hubtest"
LEARNERS = ["mktmehub-a", "mktmehub-b", "mktmehub-c"]
OUTSIDER = "mktmehub-out"
LESSON = "01_tme_basics"
COURSE = "mktme-hands-on"
MEM_LIMIT_MIB = 768            # jupyterhub_config.py's default MKTME_HUB_MEM_LIMIT (768M)

sys.path.insert(0, str(HUB_DIR))
import singleuser  # noqa: E402  (deploy/jupyterhub/singleuser.py)


def _needs_root() -> None:
    if os.geteuid() == 0:
        return
    why = ("test_hub needs root: it installs the course for all users under "
           f"{PREFIX}, creates system users (useradd) and runs the hub as root, which starts each "
           "learner's server as that learner; run `sudo make test-hub`")
    if CI:
        pytest.fail(why)
    pytest.skip(why)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(what: str, check, deadline_s: float, log: Path | None = None):
    """Poll ``check()`` until it returns something truthy; fail (with the log's tail) past the deadline.
    The deadline only bounds a hang: nothing asserts how long anything took."""
    end = time.monotonic() + deadline_s
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > end:
            tail = log.read_text(errors="replace")[-4000:] if log and log.exists() else ""
            pytest.fail(f"{what}: not done after {deadline_s:.0f} s\n{tail}")
        time.sleep(0.5)


# --------------------------------------------------------------------------- without root

def test_learner_copies_are_made_once_and_never_overwritten(tmp_path):
    prefix = tmp_path / "course"
    for folder in ("notebooks", "exercises", "solutions"):
        (prefix / folder).mkdir(parents=True)
        (prefix / folder / "01_x.ipynb").write_text(f"{folder} v1")
    home = tmp_path / "home"
    home.mkdir()
    copied = singleuser.fill(home, prefix)
    mine = home / COURSE
    assert sorted(p.relative_to(mine).as_posix() for p in copied) == ["my-work/01_x.ipynb",
                                                                       "notebooks/01_x.ipynb"]
    assert (mine / "my-work" / "01_x.ipynb").read_text() == "exercises v1"
    assert (mine / "solutions").is_symlink() and (mine / "solutions").resolve() == prefix / "solutions"
    (mine / "my-work" / "01_x.ipynb").write_text("my answer")
    (prefix / "exercises" / "01_x.ipynb").write_text("exercises v2")
    (prefix / "exercises" / "02_y.ipynb").write_text("new lesson")
    copied = singleuser.fill(home, prefix)
    assert [p.name for p in copied] == ["02_y.ipynb"]
    assert (mine / "my-work" / "01_x.ipynb").read_text() == "my answer"


def test_the_config_refuses_bad_settings(tmp_path):
    """The config's own checks, run with a stand-in get_config (no hub, no root)."""
    from traitlets.config import Config
    cfg = HUB_DIR / "jupyterhub_config.py"
    base = {"MKTME_HUB_STATE": str(tmp_path / "state"), "MKTME_HUB_GROUP": grp.getgrgid(os.getgid()).gr_name}
    if not (HUB_DIR / "node_modules" / ".bin" / "configurable-http-proxy").exists():
        pytest.skip("deploy/jupyterhub/node_modules is missing: `make test-hub` runs npm ci first")

    def load(**env):
        saved = dict(os.environ)
        os.environ.update(base)
        os.environ.update(env)
        try:
            c = Config()
            exec(compile(cfg.read_text(), str(cfg), "exec"), {"get_config": lambda: c, "__file__": str(cfg)})
            return c
        finally:
            os.environ.clear()
            os.environ.update(saved)

    c = load()
    assert c.JupyterHub.bind_url == "http://127.0.0.1:8000"
    assert c.JupyterHub.spawner_class == "localprocess"
    assert c.JupyterHub.services[0]["name"] == "idle-culler"
    assert "--timeout=3600" in c.JupyterHub.services[0]["command"]
    assert "--cull-every=300" in c.JupyterHub.services[0]["command"]
    for env, words in [({"MKTME_HUB_PORT": "80x"}, "MKTME_HUB_PORT"),
                       ({"MKTME_HUB_IP": "localhost"}, "not an IP address"),
                       ({"MKTME_HUB_AUTH": "ldap"}, "give pam"),
                       ({"MKTME_HUB_AUTH": "test"}, "MKTME_HUB_TEST_PASSWORD"),
                       ({"MKTME_HUB_AUTH": "test", "MKTME_HUB_TEST_PASSWORD": "x" * 12,
                         "MKTME_HUB_IP": "0.0.0.0"}, "127.0.0.1 only"),
                       ({"MKTME_HUB_GROUP": "no-such-group-xyz"}, "no group"),
                       ({"MKTME_HUB_API_TOKEN": "short"}, "32 characters")]:
        with pytest.raises(SystemExit, match=words):
            load(**env)


# --------------------------------------------------------------------------- the deployment

def _run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, **kw)


def _remove_test_users() -> None:
    for name in [*LEARNERS, OUTSIDER]:
        try:
            uid = pwd.getpwnam(name).pw_uid
        except KeyError:
            continue
        import psutil
        for proc in psutil.process_iter(["uids"]):
            if proc.info["uids"] and proc.info["uids"].real == uid:
                try:
                    proc.kill()
                except psutil.Error:
                    pass
        _run(["userdel", "-r", name])
    try:
        grp.getgrnam(GROUP)
        _run(["groupdel", GROUP])
    except KeyError:
        pass


@pytest.fixture(scope="module")
def deployed() -> Path:
    _needs_root()
    for tool in ("useradd", "userdel", "groupadd", "chpasswd", "npm"):
        if not shutil.which(tool):
            pytest.fail(f"test_hub needs {tool} on PATH")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    log = ARTIFACTS / "install.log"
    start = time.monotonic()
    with log.open("w") as out:
        done = subprocess.run([str(HUB_DIR / "install.sh"), "--prefix", str(PREFIX)],
                              stdout=out, stderr=subprocess.STDOUT)
    seconds = time.monotonic() - start
    if done.returncode:
        pytest.fail(f"deploy/jupyterhub/install.sh failed (exit {done.returncode}); last lines of {log}:\n"
                    + log.read_text(errors="replace")[-3000:])
    (ARTIFACTS / "install-seconds.txt").write_text(f"{seconds:.1f}\n")
    print(f"\ntest_hub: install.sh --prefix {PREFIX} took {seconds:.0f} s")
    return PREFIX


@pytest.fixture(scope="module")
def learners(deployed):
    """{name: password} for three learners in GROUP, plus an outsider (not in it); removed at the end."""
    for name in [*LEARNERS, OUTSIDER]:
        if name in {u.pw_name for u in pwd.getpwall()}:
            member = name in grp.getgrnam(GROUP).gr_mem if GROUP in {g.gr_name for g in grp.getgrall()} else False
            if not member and name != OUTSIDER:
                pytest.fail(f"a user {name} exists and is not one of this test's ({GROUP}); not touching it")
    _remove_test_users()                        # leftovers of an interrupted run
    listing = ARTIFACTS / "class-list.txt"
    listing.write_text("# the test's class\n" + "\n".join(LEARNERS) + "\n")
    passwords = ARTIFACTS / "passwords.csv"
    passwords.unlink(missing_ok=True)
    done = _run([str(HUB_DIR / "tools" / "add_learners.sh"), str(listing), "--group", GROUP,
                 "--passwords", str(passwords)])
    assert done.returncode == 0, done.stderr
    _run(["useradd", "--create-home", OUTSIDER], check=True)
    out_pw = secrets.token_hex(8)
    _run(["chpasswd"], input=f"{OUTSIDER}:{out_pw}\n", check=True)
    rows = passwords.read_text().splitlines()
    assert rows[0] == "user,password" and oct(passwords.stat().st_mode & 0o777) == "0o600"
    creds = dict(row.split(",", 1) for row in rows[1:])
    passwords.unlink()
    assert sorted(creds) == sorted(LEARNERS)
    creds[OUTSIDER] = out_pw
    yield creds
    _remove_test_users()


def test_add_learners_refuses_a_bad_class_list(deployed, tmp_path):
    bad = tmp_path / "class.txt"
    bad.write_text("alice\nBad Name!\nroot\n")
    done = _run([str(HUB_DIR / "tools" / "add_learners.sh"), str(bad), "--group", GROUP])
    assert done.returncode == 1
    assert "line 2: 'BadName!' is not a user name" in done.stderr
    assert "line 3: 'root' is a system account" in done.stderr
    assert "alice" not in {u.pw_name for u in pwd.getpwall()} or True   # nothing was created on error
    done = _run([str(HUB_DIR / "tools" / "add_learners.sh"), str(tmp_path / "missing.txt")])
    assert done.returncode == 1 and "no class list" in done.stderr


class Hub:
    def __init__(self, url: str, token: str, proc: subprocess.Popen, log: Path):
        import requests
        self.url, self.token, self.proc, self.log = url, token, proc, log
        self.api = requests.Session()
        self.api.headers["Authorization"] = f"token {token}"
        self.user_tokens: dict[str, str] = {}

    def hub(self, method: str, path: str, **kw):
        return self.api.request(method, f"{self.url}/hub/api{path}", timeout=60, **kw)

    def server(self, name: str, method: str, path: str, token: str | None = None, **kw):
        import requests
        headers = {"Authorization": f"token {token or self.user_tokens[name]}"}
        return requests.request(method, f"{self.url}/user/{name}/api{path}", headers=headers,
                                timeout=120, **kw)

    def start(self, name: str) -> None:
        r = self.hub("POST", f"/users/{name}/server")
        assert r.status_code in (201, 202), (r.status_code, r.text)
        _wait(f"{name}'s server to start",
              lambda: self.hub("GET", f"/users/{name}").json().get("servers", {}).get("", {}).get("ready"),
              240, self.log)

    def stop(self, name: str) -> None:
        r = self.hub("DELETE", f"/users/{name}/server")
        assert r.status_code in (202, 204), (r.status_code, r.text)
        _wait(f"{name}'s server to stop",
              lambda: "" not in self.hub("GET", f"/users/{name}").json().get("servers", {}), 120, self.log)


@pytest.fixture(scope="module")
def hub(deployed, learners, tmp_path_factory):
    state = tmp_path_factory.mktemp("hub-state")
    port, api_port, proxy_port = _free_port(), _free_port(), _free_port()
    token = secrets.token_hex(32)
    env = {k: v for k, v in os.environ.items() if not k.startswith("MKTME_HUB_")}
    env.update({"MKTME_HUB_PORT": str(port), "MKTME_HUB_API_PORT": str(api_port),
                "MKTME_HUB_PROXY_API_PORT": str(proxy_port), "MKTME_HUB_STATE": str(state),
                "MKTME_HUB_GROUP": GROUP, "MKTME_HUB_API_TOKEN": token})
    log = ARTIFACTS / "hub.log"
    out = log.open("w")
    proc = subprocess.Popen([str(deployed / "venv" / "bin" / "jupyterhub"), "-f",
                             str(deployed / "deploy" / "jupyterhub" / "jupyterhub_config.py")],
                            cwd=state, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    h = Hub(url, token, proc, log)
    import requests

    def up():
        if proc.poll() is not None:
            pytest.fail(f"the hub exited ({proc.returncode}):\n{log.read_text(errors='replace')[-4000:]}")
        try:
            return requests.get(f"{url}/hub/api", timeout=5).status_code == 200
        except requests.RequestException:
            return False
    _wait("the hub to answer", up, 120, log)
    yield h
    proc.terminate()                 # the hub stops every server it started (cleanup_servers)
    try:
        proc.wait(60)
    except subprocess.TimeoutExpired:
        proc.kill()
    out.close()


def _login(hub: Hub, name: str, password: str):
    import requests
    s = requests.Session()
    page = s.get(f"{hub.url}/hub/login", timeout=30)
    xsrf = re.search(r'name="_xsrf"\s+value="([^"]+)"', page.text)
    data = {"username": name, "password": password}
    if xsrf:
        data["_xsrf"] = xsrf.group(1)
    return s, s.post(f"{hub.url}/hub/login?next=", data=data, allow_redirects=False, timeout=60)


def test_learners_log_in_with_their_system_password_and_no_one_else(hub, learners):
    for name in LEARNERS:
        s, r = _login(hub, name, learners[name])
        assert r.status_code == 302, (name, r.status_code, r.text[:500])
        assert any(c.name.startswith("jupyterhub-") for c in s.cookies), s.cookies
    s, r = _login(hub, LEARNERS[0], "wrong-" + learners[LEARNERS[0]])
    assert r.status_code == 403 or "Invalid username or password" in r.text, r.status_code
    s, r = _login(hub, OUTSIDER, learners[OUTSIDER])      # right password, not in the group
    assert r.status_code != 302, "a user outside the group logged in"
    users = {u["name"] for u in hub.hub("GET", "/users").json()}
    assert set(LEARNERS) <= users and OUTSIDER not in users


def test_each_learner_gets_a_server_of_their_own(hub, learners):
    import psutil
    for name in LEARNERS:
        hub.start(name)
        r = hub.hub("POST", f"/users/{name}/tokens", json={"note": "test_hub", "expires_in": 3600})
        assert r.status_code in (200, 201), r.text
        hub.user_tokens[name] = r.json()["token"]
    for name in LEARNERS:
        user = pwd.getpwnam(name)
        servers = [p for p in psutil.process_iter(["cmdline", "uids"])
                   if p.info["cmdline"] and any("jupyterhub-singleuser" in a for a in p.info["cmdline"])
                   and p.info["uids"].real == user.pw_uid]
        assert len(servers) == 1, f"{name}: {len(servers)} servers running as {name}"
        mine = Path(user.pw_dir) / COURSE
        for folder, source in singleuser.COPIES.items():
            want = sorted(p.name for p in (PREFIX / source).glob("*.ipynb"))
            assert sorted(p.name for p in (mine / folder).glob("*.ipynb")) == want
            for nb in (mine / folder).glob("*.ipynb"):
                st = nb.stat()
                assert st.st_uid == user.pw_uid and st.st_mode & 0o077 == 0, (nb, oct(st.st_mode))
        assert (Path(user.pw_dir).stat().st_mode & 0o077) == 0, f"{name}'s home is open to others"
        r = hub.server(name, "GET", f"/contents/{COURSE}/notebooks/00_start_here.ipynb?content=0")
        assert r.status_code == 200, r.text
    default_url = hub.hub("GET", f"/users/{LEARNERS[0]}").json()["servers"][""]["url"]
    assert default_url == f"/user/{LEARNERS[0]}/"


def _execute(hub: Hub, name: str, code_cells: list[str]) -> list[dict]:
    """Run cells in a new kernel of ``name``'s server; return one {status, outputs, count} per cell."""
    import websocket
    path = f"{COURSE}/notebooks/{LESSON}.ipynb"
    r = hub.server(name, "POST", "/sessions", json={"path": path, "type": "notebook", "name": LESSON,
                                                    "kernel": {"name": "python3"}})
    assert r.status_code == 201, r.text
    kernel = r.json()["kernel"]["id"]
    ws_url = hub.url.replace("http://", "ws://") + f"/user/{name}/api/kernels/{kernel}/channels"
    ws = websocket.create_connection(ws_url, header=[f"Authorization: token {hub.user_tokens[name]}"],
                                     timeout=300)
    session = uuid.uuid4().hex
    results = []
    try:
        for code in code_cells:
            msg_id = uuid.uuid4().hex
            ws.send(json.dumps({
                "header": {"msg_id": msg_id, "username": name, "session": session,
                           "msg_type": "execute_request", "version": "5.3"},
                "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
                "content": {"code": code, "silent": False, "store_history": True,
                            "user_expressions": {}, "allow_stdin": False, "stop_on_error": True}}))
            outputs, reply, idle = [], None, False
            while reply is None or not idle:
                msg = json.loads(ws.recv())
                if msg.get("parent_header", {}).get("msg_id") != msg_id:
                    continue
                kind = msg["header"]["msg_type"]
                if kind == "execute_reply":
                    reply = msg["content"]
                elif kind == "status" and msg["content"]["execution_state"] == "idle":
                    idle = True
                elif kind == "stream":
                    outputs.append({"output_type": "stream", **msg["content"]})
                elif kind in ("display_data", "execute_result"):
                    out = {"output_type": kind, "data": msg["content"]["data"],
                           "metadata": msg["content"].get("metadata", {})}
                    if kind == "execute_result":
                        out["execution_count"] = msg["content"]["execution_count"]
                    outputs.append(out)
                elif kind == "error":
                    outputs.append({"output_type": "error", **msg["content"]})
            results.append({"status": reply["status"], "count": reply.get("execution_count"),
                            "outputs": outputs, "error": reply.get("evalue")})
    finally:
        ws.close()
    return results


def test_each_learner_executes_lesson_01_in_their_own_kernel(hub):
    timings = {}
    for name in LEARNERS:
        r = hub.server(name, "GET", f"/contents/{COURSE}/notebooks/{LESSON}.ipynb")
        assert r.status_code == 200, r.text
        model = r.json()
        nb = model["content"]
        cells = [c for c in nb["cells"] if c["cell_type"] == "code"]
        start = time.monotonic()
        results = _execute(hub, name, ["".join(c["source"]) if isinstance(c["source"], list) else c["source"]
                                       for c in cells])
        timings[name] = round(time.monotonic() - start, 1)
        failed = [(i, r["error"]) for i, r in enumerate(results) if r["status"] != "ok"]
        assert not failed, f"{name}: cells failed in lesson {LESSON}: {failed}"
        for cell, res in zip(cells, results):
            cell["outputs"], cell["execution_count"] = res["outputs"], res["count"]
        r = hub.server(name, "PUT", f"/contents/{COURSE}/notebooks/{LESSON}.ipynb",
                       json={"type": "notebook", "format": "json", "content": nb})
        assert r.status_code == 200, r.text
        saved = Path(pwd.getpwnam(name).pw_dir) / COURSE / "notebooks" / f"{LESSON}.ipynb"
        assert saved.stat().st_uid == pwd.getpwnam(name).pw_uid
        assert any(c.get("outputs") for c in json.loads(saved.read_text())["cells"])
    (ARTIFACTS / "lesson-seconds.json").write_text(json.dumps(timings, indent=1))
    print(f"\ntest_hub: lesson {LESSON} ran in each learner's kernel in {timings} s")
    # The learners' servers load the course's server extension (install.sh enables it), and their
    # kernel websockets, the ones that just ran the lesson, got TCP_NODELAY (mktme_lite_lab).
    log = hub.log.read_text(errors="replace")
    assert log.count("mktme_lite_lab: kernel websockets send each frame at once") >= len(LEARNERS), log[-4000:]
    assert "mktme_lite_lab: TCP_NODELAY set on a kernel websocket" in log, log[-4000:]


def test_a_learners_files_are_theirs_alone(hub):
    a, b = LEARNERS[0], LEARNERS[1]
    home_a = Path(pwd.getpwnam(a).pw_dir)
    r = hub.server(a, "PUT", f"/contents/{COURSE}/my-work/note-of-a.txt",
                   json={"type": "file", "format": "text", "content": "A's answer"})
    assert r.status_code in (200, 201), r.text
    note = home_a / COURSE / "my-work" / "note-of-a.txt"
    assert note.read_text() == "A's answer" and note.stat().st_uid == pwd.getpwnam(a).pw_uid
    assert note.stat().st_mode & 0o077 == 0

    probe = f"""
import os, pathlib
found = {{}}
for what, act in [
    ("read A's note", lambda: open({str(note)!r}).read()),
    ("list A's home", lambda: os.listdir({str(home_a)!r})),
    ("write A's note", lambda: open({str(note)!r}, "a").write("B was here")),
    ("write into A's my-work", lambda: open({str(home_a / COURSE / 'my-work' / 'from-b.txt')!r}, "w").write("x")),
    ("write the course", lambda: open({str(PREFIX / 'notebooks' / 'from-b.txt')!r}, "w").write("x")),
    ("change a lesson of the course", lambda: open({str(PREFIX / 'notebooks' / (LESSON + '.ipynb'))!r}, "a").write("x")),
    ("write the course's package", lambda: open({str(PREFIX / 'mktme_lite' / 'from_b.py')!r}, "w").write("x")),
]:
    try:
        act()
        found[what] = "ALLOWED"
    except PermissionError:
        found[what] = "refused"
print(found)
"""
    results = _execute(hub, b, [probe])
    assert results[0]["status"] == "ok", results[0]["error"]
    text = "".join(o.get("text", "") for o in results[0]["outputs"])
    found = eval(text.strip())                                   # noqa: S307 (our own dict's repr)
    assert found and set(found.values()) == {"refused"}, found
    # B's server cannot reach outside B's home, and B's token opens no other learner's server
    assert hub.server(b, "GET", f"/contents/../{a}/{COURSE}/my-work/note-of-a.txt").status_code in (400, 403, 404)
    assert hub.server(a, "GET", "/contents", token=hub.user_tokens[b]).status_code in (302, 403)
    # every learner has their own my-work copies: distinct files, each owned by its learner
    copies = {}
    for name in LEARNERS:
        user = pwd.getpwnam(name)
        nb = Path(user.pw_dir) / COURSE / "my-work" / f"{LESSON}.ipynb"
        st = nb.stat()
        assert st.st_uid == user.pw_uid
        copies[name] = (st.st_dev, st.st_ino)
    assert len(set(copies.values())) == len(LEARNERS)
    assert not (home_a / COURSE / "my-work" / "from-b.txt").exists()


def test_a_restart_keeps_the_work(hub):
    a = LEARNERS[0]
    path = f"{COURSE}/my-work/{LESSON}.ipynb"
    nb = hub.server(a, "GET", f"/contents/{path}").json()["content"]
    nb["cells"].append({"cell_type": "markdown", "metadata": {}, "id": "mine",
                        "source": "my answer, kept across restarts"})
    assert hub.server(a, "PUT", f"/contents/{path}", json={"type": "notebook", "content": nb}).status_code == 200
    hub.stop(a)
    hub.start(a)
    again = hub.server(a, "GET", f"/contents/{path}").json()["content"]
    assert any("kept across restarts" in "".join(c["source"]) for c in again["cells"])
    lesson = hub.server(a, "GET", f"/contents/{COURSE}/notebooks/{LESSON}.ipynb").json()["content"]
    assert any(c.get("outputs") for c in lesson["cells"]), "the restart overwrote the executed lesson"
    assert hub.server(a, "GET", f"/contents/{COURSE}/my-work/note-of-a.txt").status_code == 200


def test_the_idle_culler_runs_with_its_settings(hub):
    import psutil
    services = hub.hub("GET", "/services").json()
    culler = services.get("idle-culler")
    assert culler, f"no idle-culler service in {sorted(services)}"
    command = culler.get("command") or []
    assert "--timeout=3600" in command and "--cull-every=300" in command, command
    running = [p for p in psutil.Process(hub.proc.pid).children(recursive=True)
               if "jupyterhub_idle_culler" in " ".join(p.cmdline())]
    assert len(running) == 1, "the idle culler is not running under the hub"
    assert "--timeout=3600" in running[0].cmdline()
    # it has asked the hub for the users' activity, and was allowed to
    log = hub.log.read_text(errors="replace")
    _wait("the culler's first check", lambda: re.search(r"200 GET /hub/api/users.*idle-culler",
                                                         hub.log.read_text(errors="replace")), 60, hub.log)
    assert not re.search(r"40[13] GET /hub/api/users.*idle-culler", log), "the culler was refused"


def test_nothing_listens_beyond_loopback(hub):
    import psutil
    tree = [psutil.Process(hub.proc.pid), *psutil.Process(hub.proc.pid).children(recursive=True)]
    pids = {p.pid for p in tree}
    listening = [c for c in psutil.net_connections(kind="inet")
                 if c.status == psutil.CONN_LISTEN and c.pid in pids]
    assert listening, "found no listening socket of the hub's processes"
    outside = [(c.laddr, psutil.Process(c.pid).name()) for c in listening
               if c.laddr.ip not in ("127.0.0.1", "::1")]
    assert not outside, f"listening beyond loopback: {outside}"


def _memory_of(uid: int) -> dict:
    import psutil
    rss = pss = 0
    procs = []
    for p in psutil.process_iter(["uids", "name", "cmdline"]):
        if p.info["uids"] and p.info["uids"].real == uid:
            try:
                full = p.memory_full_info()
            except psutil.Error:
                continue
            rss += full.rss
            pss += getattr(full, "pss", full.rss)
            procs.append(" ".join(p.info["cmdline"] or [p.info["name"]])[:120])
    return {"rss_mib": round(rss / 2**20, 1), "pss_mib": round(pss / 2**20, 1), "processes": procs}


def test_memory_per_learner_is_measured_and_within_the_limit(hub):
    # every learner has a live kernel with lesson 01 run (A's was restarted: run it again)
    a = LEARNERS[0]
    if not hub.server(a, "GET", "/kernels").json():
        nb = hub.server(a, "GET", f"/contents/{COURSE}/notebooks/{LESSON}.ipynb").json()["content"]
        _execute(hub, a, ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"])
    report = {name: _memory_of(pwd.getpwnam(name).pw_uid) for name in LEARNERS}
    (ARTIFACTS / "memory.json").write_text(json.dumps(report, indent=1))
    summary = {n: (r["rss_mib"], r["pss_mib"], len(r["processes"])) for n, r in report.items()}
    print(f"\ntest_hub: memory per learner (RSS MiB, PSS MiB, processes) after lesson {LESSON}: {summary}")
    for name, r in report.items():
        assert len(r["processes"]) >= 2, f"{name}: expected a server and a kernel, found {r['processes']}"
        assert 0 < r["rss_mib"] < MEM_LIMIT_MIB, f"{name}: {r['rss_mib']} MiB RSS, the limit is {MEM_LIMIT_MIB}"
