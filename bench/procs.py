"""bench/procs.py: start, measure and stop the servers of one benchmark run.

Every server runs in a session of its own (start_new_session), so its processes (NSD's
children, nginx's worker) are found by session id; stop() ends them by pid: SIGTERM to the
leader, then SIGKILL to whatever of that session is left.
"""
import os
import signal
import subprocess
import time

CLK_TCK = os.sysconf("SC_CLK_TCK")


def session_pids(sid):
    return [pid for pid, st in _stat_all().items() if st[1] == sid]


def proc_cpu(pid):
    """utime + stime of pid (all its threads, live and exited), in seconds."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            st = f.read()
    except OSError:
        return 0.0
    fields = st[st.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def status_kib(pid, key):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def pss_kib(pid):
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _stat_all():
    """pid -> (ppid, session, starttime, own CPU s, reaped children's CPU s), every process."""
    out = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                st = f.read()
        except OSError:
            continue
        x = st[st.rindex(")") + 2:].split()
        out[int(d)] = (int(x[1]), int(x[3]), int(x[19]), (int(x[11]) + int(x[12])) / CLK_TCK,
                       (int(x[13]) + int(x[14])) / CLK_TCK)
    return out


class Background:
    """CPU used by processes this benchmark did not start (other people's builds and tests).

    Counts every process that is not ours, not a kernel thread, and not one of our servers:
    the change in its own CPU plus its reaped children's (so short-lived compilers and test
    programs count through their make or shell), and all of a process born in the window.
    """

    def __init__(self, procs):
        self.procs = procs
        self.me = os.getpid()

    def _theirs(self, snap):
        ours = {s.p.pid for s in self.procs.live}
        for s in self.procs.live:
            ours.update(e.p.pid for e in s.extra)
        return {pid: v for pid, v in snap.items()
                if pid != self.me and v[0] != self.me and pid != 2 and v[0] != 2
                and v[1] not in ours and pid not in ours}

    def start(self):
        self.t0 = time.monotonic()
        self.s0 = self._theirs(_stat_all())

    def stop(self):
        """Background CPU over the window, in percent of one core."""
        s1 = self._theirs(_stat_all())
        used = 0.0
        for pid, v in s1.items():
            old = self.s0.get(pid)
            if old is not None and old[2] == v[2]:
                used += (v[3] - old[3]) + (v[4] - old[4])
            else:
                used += v[3] + v[4]
        # a process reaped in the window brings its whole life into its parent's children
        # time: take back what it had used before the window began
        gone = {pid for pid, old in self.s0.items()
                if s1.get(pid) is None or s1[pid][2] != old[2]}
        for pid in gone:
            anc = self.s0[pid][0]
            for _ in range(64):		# up through other gone processes
                if anc not in gone:
                    break
                anc = self.s0[anc][0]
            if anc in s1:
                used -= self.s0[pid][3] + self.s0[pid][4]
        return max(0.0, 100.0 * used / max(1e-3, time.monotonic() - self.t0))


class Server:
    def __init__(self, name, popen, logpath):
        self.name = name
        self.p = popen
        self.log = logpath
        self.extra = []		# other Servers whose CPU counts as this one's (a log collector)

    @property
    def pid(self):
        return self.p.pid

    def pids(self):
        return session_pids(self.p.pid)

    def alive(self):
        return self.p.poll() is None

    def cpu(self):
        """CPU seconds of every process of this server so far (plus its extras)."""
        total = sum(proc_cpu(p) for p in self.pids())
        return total + sum(e.cpu() for e in self.extra)

    def hwm_kib(self):
        """Peak RSS of the largest process of the server (VmHWM)."""
        return max([status_kib(p, "VmHWM") for p in self.pids()] or [0])

    def pss_kib(self):
        return sum(pss_kib(p) for p in self.pids())

    def tail(self, n=15):
        try:
            with open(self.log, errors="replace") as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return ""


class Procs:
    """The servers of this run; stop_all() is called on every way out."""

    def __init__(self, workdir):
        self.work = workdir
        self.live = []

    def start(self, name, argv, cpu, env=None, stdin=subprocess.DEVNULL):
        logpath = os.path.join(self.work, f"{name}.out")
        logf = open(logpath, "ab")
        full = ["taskset", "-c", str(cpu)] + list(argv)
        p = subprocess.Popen(full, stdout=logf, stderr=subprocess.STDOUT, stdin=stdin,
                             start_new_session=True, cwd=self.work,
                             env=dict(os.environ, **(env or {})))
        logf.close()
        srv = Server(name, p, logpath)
        self.live.append(srv)
        return srv

    def stop(self, srv, timeout=5.0):
        if srv in self.live:
            self.live.remove(srv)
        for e in srv.extra:
            self.stop(e, timeout)
        sid = srv.p.pid
        if srv.p.poll() is None:
            try:
                srv.p.send_signal(signal.SIGTERM)
                srv.p.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
            except ProcessLookupError:
                pass
        # the leader is gone or stuck: end every process left in its session, by pid
        for _ in range(2):
            left = session_pids(sid)
            if not left:
                break
            for pid in left:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.1)
        try:
            srv.p.wait(1)
        except subprocess.TimeoutExpired:
            pass

    def stop_all(self):
        for srv in list(reversed(self.live)):
            self.stop(srv)
