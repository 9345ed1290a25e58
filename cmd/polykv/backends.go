package main

// The backends this build links. (backends/all will replace this list.)
import (
	_ "github.com/polykv/polykv/backends/bbolt"
	_ "github.com/polykv/polykv/backends/memory"
)
