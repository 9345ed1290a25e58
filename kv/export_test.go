package kv

// WritersWaiting is how many writers wait for db's writer lock.
func WritersWaiting(db *DB) int32 { return db.writersWaiting.Load() }

// PhysicalMemory is physicalMemory, for the tests of the budget check.
func PhysicalMemory() int64 { return physicalMemory() }
