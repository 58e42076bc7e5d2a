// lookup_go resolves names with Go's pure resolver (built with CGO_ENABLED=0), so the e2e
// tests see what a statically linked Go program in a container sees. One line per name:
//
//	NAME ok MS ADDR...
//	NAME fail MS notfound|timeout|error text
//
// MS is the time the lookup took in milliseconds. Exit 0 when every name resolved, else 2.
// Usage: lookup_go [-4|-6] NAME...
package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"time"
)

func main() {
	network := "ip"
	args := os.Args[1:]
	if len(args) > 0 && (args[0] == "-4" || args[0] == "-6") {
		network = "ip" + args[0][1:]
		args = args[1:]
	}
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "usage: lookup_go [-4|-6] NAME...")
		os.Exit(64)
	}
	r := &net.Resolver{PreferGo: true}
	failed := false
	for _, name := range args {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		t0 := time.Now()
		ips, err := r.LookupIP(ctx, network, name)
		ms := time.Since(t0).Milliseconds()
		cancel()
		if err != nil {
			failed = true
			kind := "error"
			var de *net.DNSError
			if errors.As(err, &de) {
				if de.IsNotFound {
					kind = "notfound"
				} else if de.IsTimeout {
					kind = "timeout"
				}
			}
			fmt.Printf("%s fail %d %s %s\n", name, ms, kind, strings.ReplaceAll(err.Error(), "\n", " "))
			continue
		}
		out := make([]string, 0, len(ips))
		for _, ip := range ips {
			out = append(out, ip.String())
		}
		fmt.Printf("%s ok %d %s\n", name, ms, strings.Join(out, " "))
	}
	if failed {
		os.Exit(2)
	}
}
