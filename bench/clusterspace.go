package bench

import (
	"sync"
	"time"

	"github.com/polykv/polykv/kv"
)

// A run on a cluster backend reports the cluster's space, as the member
// its first store talks to sees it (the etcd backend's Stats):
//
//   - db_max_MiB: the largest size of the member's database file seen
//     (sampled every clusterSpaceEvery and once at the end): what the
//     space quota is checked against;
//   - db_in_use_MiB: the part of the file in use at the end (the rest is
//     free pages, freed by compaction, that etcd reuses);
//   - quota_MiB: the embedded cluster's --quota-backend-bytes (not
//     reported for an external cluster, whose quota is not known).
//
// With these a long run shows whether it stays inside the quota, and how
// much room is left, before it hits "database space exceeded".

const clusterSpaceEvery = 2 * time.Second

type clusterSpace struct {
	stats func() (kv.Stats, error)
	stop  chan struct{}
	done  chan struct{}

	mu           sync.Mutex
	maxDB, inUse int64
}

// watchClusterSpace starts sampling db's cluster; the figures are
// reported when the run's stores close.
func (e *Env) watchClusterSpace(db *kv.DB) {
	w := &clusterSpace{stats: db.Stats, stop: make(chan struct{}), done: make(chan struct{})}
	go w.run()
	// Registered after the store's own closer: it runs first (newest
	// first), while the store is still open.
	e.OnClose(func() error {
		close(w.stop)
		<-w.done
		w.sample()
		w.mu.Lock()
		defer w.mu.Unlock()
		if w.maxDB > 0 {
			e.Extra("db_max_MiB", float64(w.maxDB>>20))
			e.Extra("db_in_use_MiB", float64(w.inUse>>20))
		}
		if e.cluster != nil {
			e.Extra("quota_MiB", float64(e.cluster.Settings().QuotaBackendBytes>>20))
		}
		return nil
	})
}

func (w *clusterSpace) run() {
	defer close(w.done)
	t := time.NewTicker(clusterSpaceEvery)
	defer t.Stop()
	for {
		w.sample()
		select {
		case <-w.stop:
			return
		case <-t.C:
		}
	}
}

// sample reads the member's sizes once. A failed read (a member down in a
// fault test, say) is skipped: the figures are the largest seen.
func (w *clusterSpace) sample() {
	st, err := w.stats()
	if err != nil {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.maxDB = max(w.maxDB, st.Engine.DiskBytes)
	w.inUse = st.Engine.Extra["db_size_in_use_bytes"]
}
