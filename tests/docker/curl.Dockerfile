# A glibc client: curl, getent and dig from Debian, and the test CA. Runs as root by default;
# the compose file runs a second copy as nobody (uid 65534).
FROM debian:bookworm-slim
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends curl bind9-dnsutils \
 && rm -rf /var/lib/apt/lists/*
COPY ca.pem /etc/gatehouse-test/ca.pem
RUN chmod 0644 /etc/gatehouse-test/ca.pem
CMD ["sleep", "infinity"]
