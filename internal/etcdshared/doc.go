// Package etcdshared holds the tests of the etcd backend as many engine
// processes share it (issue 14, point 6): several worker processes
// traversing one tree through different members (conformance's
// RunSharedTraversal), one and then two of three members stopped
// mid-traversal and restarted, writer processes killed with SIGKILL in a
// loop (RunCrash), and the recorded histories of those runs checked for
// linearizability (conformance/linearize). Each test starts what it needs
// on an embedded cluster (internal/etcdtest); the children the tests start
// connect to the parent's cluster with the configuration they are handed
// and start none themselves.
//
// The package has no code but its tests.
package etcdshared
