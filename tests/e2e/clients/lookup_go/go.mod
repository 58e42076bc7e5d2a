module gatehouse.test/lookup_go

go 1.19
