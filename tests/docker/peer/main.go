// peer: the Docker end-to-end test's own programs, one static binary (CGO_ENABLED=0, so
// the pure Go resolver): the upstream servers on the "internet" side and the Go client on
// the constrained side, the kind of program (Grafana sending alert mail) the seed was about.
//
//	peer https-serve ADDR CERT KEY NAME   HTTPS server answering "hello from NAME"
//	peer smtps-serve ADDR CERT KEY NAME   SMTP server with implicit TLS; prints every message
//	peer smtp-serve ADDR CERT KEY NAME    SMTP server in plain text offering STARTTLS (587)
//	peer banner-serve ADDR NAME           plain TCP, the server speaks first (like SSH): sends
//	                                      "SSH-2.0-NAME", reads one line, answers "hello NAME"
//	peer idle                             sleep until stopped (keeps a scratch container up)
//	peer lookup NAME                      pure Go lookup: addresses, or NXDOMAIN (exit 3)
//	peer get URL CAFILE                   HTTPS GET verified against CAFILE
//	peer smtps HOST:PORT CAFILE SUBJECT   send one message over implicit TLS, verified
//	peer dial HOST:PORT                   plain TCP connect, 3 s timeout (exit 0 if it connects)
package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/smtp"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

func die(code int, format string, a ...interface{}) {
	fmt.Fprintf(os.Stderr, format+"\n", a...)
	os.Exit(code)
}

func main() {
	if len(os.Args) < 2 {
		die(2, "usage: peer https-serve|smtps-serve|smtp-serve|banner-serve|idle|lookup|get|smtps|dial ...")
	}
	args := os.Args[2:]
	need := func(n int) {
		if len(args) != n {
			die(2, "peer %s: expected %d arguments", os.Args[1], n)
		}
	}
	switch os.Args[1] {
	case "https-serve":
		need(4)
		httpsServe(args[0], args[1], args[2], args[3])
	case "smtps-serve":
		need(4)
		smtpsServe(args[0], args[1], args[2], args[3])
	case "smtp-serve":
		need(4)
		smtpServe(args[0], args[1], args[2], args[3])
	case "banner-serve":
		need(2)
		bannerServe(args[0], args[1])
	case "idle":
		c := make(chan os.Signal, 1)
		signal.Notify(c, syscall.SIGTERM, syscall.SIGINT)
		<-c
	case "lookup":
		need(1)
		lookup(args[0])
	case "get":
		need(2)
		get(args[0], args[1])
	case "smtps":
		need(3)
		sendMail(args[0], args[1], args[2])
	case "dial":
		need(1)
		dial(args[0])
	default:
		die(2, "peer: unknown command %q", os.Args[1])
	}
}

func serverTLS(cert, key string) *tls.Config {
	kp, err := tls.LoadX509KeyPair(cert, key)
	if err != nil {
		die(1, "load %s/%s: %v", cert, key, err)
	}
	return &tls.Config{Certificates: []tls.Certificate{kp}}
}

func clientTLS(caFile, serverName string) *tls.Config {
	pem, err := os.ReadFile(caFile)
	if err != nil {
		die(1, "read %s: %v", caFile, err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		die(1, "%s: no certificate", caFile)
	}
	return &tls.Config{RootCAs: pool, ServerName: serverName}
}

// ---- servers

func httpsServe(addr, cert, key, name string) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Printf("https %s: %s %s host=%s sni=%s from=%s\n", name, r.Method, r.URL.Path,
			r.Host, r.TLS.ServerName, r.RemoteAddr)
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprintf(w, "hello from %s\n", name)
	})
	srv := &http.Server{Addr: addr, Handler: h, TLSConfig: serverTLS(cert, key),
		ReadHeaderTimeout: 10 * time.Second}
	fmt.Printf("https %s: listening on %s\n", name, addr)
	die(1, "https %s: %v", name, srv.ListenAndServeTLS("", ""))
}

// serve: print that what listens on addr, then hand every connection ln accepts to handle,
// each in its own goroutine; ln is the result of the listen call, err its error.
func serve(what, addr string, ln net.Listener, err error, handle func(net.Conn)) {
	if err != nil {
		die(1, "%s: %v", what, err)
	}
	fmt.Printf("%s: listening on %s\n", what, addr)
	for {
		c, err := ln.Accept()
		if err != nil {
			die(1, "%s: accept: %v", what, err)
		}
		go handle(c)
	}
}

func smtpsServe(addr, cert, key, name string) {
	ln, err := tls.Listen("tcp", addr, serverTLS(cert, key))
	serve("smtps "+name, addr, ln, err, func(c net.Conn) { smtpSession(c, name, nil) })
}

// smtpServe: SMTP on a plain socket that offers STARTTLS, the way port 587 works: nothing in
// the client's first bytes names the server.
func smtpServe(addr, cert, key, name string) {
	cfg := serverTLS(cert, key)
	ln, err := net.Listen("tcp", addr)
	serve("smtp "+name, addr, ln, err, func(c net.Conn) { smtpSession(c, name, cfg) })
}

// bannerServe: a server-speaks-first protocol with no TLS and no name in its bytes.
func bannerServe(addr, name string) {
	ln, err := net.Listen("tcp", addr)
	serve("banner "+name, addr, ln, err, func(c net.Conn) {
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(30 * time.Second))
		fmt.Fprintf(c, "SSH-2.0-%s\r\n", name)
		line, err := bufio.NewReader(c).ReadString('\n')
		if err != nil {
			fmt.Printf("banner %s: from=%s closed before a line: %v\n", name, c.RemoteAddr(), err)
			return
		}
		fmt.Printf("banner %s: from=%s client said %q\n", name, c.RemoteAddr(),
			strings.TrimRight(line, "\r\n"))
		fmt.Fprintf(c, "hello %s\r\n", name)
	})
}

