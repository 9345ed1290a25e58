package main

import (
	"os"
	"runtime/debug"

	"github.com/polykv/polykv/kv"
)

// applyMemoryLimit sets the process's soft memory limit to
// kv.SuggestedMemoryLimit(cfg) unless the user set GOMEMLIMIT (which
// always wins) or there is no suggestion (the memory backend). Every
// command that opens a store calls it first; it returns the limit set, or
// 0. The library never does this: the limit belongs to the program.
func applyMemoryLimit(cfg kv.Config) int64 {
	limit := memoryLimitFor(cfg, os.LookupEnv)
	if limit > 0 {
		debug.SetMemoryLimit(limit)
	}
	return limit
}

// memoryLimitFor is the limit applyMemoryLimit sets, given how to look up
// the environment.
func memoryLimitFor(cfg kv.Config, lookupEnv func(string) (string, bool)) int64 {
	if _, set := lookupEnv("GOMEMLIMIT"); set {
		return 0
	}
	return kv.SuggestedMemoryLimit(cfg)
}
