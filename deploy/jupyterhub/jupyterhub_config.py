"""JupyterHub for a class of "MKTME, hands-on" on one host (deploy/jupyterhub/README.md).

Run as root from the installed course (deploy/jupyterhub/install.sh puts it in /opt/mktme-course):

    cd /var/lib/mktme-hub && /opt/mktme-course/venv/bin/jupyterhub -f /opt/mktme-course/deploy/jupyterhub/jupyterhub_config.py

- Learners are system users in the group ``mktme-learners`` (tools/add_learners.sh makes them),
  logging in with their system password (PAM). Each one's server runs as that user
  (LocalProcessSpawner: the hub is root and starts ``jupyterhub-singleuser`` under the learner's
  uid), in JupyterLab on ``~/mktme-hands-on/notebooks/00_start_here.ipynb``. ``singleuser.py``
  gives each learner, in their own home, a copy of every lesson and every exercise (``my-work/``)
  they do not have yet; the course itself (package, solutions, quizzes) stays read-only in PREFIX.
- configurable-http-proxy comes from npm (deploy/jupyterhub/node_modules), the idle culler
  (jupyterhub-idle-culler) runs as a hub service: a server idle for an hour is stopped (its files
  stay), checked every five minutes.

Settings, all from the environment (defaults in brackets):

    MKTME_HUB_IP [127.0.0.1]  MKTME_HUB_PORT [8000]   where learners connect (see README: TLS)
    MKTME_HUB_API_PORT [8081] MKTME_HUB_PROXY_API_PORT [8001]   internal, always on 127.0.0.1
    MKTME_HUB_STATE [/var/lib/mktme-hub]   the hub's database, cookie secret and proxy pid
    MKTME_HUB_GROUP [mktme-learners]       who may log in;  MKTME_HUB_ADMINS: "alice,bob"
    MKTME_HUB_CULL_IDLE [3600]  MKTME_HUB_CULL_EVERY [300]   idle culler, seconds
    MKTME_HUB_MEM_LIMIT [768M]  MKTME_HUB_CPU_LIMIT [1]   shown to servers; LocalProcessSpawner does
                                not enforce them (README: "Resource limits")
    MKTME_HUB_SSL_CERT, MKTME_HUB_SSL_KEY  serve HTTPS directly (or put a TLS proxy in front)
    MKTME_HUB_AUTH [pam]   "pam", or "test": any member of the group logs in with the one shared
                           password MKTME_HUB_TEST_PASSWORD, only on 127.0.0.1 (trying the hub
                           without setting system passwords)
    MKTME_HUB_API_TOKEN    if set: a service "mktme-ops" holding this token may manage users and
                           servers through the REST API (tests/delivery/test_hub.py uses it)
"""
import grp
import ipaddress
import os
import sys
from pathlib import Path

c = get_config()  # noqa: F821  (JupyterHub's config loader defines it)

HERE = Path(__file__).resolve().parent
PREFIX = HERE.parent.parent                  # the installed course: /opt/mktme-course
VENV_BIN = Path(sys.executable).parent       # the course's venv (the hub runs from it)


def _setting(name, default):
    return os.environ.get(f"MKTME_HUB_{name}", default)


def _int(name, default, low=1, high=None):
    text = _setting(name, str(default))
    try:
        value = int(text)
    except ValueError:
        value = None
    if value is None or value < low or (high is not None and value > high):
        allowed = f"an integer from {low}" + (f" to {high}" if high else "")
        raise SystemExit(f"jupyterhub_config: MKTME_HUB_{name}={text!r} is not allowed; give {allowed}")
    return value


IP = _setting("IP", "127.0.0.1")
try:
    ipaddress.ip_address(IP)
except ValueError:
    raise SystemExit(f"jupyterhub_config: MKTME_HUB_IP={IP!r} is not an IP address "
                     "(127.0.0.1 for this host only, 0.0.0.0 for every interface)") from None
PORT = _int("PORT", 8000, high=65535)
API_PORT = _int("API_PORT", 8081, high=65535)
PROXY_API_PORT = _int("PROXY_API_PORT", 8001, high=65535)
STATE = Path(_setting("STATE", "/var/lib/mktme-hub"))
GROUP = _setting("GROUP", "mktme-learners")
AUTH = _setting("AUTH", "pam")
CULL_IDLE = _int("CULL_IDLE", 3600)
CULL_EVERY = _int("CULL_EVERY", 300)
CHP = HERE / "node_modules" / ".bin" / "configurable-http-proxy"

if not CHP.exists():
    raise SystemExit(f"jupyterhub_config: no configurable-http-proxy at {CHP}; run "
                     "`npm ci --prefix deploy/jupyterhub` (deploy/jupyterhub/install.sh does)")
try:
    grp.getgrnam(GROUP)
except KeyError:
    raise SystemExit(f"jupyterhub_config: there is no group {GROUP!r}; create it "
                     f"(deploy/jupyterhub/tools/add_learners.sh does) or set MKTME_HUB_GROUP") from None
