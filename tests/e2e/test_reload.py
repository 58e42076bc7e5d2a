"""SIGHUP reloads the running daemons, which by then run as nobody: a name added to the
allowlist is answered and forwarded without a restart, and a route on a new privileged
port (25, routed to the mail server's 587) is bound after the reload (the forwarder keeps
CAP_NET_BIND_SERVICE for that) and carries a STARTTLS mail send."""

import signal

from gh_testlib import scaled_arg, wait_for
import helpers
import topology as T

CLIENT_ADDRS = (T.CLIENT4, T.CLIENT6)
ADDED = "allow late.example.test 443\nroute 25 smtp.mail.test:587\n"


def test_sighup_adds_a_name_and_a_port(topo):
    d = helpers.dig(topo, "late.example.test")
    topo.expect_query("late.example.test", "deny", CLIENT_ADDRS)
    assert d.status == "NXDOMAIN", d.raw
    with open(topo.config_path, "a") as f:
        f.write("# added by test_reload\n" + ADDED)
    topo.allow += ADDED
    for name in T.DAEMONS:
        topo.daemon(name).popen.send_signal(signal.SIGHUP)
    # (a failure report carries both daemons' stderr: conftest.py)
    wait_for(lambda: helpers.dig(topo, "late.example.test").status == "NOERROR",
               what="the resolver to answer the added name")
    topo.expect_query("late.example.test", "allow", CLIENT_ADDRS)
    wait_for(lambda: f"{T.GW_IN4}:25 " in topo.sh("ss", "-Hltn", ns=topo.gw_ns).stdout + " ",
               what="the forwarder to listen on the added port 25")

    r = topo.client(["curl", "-sS", "-4", "--max-time", scaled_arg(10), "--cacert", topo.ca_path,
                     "https://late.example.test/reloaded"])
    topo.expect_conn(443, "allow", "late.example.test", (T.CLIENT4,))
    assert r.returncode == 0, r.stderr
    assert r.stdout == "hello from late.example.test over https\n"

    subject = f"port25-{helpers.tag()}"
    path = topo.path(f"{subject}.eml")
    with open(path, "w") as f:
        f.write(f"From: a@client.test\r\nTo: b@mail.test\r\nSubject: {subject}\r\n\r\nhi\r\n")
    r = topo.client(["curl", "-sS", "-4", "--max-time", scaled_arg(10), "--ssl-reqd", "--cacert",
                     topo.ca_path, "smtp://smtp.mail.test:25", "--mail-from", "a@client.test",
                     "--mail-rcpt", "b@mail.test", "-T", path])
    topo.expect_query("smtp.mail.test", "allow", CLIENT_ADDRS)
    topo.expect_conn(25, "allow", "smtp.mail.test", (T.CLIENT4,))
    assert r.returncode == 0, r.stderr
    got = [m for m in topo.mails() if f"Subject: {subject}" in m["data"]]
    assert len(got) == 1 and got[0]["port"] == 587 and got[0]["tls"], topo.mails()[-2:]
