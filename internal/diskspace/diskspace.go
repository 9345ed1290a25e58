// Package diskspace tells how much space a file system has left, for the
// backends that refuse writes, or an open, before a full disk would make
// their engine fail in a way it cannot recover from.
package diskspace
