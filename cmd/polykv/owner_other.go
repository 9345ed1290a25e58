//go:build !unix

package main

import "io/fs"

// ownerOf: no owner to keep here.
func ownerOf(fs.FileInfo) (uid, gid int, ok bool) { return 0, 0, false }