// One SMTP session: enough of RFC 5321 for curl and net/smtp; every message is printed.
// With starttls, the session starts in plain text and offers STARTTLS (RFC 3207).
func smtpSession(c net.Conn, name string, starttls *tls.Config) {
	defer func() { c.Close() }()
	_ = c.SetDeadline(time.Now().Add(60 * time.Second))
	r := bufio.NewReader(c)
	say := func(s string) { fmt.Fprintf(c, "%s\r\n", s) }
	from, rcpt := "", []string{}
	say("220 " + name + " ESMTP gatehouse-test")
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		line = strings.TrimRight(line, "\r\n")
		verb := strings.ToUpper(strings.SplitN(line, " ", 2)[0])
		switch verb {
		case "EHLO":
			say("250-" + name)
			if _, isTLS := c.(*tls.Conn); starttls != nil && !isTLS {
				say("250-STARTTLS")
			}
			say("250-8BITMIME")
			say("250 SIZE 1048576")
		case "HELO":
			say("250 " + name)
		case "MAIL":
			from, rcpt = strings.TrimSpace(line[4:]), nil
			say("250 2.1.0 ok")
		case "RCPT":
			rcpt = append(rcpt, strings.TrimSpace(line[4:]))
			say("250 2.1.5 ok")
		case "DATA":
			say("354 end with <CRLF>.<CRLF>")
			var subject string
			n := 0
			for {
				l, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if strings.TrimRight(l, "\r\n") == "." {
					break
				}
				n += len(l)
				if subject == "" && strings.HasPrefix(strings.ToLower(l), "subject:") {
					subject = strings.TrimSpace(l[8:])
				}
			}
			sni := "none (no TLS)"
			if tc, ok := c.(*tls.Conn); ok {
				sni = tc.ConnectionState().ServerName
			}
			proto := "smtps"
			if starttls != nil {
				proto = "smtp"
			}
			fmt.Printf("%s %s: message %s to %s subject=%q bytes=%d from=%s tls-sni=%s\n",
				proto, name, from, strings.Join(rcpt, ","), subject, n, c.RemoteAddr(), sni)
			say("250 2.0.0 queued")
		case "STARTTLS":
			if _, isTLS := c.(*tls.Conn); starttls == nil || isTLS {
				say("502 5.5.2 not implemented")
				continue
			}
			say("220 2.0.0 ready to start TLS")
			tc := tls.Server(c, starttls)
			if err := tc.Handshake(); err != nil {
				fmt.Printf("smtp %s: from=%s STARTTLS handshake: %v\n", name, c.RemoteAddr(), err)
				return
			}
			c, r = tc, bufio.NewReader(tc)
			from, rcpt = "", nil
		case "RSET", "NOOP":
			say("250 2.0.0 ok")
		case "HELP":
			say("214 2.0.0 gatehouse test server")
		case "QUIT":
			say("221 2.0.0 bye")
			return
		default:
			say("502 5.5.2 not implemented")
		}
	}
}

// ---- client

func lookup(name string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	addrs, err := net.DefaultResolver.LookupHost(ctx, name)
	var de *net.DNSError
	if errors.As(err, &de) && de.IsNotFound {
		fmt.Printf("%s: NXDOMAIN (%v)\n", name, err)
		os.Exit(3)
	}
	if err != nil {
		die(1, "%s: %v", name, err)
	}
	fmt.Printf("%s: %s\n", name, strings.Join(addrs, " "))
}

func get(url, caFile string) {
	tr := &http.Transport{TLSClientConfig: clientTLS(caFile, "")}
	cl := &http.Client{Transport: tr, Timeout: 15 * time.Second}
	resp, err := cl.Get(url)
	if err != nil {
		die(1, "GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	fmt.Printf("GET %s: %s: %s", url, resp.Status, body)
	if resp.StatusCode != 200 {
		os.Exit(1)
	}
}

func sendMail(hostport, caFile, subject string) {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		die(2, "%s: %v", hostport, err)
	}
	d := &net.Dialer{Timeout: 10 * time.Second}
	conn, err := tls.DialWithDialer(d, "tcp", hostport, clientTLS(caFile, host))
	if err != nil {
		die(1, "smtps %s: %v", hostport, err)
	}
	_ = conn.SetDeadline(time.Now().Add(20 * time.Second))
	c, err := smtp.NewClient(conn, host)
	if err != nil {
		die(1, "smtps %s: %v", hostport, err)
	}
	steps := []func() error{
		func() error { return c.Hello("goclient.test") },
		func() error { return c.Mail("alerts@grafana.test") },
		func() error { return c.Rcpt("oncall@example.test") },
		func() error {
			w, err := c.Data()
			if err != nil {
				return err
			}
			fmt.Fprintf(w, "From: alerts@grafana.test\r\nTo: oncall@example.test\r\n"+
				"Subject: %s\r\n\r\nsent by the pure Go client through gatehouse\r\n", subject)
			return w.Close()
		},
		c.Quit,
	}
	for _, f := range steps {
		if err := f(); err != nil {
			die(1, "smtps %s: %v", hostport, err)
		}
	}
	fmt.Printf("smtps %s: sent %q (certificate verified for %s)\n", hostport, subject, host)
}

func dial(hostport string) {
	c, err := net.DialTimeout("tcp", hostport, 3*time.Second)
	if err != nil {
		fmt.Printf("dial %s: %v\n", hostport, err)
		os.Exit(1)
	}
	c.Close()
	fmt.Printf("dial %s: connected\n", hostport)
}
