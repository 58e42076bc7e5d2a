# The test's upstream servers (HTTPS, SMTP over implicit TLS): the static Go `peer` binary
# and the test certificate, made by run.sh at test time. Build context: run.sh's staging dir.
FROM debian:bookworm-slim
COPY peer /usr/local/bin/peer
COPY server.pem server.key /etc/peer/
RUN chmod 0644 /etc/peer/server.key
USER 65534:65534
ENTRYPOINT ["/usr/local/bin/peer"]
