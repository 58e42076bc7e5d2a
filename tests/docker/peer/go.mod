module gatehouse/tests/docker/peer

go 1.19