STATE.mkdir(mode=0o700, parents=True, exist_ok=True)

# --------------------------------------------------------------------------- network and state
c.JupyterHub.bind_url = f"http://{IP}:{PORT}"
c.JupyterHub.hub_bind_url = f"http://127.0.0.1:{API_PORT}"
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{PROXY_API_PORT}"
c.ConfigurableHTTPProxy.command = [str(CHP)]
c.ConfigurableHTTPProxy.pid_file = str(STATE / "jupyterhub-proxy.pid")
c.JupyterHub.db_url = f"sqlite:///{STATE / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(STATE / "jupyterhub_cookie_secret")
if _setting("SSL_CERT", ""):
    c.JupyterHub.ssl_cert = _setting("SSL_CERT", "")
    c.JupyterHub.ssl_key = _setting("SSL_KEY", "")
    c.JupyterHub.bind_url = f"https://{IP}:{PORT}"
c.JupyterHub.shutdown_on_logout = False

# --------------------------------------------------------------------------- who may log in
admins = {name.strip() for name in _setting("ADMINS", "").split(",") if name.strip()}
if AUTH == "pam":
    c.JupyterHub.authenticator_class = "pam"
    c.PAMAuthenticator.allowed_groups = {GROUP}
    c.PAMAuthenticator.admin_users = admins
    # No PAM session per login: pam_systemd/pam_loginuid fail in containers and the hub is not a shell.
    c.PAMAuthenticator.open_sessions = False
elif AUTH == "test":
    password = _setting("TEST_PASSWORD", "")
    if len(password) < 8:
        raise SystemExit("jupyterhub_config: MKTME_HUB_AUTH=test needs MKTME_HUB_TEST_PASSWORD "
                         "(at least 8 characters), the one password every member of the group uses")
    if not ipaddress.ip_address(IP).is_loopback:
        raise SystemExit(f"jupyterhub_config: MKTME_HUB_AUTH=test serves 127.0.0.1 only, not {IP}; "
                         "use PAM (MKTME_HUB_AUTH=pam, the default) for a class")
    c.JupyterHub.authenticator_class = "dummy"
    c.DummyAuthenticator.password = password
    c.Authenticator.allowed_users = set(grp.getgrnam(GROUP).gr_mem)
    c.Authenticator.admin_users = admins
else:
    raise SystemExit(f"jupyterhub_config: MKTME_HUB_AUTH={AUTH!r} is not allowed; give pam (system "
                     "users of the group, the default) or test (one shared password, loopback only)")

# --------------------------------------------------------------------------- the learners' servers
# LocalProcessSpawner: every server runs under its learner's own uid, so files are separated by
# the kernel's permissions, not by JupyterLab. (SimpleLocalProcessSpawner would run them all as root.)
c.JupyterHub.spawner_class = "localprocess"
c.Spawner.cmd = [str(VENV_BIN / "python"), str(HERE / "singleuser.py")]
c.Spawner.notebook_dir = "~"
c.Spawner.default_url = "/lab/tree/mktme-hands-on/notebooks/00_start_here.ipynb"
c.Spawner.args = [
    # nothing a learner's lab does may call out to the internet
    "--LabApp.news_url=None",
    "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
]
c.Spawner.environment = {
    "PATH": f"{VENV_BIN}:/usr/local/bin:/usr/bin:/bin",
    "MKTME_COURSE": str(PREFIX),
    # one BLAS thread per learner: a class shares the host's cores
    "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
}
c.Spawner.mem_limit = _setting("MEM_LIMIT", "768M")
c.Spawner.cpu_limit = float(_setting("CPU_LIMIT", "1"))
c.Spawner.start_timeout = 180     # a class logging in at once on a small host
c.Spawner.http_timeout = 120

# --------------------------------------------------------------------------- services
c.JupyterHub.services = [{
    "name": "idle-culler",
    "command": [str(VENV_BIN / "python"), "-m", "jupyterhub_idle_culler",
                f"--timeout={CULL_IDLE}", f"--cull-every={CULL_EVERY}"],
}]
c.JupyterHub.load_roles = [{
    "name": "idle-culler",
    "scopes": ["list:users", "read:users:activity", "read:servers", "delete:servers"],
    "services": ["idle-culler"],
}]
token = _setting("API_TOKEN", "")
if token:
    if len(token) < 32:
        raise SystemExit("jupyterhub_config: MKTME_HUB_API_TOKEN must be at least 32 characters "
                         "(e.g. `openssl rand -hex 32`)")
    c.JupyterHub.services.append({"name": "mktme-ops", "api_token": token})
    c.JupyterHub.load_roles.append({
        "name": "mktme-ops",
        "scopes": ["admin:users", "admin:servers", "tokens", "access:servers",
                   "list:services", "read:services"],
        "services": ["mktme-ops"],
    })
