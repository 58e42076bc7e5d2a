"""The seed scenario: a constrained client sends mail through gatehouse with certificate
verification on, over SMTPS (465, the SNI names the server) and over STARTTLS (587, a
routed port: the client's first bytes carry no name), and the message arrives."""

from gh_testlib import scaled_arg
import helpers
import topology as T

CLIENT_ADDRS = (T.CLIENT4, T.CLIENT6)


def _send(topo, url, subject, rcpt):
    msg = (f"From: grafana@client.test\r\nTo: {rcpt}\r\nSubject: {subject}\r\n\r\n"
           f"alert fired ({subject})\r\n")
    path = topo.path(f"mail-{subject}.eml")
    with open(path, "w") as f:
        f.write(msg)
    r = topo.client(["curl", "-sS", "--max-time", scaled_arg(15),
                     "--ssl-reqd", "--cacert", topo.ca_path,
                     url, "--mail-from", "grafana@client.test", "--mail-rcpt", rcpt,
                     "-T", path])
    topo.expect_query("smtp.mail.test", "allow", CLIENT_ADDRS)
    return r


def _delivered(topo, subject):
    return [m for m in topo.mails() if f"Subject: {subject}" in m["data"]]


def test_smtps_465_delivers_with_verified_certificate(topo):
    subject = f"smtps-{helpers.tag()}"
    mark = topo.mark()
    r = _send(topo, "smtps://smtp.mail.test:465", subject, "ops@mail.test")
    assert r.returncode == 0, r.stderr
    topo.expect_conn(465, "allow", "smtp.mail.test", CLIENT_ADDRS)
    got = _delivered(topo, subject)
    assert len(got) == 1, topo.mails()
    m = got[0]
    assert m["port"] == 465 and m["tls"] is True
    assert m["rcpt_tos"] == ["ops@mail.test"]
    # The server saw the gateway's outside address, never the client's.
    assert m["peer"].startswith(T.GW_OUT4 + ":")
    e = topo.wait_audit("gatehouse-forwarder", lambda e: e.get("port") == 465 and
                        e.get("verdict") == "allow", since=mark)[-1]
    assert e["name"] == "smtp.mail.test" and e["upstream"] == f"{T.SMTP_ADDR}:465"
    assert e["bytes_up"] > 0 and e["bytes_down"] > 0


def test_starttls_587_routed_delivers(topo):
    subject = f"starttls-{helpers.tag()}"
    mark = topo.mark()
    r = _send(topo, "smtp://smtp.mail.test:587", subject, "alerts@mail.test")
    assert r.returncode == 0, r.stderr
    topo.expect_conn(587, "allow", "smtp.mail.test", CLIENT_ADDRS)
    got = _delivered(topo, subject)
    assert len(got) == 1, topo.mails()
    assert got[0]["port"] == 587 and got[0]["tls"] is True
    assert got[0]["peer"].startswith(T.GW_OUT4 + ":")
    e = topo.wait_audit("gatehouse-forwarder", lambda e: e.get("port") == 587 and
                        e.get("verdict") == "allow", since=mark)[-1]
    assert e["via"] == "route" and e["name"] == "smtp.mail.test"
    assert e["upstream"] == f"{T.SMTP_ADDR}:587"


def test_smtps_without_the_ca_fails_verification(topo):
    """TLS is end to end: the client checks the real server's certificate (issued by the
    test CA), so without that CA curl refuses it. gatehouse never terminates TLS."""
    r = topo.client(["curl", "-sS", "--max-time", scaled_arg(10), "--ssl-reqd",
                     "smtps://smtp.mail.test:465", "--mail-from", "a@client.test",
                     "--mail-rcpt", "b@mail.test", "-T", "/dev/null"])
    topo.expect_query("smtp.mail.test", "allow", CLIENT_ADDRS)
    topo.expect_conn(465, "allow", "smtp.mail.test", CLIENT_ADDRS)
    assert r.returncode == 60, (r.returncode, r.stderr)   # peer certificate not verified
