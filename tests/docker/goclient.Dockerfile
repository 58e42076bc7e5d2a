# The seed's failure case: a statically linked Go program (like Grafana sending alert mail)
# that resolves with Go's own DNS client. Nothing in the image but the binary and the test
# CA: no libc, no nsswitch.conf; Docker supplies /etc/resolv.conf and /etc/hosts.
FROM scratch
COPY peer /peer
COPY ca.pem /ca.pem
# Grafana's uid: the client runs as a non-root user too.
USER 472:472
ENTRYPOINT ["/peer"]
CMD ["idle"]
