package kv

import (
	"sync"
)

var (
	driversMu sync.RWMutex
	drivers   = map[string]Driver{}
)

// Register makes a backend available to Open under name. It is meant to be
// called from a backend package's init, and panics (a programmer error) if
// name is empty or "auto", d is nil, or name is registered twice.
func Register(name string, d Driver) {
	driversMu.Lock()
	defer driversMu.Unlock()
	if name == "" || name == AutoBackend {
		panic("kv: Register with invalid backend name " + `"` + name + `"`)
	}
	if d == nil {
		panic("kv: Register of nil driver for " + name)
	}
	if _, dup := drivers[name]; dup {
		panic("kv: Register called twice for backend " + name)
	}
	drivers[name] = d
}

// Backends returns the names of the registered backends, sorted.
func Backends() []string {
	driversMu.RLock()
	defer driversMu.RUnlock()
	names := make([]string, 0, len(drivers))
	for n := range drivers {
		names = append(names, n)
	}
	return knownList(names)
}

func lookupDriver(name string) (Driver, bool) {
	driversMu.RLock()
	defer driversMu.RUnlock()
	d, ok := drivers[name]
	return d, ok
}
