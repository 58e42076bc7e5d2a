# gatehouse image: gatehouse-resolver and gatehouse-forwarder in one gateway container.
#
#   docker build -t gatehouse .
#
# Configure with GATEHOUSE_* variables (GATEHOUSE_ALLOW, GATEHOUSE_ROUTE, GATEHOUSE_DNS_LISTEN,
# GATEHOUSE_FORWARD_LISTEN, ...) and/or a file mounted at /etc/gatehouse/gatehouse.conf.
# Runs as the non-root user `gatehouse` (uid 10001); works with `read_only: true` and
# `security_opt: [no-new-privileges:true]`. Each daemon installs its own seccomp filter once
# started, inside Docker's default profile (which allows that: docs/security.md, "The sandbox").
# See docker-compose.yml for a complete example. The name-addressed variant
# (docker-compose.pool.yml, `answer pool`) starts as root with CAP_NET_ADMIN: the entrypoint
# routes the pool to the container with iproute2's `ip`, then runs the daemons as gatehouse
# with no capabilities through util-linux's `setpriv` (docs/docker.md, "The pool variant").

# ---- build stage: compiler, -dev packages, `make`
FROM debian:bookworm-slim AS build
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        build-essential pkg-config libevent-dev libc-ares-dev libldns-dev libseccomp-dev \
        libjansson-dev libpsl-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Makefile VERSION ./
COPY common/ common/
COPY resolver/ resolver/
COPY forwarder/ forwarder/
COPY tools/ tools/
# Debian's hardening flags on top of the Makefile's own warnings (CI builds with -Werror;
# a user's image build does not fail on a new warning).
RUN make -j"$(nproc)" \
        CFLAGS="-O2 -g -fstack-protector-strong -fstack-clash-protection -D_FORTIFY_SOURCE=2" \
        LDFLAGS="-Wl,-z,relro,-z,now" \
 && install -d /out \
 && install -s -m 0755 build/gatehouse-resolver build/gatehouse-forwarder build/gatehouse-audit /out/

# ---- runtime stage: the runtime libraries, the two daemons and gatehouse-audit (which reads
# audit lines: `docker compose exec gatehouse gatehouse-audit summary FILE`, or pipe
# `docker compose logs` into it); jansson and libpsl with Debian's suffix list are its own.
# iproute2 and setpriv (util-linux, in every Debian image) for the pool variant's start;
# /var/lib/gatehouse holds `answer pool`'s mapping (pool-state): mount a volume there so the
# mapping outlives the container (a new named volume takes the directory's owner and mode).
FROM debian:bookworm-slim
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        libevent-2.1-7 libc-ares2 libldns3 libseccomp2 libjansson4 libpsl5 publicsuffix \
        iproute2 \
 && apt-get clean \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 gatehouse \
 && useradd --system --uid 10001 --gid gatehouse --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin gatehouse \
 && install -d -m 0755 /etc/gatehouse \
 && install -d -o gatehouse -g gatehouse -m 0700 /var/lib/gatehouse \
 && command -v setpriv >/dev/null
COPY --from=build /out/gatehouse-resolver /out/gatehouse-forwarder /out/gatehouse-audit /usr/local/bin/
COPY docker/entrypoint.sh /usr/local/bin/gatehouse-entrypoint
COPY docker/healthcheck.sh /usr/local/bin/gatehouse-healthcheck
RUN chmod 0755 /usr/local/bin/gatehouse-entrypoint /usr/local/bin/gatehouse-healthcheck \
 && gatehouse-resolver --version && gatehouse-forwarder --version && gatehouse-audit --version

# Audit lines (JSON) on stdout, diagnostics on stderr: `docker logs` shows both.
# The resolver serves /metrics and /healthz on GATEHOUSE_METRICS, the forwarder one port
# above (9101); the HEALTHCHECK asks both. Loopback only: publish nothing by default.
ENV GATEHOUSE_AUDIT=stdout \
    GATEHOUSE_METRICS=127.0.0.1:9100

# Non-root from the start, so the daemons never start as root and never drop privileges.
# (The pool variant overrides this with `user: "0"` for its start; see the entrypoint.)
# Ports below 1024 (53, 443, 465, ...) bind because Docker sets
# net.ipv4.ip_unprivileged_port_start=0 in the container's network namespace; where an
# engine does not, set that sysctl in compose (see docker-compose.yml).
USER gatehouse:gatehouse

HEALTHCHECK --interval=10s --timeout=5s --start-period=5s --retries=3 \
    CMD ["/usr/local/bin/gatehouse-healthcheck"]

ENTRYPOINT ["/usr/local/bin/gatehouse-entrypoint"]
